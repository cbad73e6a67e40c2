#pragma once
// RunnerFixture: a real libuv loop, a Runner on it and a fresh temporary
// directory (the handlers' cwd), with verbs to start handlers and wait for
// their results on deadlines. Its destructor destroys the runner, runs the loop
// until every handle is freed and checks uv_loop_close() == 0.

#include <sys/types.h>
#include <uv.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/uv_handle.hpp"
#include "daemon/runner/handler_process.hpp"

namespace inboxd::runner::test {

class RunnerFixture {
 public:
  RunnerFixture();
  ~RunnerFixture();
  RunnerFixture(const RunnerFixture&) = delete;
  RunnerFixture& operator=(const RunnerFixture&) = delete;

  // A spec with cwd = dir(), env = {PATH}, a 20s timeout and a 2s kill grace.
  HandlerSpec spec(std::vector<std::string> argv) const;
  // spec() for `/bin/sh -c script`.
  HandlerSpec shell(const std::string& script) const;

  RunId start(const HandlerSpec& spec);
  HandlerResult wait(RunId id, Millis limit = Millis(15000));
  HandlerResult run(const HandlerSpec& spec) { return wait(start(spec)); }
  bool has_result(RunId id) const { return results_.count(id) != 0; }

  // Runs the loop until done() or the limit; returns done().
  bool run_loop_until(const std::function<bool()>& done, Millis limit = Millis(15000));
  // The handler's pid once it leads its own session: the child runs
  // alongside the spawn, so right after start() it may not have got there.
  pid_t session_leader(RunId id);
  // Waits (running the loop) until a handler has written a pid line to `name`.
  pid_t wait_for_pid_file(const std::string& name);

  Runner& runner() { return *runner_; }
  void destroy_runner() { runner_.reset(); }
  const std::filesystem::path& dir() const { return dir_; }
  std::string read_file(const std::string& name) const;
  void write_file(const std::string& name, const std::string& bytes) const;
  // Processes that left the handler's group: killed when the test ends.
  void kill_at_end(pid_t pid) { strays_.push_back(pid); }

 private:
  std::filesystem::path dir_;
  uv_loop_t loop_{};
  std::unique_ptr<Runner> runner_;
  UvHandle<uv_timer_t> tick_;  // wakes UV_RUN_ONCE so deadlines are checked
  std::map<RunId, HandlerResult> results_;
  std::vector<pid_t> strays_;
};

// True once `pid` no longer runs: it does not exist, or it is a zombie. An
// orphan is reaped by init, and some container inits never reap, so a zombie
// reparented there counts as gone: it holds nothing and runs nothing.
bool process_gone(pid_t pid);
// Polls process_gone() until the limit.
bool wait_until_gone(pid_t pid, Millis limit = Millis(5000));

// The last `n` bytes of `text`.
std::string last_bytes(const std::string& text, std::size_t n);

}  // namespace inboxd::runner::test
