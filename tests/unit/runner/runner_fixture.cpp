#include "tests/unit/runner/runner_fixture.hpp"

#include <signal.h>
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <thread>

#include "daemon/runner/proc_stat.hpp"

namespace inboxd::runner::test {
namespace fs = std::filesystem;

RunnerFixture::RunnerFixture() {
  std::string pattern = (fs::temp_directory_path() / "inboxd-runner-XXXXXX").string();
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  dir_ = fs::canonical(pattern);
  REQUIRE(uv_loop_init(&loop_) == 0);
  REQUIRE(uv_timer_init(&loop_, tick_.get()) == 0);
  runner_ = std::make_unique<Runner>(&loop_);
}

RunnerFixture::~RunnerFixture() {
  runner_.reset();
  tick_.close();
  uv_run(&loop_, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop_) == 0);
  for (pid_t pid : strays_) ::kill(pid, SIGKILL);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

HandlerSpec RunnerFixture::spec(std::vector<std::string> argv) const {
  HandlerSpec s;
  s.argv = std::move(argv);
  s.env = {"PATH=/usr/bin:/bin"};
  s.cwd = dir_;
  s.timeout = Millis(20000);
  s.kill_grace = Millis(2000);
  return s;
}

HandlerSpec RunnerFixture::shell(const std::string& script) const {
  return spec({"/bin/sh", "-c", script});
}

RunId RunnerFixture::start(const HandlerSpec& spec) {
  auto slot = std::make_shared<RunId>(0);
  auto id = runner_->start(
      spec, [this, slot](HandlerResult result) { results_.emplace(*slot, std::move(result)); });
  REQUIRE(id.has_value());
  *slot = *id;
  return *id;
}

HandlerResult RunnerFixture::wait(RunId id, Millis limit) {
  REQUIRE(run_loop_until([&] { return has_result(id); }, limit));
  auto result = std::move(results_.at(id));
  results_.erase(id);
  return result;
}

bool RunnerFixture::run_loop_until(const std::function<bool()>& done, Millis limit) {
  auto deadline = mono_now() + limit;
  uv_timer_start(
      tick_.get(), [](uv_timer_t*) {}, 10, 10);
  while (!done() && mono_now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
  uv_timer_stop(tick_.get());
  return done();
}

pid_t RunnerFixture::session_leader(RunId id) {
  auto pid = runner_->pid(id);
  REQUIRE(pid);
  auto leads = [&] {
    auto stat = read_proc_stat(*pid);
    return stat && stat->session == *pid;
  };
  REQUIRE(run_loop_until(leads, Millis(5000)));
  return *pid;
}

pid_t RunnerFixture::wait_for_pid_file(const std::string& name) {
  auto complete = [&] {
    auto text = read_file(name);
    return !text.empty() && text.back() == '\n';
  };
  REQUIRE(run_loop_until(complete));
  return static_cast<pid_t>(std::stol(read_file(name)));
}

std::string RunnerFixture::read_file(const std::string& name) const {
  std::ifstream in(dir_ / name, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void RunnerFixture::write_file(const std::string& name, const std::string& bytes) const {
  std::ofstream out(dir_ / name, std::ios::binary);
  out << bytes;
  REQUIRE(out.good());
}

bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
  auto stat = read_proc_stat(pid);
  return !stat || stat->state == 'Z' || stat->state == 'X';
}

bool wait_until_gone(pid_t pid, Millis limit) {
  auto deadline = mono_now() + limit;
  while (!process_gone(pid)) {
    if (mono_now() >= deadline) return false;
    std::this_thread::sleep_for(Millis(5));
  }
  return true;
}

std::string last_bytes(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

}  // namespace inboxd::runner::test
