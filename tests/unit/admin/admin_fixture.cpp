#include "tests/unit/admin/admin_fixture.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "common/log.hpp"

namespace inboxd::admin::test {
namespace {

sockaddr_un address_of(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path.native().size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, path.c_str(), path.native().size() + 1);
  return addr;
}

UniqueFd bound_socket(const std::filesystem::path& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.valid());
  auto addr = address_of(path);
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

// Appends what the non-blocking fd has now.
void drain(int fd, std::string* into) {
  char chunk[4096];
  ssize_t n = 0;
  while ((n = ::read(fd, chunk, sizeof chunk)) > 0)
    into->append(chunk, static_cast<std::size_t>(n));
}

}  // namespace

// --- Client -------------------------------------------------------------------

void Client::send_raw(const std::string& bytes) {
  std::size_t sent = 0;
  auto deadline = mono_now() + 5s;
  while (sent < bytes.size() && mono_now() < deadline) {
    auto n =
        ::send(fd_.get(), bytes.data() + sent, bytes.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      break;  // the server closed; the test's reads will tell
    } else {
      fixture_->pump();
    }
  }
  fixture_->pump();
}

void Client::shutdown_write() {
  REQUIRE(::shutdown(fd_.get(), SHUT_WR) == 0);
  fixture_->pump();
}

bool Client::fill() {
  char chunk[16384];
  while (true) {
    auto n = ::recv(fd_.get(), chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    eof_ = true;  // 0: end of stream; ECONNRESET: closed with our data unread
    return false;
  }
}

std::optional<std::string> Client::read_line(Millis limit) {
  std::optional<std::string> line;
  fixture_->run_until(
      [&] {
        fill();
        auto newline = buffer_.find('\n');
        if (newline == std::string::npos) return eof_;
        line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return true;
      },
      limit);
  return line;
}

nlohmann::json Client::request(const nlohmann::json& request) {
  send(request);
  auto line = read_line();
  if (!line) return nlohmann::json::object();
  return nlohmann::json::parse(*line);
}

bool Client::closed_by_server(Millis limit) {
  return fixture_->run_until(
      [&] {
        fill();
        buffer_.clear();
        return eof_;
      },
      limit);
}

// --- AdminFixture -------------------------------------------------------------

AdminFixture::AdminFixture() {
  char pattern[] = "/tmp/inboxd-admin-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  dir_ = pattern;
  REQUIRE(uv_loop_init(&loop_) == 0);
  log_sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_lines_);
  log_sink_->set_pattern("%v");
  log::get("admin")->sinks().push_back(log_sink_);
}

AdminFixture::~AdminFixture() {
  stop_server();
  auto& sinks = log::get("admin")->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), log_sink_), sinks.end());
  uv_run(&loop_, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop_) == 0);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

AdminServer::Options AdminFixture::options() const {
  AdminServer::Options options;
  options.path = socket_path();
  return options;
}

AdminServer& AdminFixture::start(AdminServer::Options options) {
  AdminServer::Failure failure{};
  auto started = try_start(std::move(options), &failure);
  if (!started) FAIL("admin server did not start: " << started.error().message);
  return *server_;
}

Result<void> AdminFixture::try_start(AdminServer::Options options, AdminServer::Failure* failure) {
  auto server = AdminServer::start(&loop_, backend_, std::move(options), failure);
  if (!server) return fail(server.error());
  server_ = std::move(*server);
  return {};
}

void AdminFixture::stop_server() {
  if (server_) server_->close();
  server_.reset();
}

Client AdminFixture::connect() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.valid());
  auto addr = address_of(socket_path());
  REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  pump();
  return Client(*this, std::move(fd));
}

Client AdminFixture::connect_as(uid_t uid, gid_t gid) {
  REQUIRE(::geteuid() == 0);
  REQUIRE(::chmod(dir_.c_str(), 0755) == 0);  // mkdtemp made it 0700
  REQUIRE(::setegid(gid) == 0);
  REQUIRE(::seteuid(uid) == 0);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto addr = address_of(socket_path());
  int rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  REQUIRE(::seteuid(0) == 0);
  REQUIRE(::setegid(0) == 0);
  INFO("connect as uid " << uid << ": " << std::strerror(err));
  REQUIRE(rc == 0);
  pump();
  return Client(*this, std::move(fd));
}

CtlRun AdminFixture::inboxctl_while(const std::vector<std::string>& args,
                                    const std::function<void(pid_t, const CtlRun&)>& tick,
                                    Millis limit) {
  int out[2], err[2];
  REQUIRE(::pipe2(out, O_CLOEXEC | O_NONBLOCK) == 0);
  REQUIRE(::pipe2(err, O_CLOEXEC | O_NONBLOCK) == 0);
  UniqueFd out_read(out[0]), out_write(out[1]), err_read(err[0]), err_write(err[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::string binary = std::string(INBOXD_BIN_DIR) + "/inboxctl";
  std::vector<std::string> words = {binary, "--socket", socket_path().string()};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&actions);
  REQUIRE(rc == 0);
  out_write.reset();
  err_write.reset();
  CtlRun run;
  int status = 0;
  bool exited = run_until(
      [&] {
        drain(out_read.get(), &run.out);
        drain(err_read.get(), &run.err);
        if (::waitpid(pid, &status, WNOHANG) == pid) return true;
        if (tick) tick(pid, run);
        return false;
      },
      limit);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  drain(out_read.get(), &run.out);
  drain(err_read.get(), &run.err);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

void AdminFixture::pump(Millis slice) {
  uv_run(&loop_, UV_RUN_NOWAIT);
  pollfd backend{uv_backend_fd(&loop_), POLLIN, 0};
  ::poll(&backend, 1, static_cast<int>(slice.count()));
  uv_run(&loop_, UV_RUN_NOWAIT);
}

bool AdminFixture::run_until(const std::function<bool()>& done, Millis limit) {
  auto deadline = mono_now() + limit;
  while (!done()) {
    if (mono_now() >= deadline) return done();
    pump();
  }
  return true;
}

void make_stale_socket(const std::filesystem::path& path) { bound_socket(path); }

UniqueFd make_live_socket(const std::filesystem::path& path) {
  auto fd = bound_socket(path);
  REQUIRE(::listen(fd.get(), 4) == 0);
  return fd;
}

}  // namespace inboxd::admin::test
