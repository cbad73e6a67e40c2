#include "daemon/runner/handler_process.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "daemon/runner/inherited_fds.hpp"
#include "daemon/runner/proc_stat.hpp"
#include "tests/unit/runner/runner_fixture.hpp"

namespace inboxd::runner::test {
namespace {

namespace fs = std::filesystem;
using std::chrono::duration_cast;

std::string join_nul_terminated(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += item;
    out += '\0';
  }
  return out;
}

std::string random_bytes(std::size_t n) {
  std::mt19937 gen(42);
  std::uniform_int_distribution<int> byte(0, 255);
  std::string out(n, '\0');
  for (auto& c : out) c = static_cast<char>(byte(gen));
  return out;
}

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

Millis since(MonoTime start) { return duration_cast<Millis>(mono_now() - start); }

// True when this process has no child at all, running or waiting to be reaped.
bool no_children() {
  int status = 0;
  return ::waitpid(-1, &status, WNOHANG) < 0 && errno == ECHILD;
}

struct SignalMasks {
  std::uint64_t blocked = ~0ULL;
  std::uint64_t ignored = ~0ULL;
};

// The SigBlk and SigIgn lines of /proc/<pid>/status (bit n-1 is signal n).
SignalMasks proc_status_masks(const std::string& lines) {
  SignalMasks masks;
  std::istringstream in(lines);
  std::string key;
  std::string hex;
  while (in >> key >> hex) {
    auto value = std::stoull(hex, nullptr, 16);
    if (key == "SigBlk:") masks.blocked = value;
    if (key == "SigIgn:") masks.ignored = value;
  }
  return masks;
}

// Sets a signal to SIG_IGN, as the daemon does with SIGPIPE, until destroyed.
class IgnoredSignal {
 public:
  explicit IgnoredSignal(int sig) : sig_(sig) {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    REQUIRE(::sigaction(sig_, &ignore, &saved_) == 0);
  }
  ~IgnoredSignal() { ::sigaction(sig_, &saved_, nullptr); }
  IgnoredSignal(const IgnoredSignal&) = delete;
  IgnoredSignal& operator=(const IgnoredSignal&) = delete;

 private:
  int sig_;
  struct sigaction saved_ {};
};

// Blocks a signal in the calling thread until destroyed.
class BlockedSignal {
 public:
  explicit BlockedSignal(int sig) {
    sigset_t set;
    ::sigemptyset(&set);
    ::sigaddset(&set, sig);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &set, &saved_) == 0);
  }
  ~BlockedSignal() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }
  BlockedSignal(const BlockedSignal&) = delete;
  BlockedSignal& operator=(const BlockedSignal&) = delete;

 private:
  sigset_t saved_{};
};

// Closes this process's fds 0, 1 and 2 until destroyed, as when the daemon is
// started with its standard fds closed; nothing may print meanwhile.
class ClosedStdio {
 public:
  ClosedStdio() {
    for (int fd = 0; fd < 3; ++fd) {
      auto& saved = saved_.at(static_cast<std::size_t>(fd));
      saved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
      REQUIRE(saved >= 3);
      ::close(fd);
    }
  }
  ~ClosedStdio() {
    for (int fd = 0; fd < 3; ++fd) {
      int saved = saved_.at(static_cast<std::size_t>(fd));
      ::dup2(saved, fd);
      ::close(saved);
    }
  }
  ClosedStdio(const ClosedStdio&) = delete;
  ClosedStdio& operator=(const ClosedStdio&) = delete;

 private:
  std::array<int, 3> saved_ = {-1, -1, -1};
};

}  // namespace

TEST_CASE_METHOD(RunnerFixture, "a handler that exits 0 reports exit code 0 and no signal",
                 "[runner]") {
  auto result = run(shell("exit 0"));
  CHECK(result.exit_code == 0);
  CHECK_FALSE(result.signal);
  CHECK_FALSE(result.timed_out);
  CHECK_FALSE(result.stopped);
  CHECK(result.pid > 0);
  CHECK(runner().running() == 0);
}

TEST_CASE_METHOD(RunnerFixture, "a non-zero exit code is reported as it is", "[runner]") {
  auto result = run(shell("exit 3"));
  CHECK(result.exit_code == 3);
  CHECK_FALSE(result.signal);
}

TEST_CASE_METHOD(RunnerFixture, "a handler killed by a signal has a signal and no exit code",
                 "[runner]") {
  auto result = run(shell("kill -KILL $$"));
  CHECK_FALSE(result.exit_code);
  REQUIRE(result.signal);
  CHECK(signal_name(*result.signal) == "SIGKILL");
}

TEST_CASE("signal names carry the SIG prefix and unknown numbers are spelled out", "[runner]") {
  CHECK(signal_name(SIGKILL) == "SIGKILL");
  CHECK(signal_name(SIGTERM) == "SIGTERM");
  CHECK(signal_name(SIGSEGV) == "SIGSEGV");
  CHECK(signal_name(200) == "SIG200");
}

TEST_CASE_METHOD(RunnerFixture, "the duration runs from spawn to the handler's exit", "[runner]") {
  auto result = run(shell("sleep 0.2"));
  CHECK(result.duration >= Millis(190));
  CHECK(result.duration < Millis(10000));
}

TEST_CASE_METHOD(RunnerFixture, "stdout and stderr are kept apart and small output exactly",
                 "[runner]") {
  auto result = run(shell("printf 'out\\n'; printf 'err\\n' >&2; printf 'more'"));
  CHECK(result.stdout_tail == "out\nmore");
  CHECK(result.stderr_tail == "err\n");
}

TEST_CASE_METHOD(RunnerFixture, "a megabyte of output keeps exactly the last tail_bytes",
                 "[runner]") {
  auto big = random_bytes(1024 * 1024);
  write_file("big.bin", big);
  auto s = shell("cat big.bin; cat big.bin >&2");
  s.tail_bytes = 4096;
  auto result = run(s);
  CHECK(result.stdout_tail == last_bytes(big, 4096));
  CHECK(result.stderr_tail == last_bytes(big, 4096));
  s.tail_bytes = 64 * 1024;
  result = run(s);
  CHECK(result.stdout_tail == last_bytes(big, 64 * 1024));
}

TEST_CASE_METHOD(RunnerFixture, "fifty megabytes of output do not grow memory", "[runner]") {
  auto zeros = spec({"/usr/bin/head", "-c", "52428800", "/dev/zero"});
  run(spec({"/usr/bin/head", "-c", "1048576", "/dev/zero"}));  // warm up every allocation
  long before = rss_kib();
  auto result = run(zeros);
  long grown = rss_kib() - before;
  CHECK(result.exit_code == 0);
  CHECK(result.stdout_tail == std::string(64 * 1024, '\0'));
  // Fixed per-attempt buffers only; the bound leaves room for ASan's quarantine,
  // which keeps freed blocks resident.
  CHECK(grown < 1024);
}

TEST_CASE_METHOD(RunnerFixture, "argv elements arrive byte for byte and nothing in them runs",
                 "[runner]") {
  std::vector<std::string> args = {"with space",
                                   "it's \"quoted\"",
                                   "line\nbreak",
                                   "-n",
                                   "--help",
                                   "$(touch executed)",
                                   "`touch executed`",
                                   "; touch executed",
                                   "*",
                                   "",
                                   "\xff\xfe\x80 not utf-8",
                                   "tab\there"};
  std::vector<std::string> argv = {INBOXD_SOURCE_DIR "/tests/fixtures/runner/write_argv"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto result = run(spec(argv));
  CHECK(result.exit_code == 0);
  CHECK(read_file("argv.bin") == join_nul_terminated(args));
  CHECK_FALSE(fs::exists(dir() / "executed"));
}

TEST_CASE_METHOD(RunnerFixture, "the environment is exactly the one given", "[runner]") {
  std::vector<std::string> env = {"A=1", "WITH_SPACE=a b", "EMPTY=", "ACCENT=\xc3\xa9",
                                  "INBOXD_JOB=42"};
  auto s = spec({"/usr/bin/env", "-0"});
  s.env = env;
  CHECK(run(s).stdout_tail == join_nul_terminated(env));
  s.env.clear();
  CHECK(run(s).stdout_tail.empty());
}

TEST_CASE_METHOD(RunnerFixture, "the handler runs in the given working directory", "[runner]") {
  fs::create_directory(dir() / "work dir");
  auto s = shell("pwd -P");
  s.cwd = dir() / "work dir";
  CHECK(run(s).stdout_tail == (dir() / "work dir").string() + "\n");
}

TEST_CASE_METHOD(RunnerFixture, "stdin is /dev/null and reading it ends at once", "[runner]") {
  auto s = shell("if read line; then echo data; else echo eof; fi; readlink /proc/$$/fd/0");
  s.timeout = Millis(5000);
  auto result = run(s);
  CHECK_FALSE(result.timed_out);
  CHECK(result.stdout_tail == "eof\n/dev/null\n");
}

TEST_CASE_METHOD(RunnerFixture, "a handler sees only fds 0, 1 and 2 once inherited fds are marked",
                 "[runner]") {
  // Deliberately without O_CLOEXEC, like an fd the daemon inherited.
  int inherited = ::open("/dev/null", O_RDONLY);  // NOLINT(android-cloexec-open)
  REQUIRE(inherited >= 3);
  mark_inherited_fds_cloexec();
  auto result = run(shell("ls /proc/$$/fd"));
  ::close(inherited);
  CHECK(result.stdout_tail == "0\n1\n2\n");
}

TEST_CASE_METHOD(RunnerFixture,
                 "a handler sees only fds 0, 1 and 2 even when the daemon holds an fd "
                 "without close-on-exec",
                 "[runner]") {
  // Deliberately without O_CLOEXEC and not marked: only the spawn keeps it out.
  int leaked = ::open("/dev/null", O_RDONLY);  // NOLINT(android-cloexec-open)
  REQUIRE(leaked >= 3);
  REQUIRE((::fcntl(leaked, F_GETFD) & FD_CLOEXEC) == 0);
  auto result = run(shell("ls /proc/$$/fd"));
  ::close(leaked);
  CHECK(result.stdout_tail == "0\n1\n2\n");
}

// Including glibc's own two real-time signals (32 and 33), which its
// posix_spawn leaves ignored across exec.
TEST_CASE_METHOD(RunnerFixture,
                 "signals the daemon ignores or blocks are default and unblocked in the "
                 "handler",
                 "[runner]") {
  IgnoredSignal pipe_ignored(SIGPIPE);
  IgnoredSignal usr2_ignored(SIGUSR2);
  BlockedSignal usr1_blocked(SIGUSR1);
  auto result = run(spec({"/usr/bin/grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"}));
  REQUIRE(result.exit_code == 0);
  auto masks = proc_status_masks(result.stdout_tail);
  CHECK(masks.blocked == 0);
  CHECK(masks.ignored == 0);
}

TEST_CASE_METHOD(RunnerFixture, "the handler leads its own session and process group", "[runner]") {
  auto result = run(spec({"/bin/cat", "/proc/self/stat"}));
  REQUIRE(result.exit_code == 0);
  auto stat = parse_proc_stat(result.stdout_tail);
  REQUIRE(stat);
  CHECK(stat->pgrp == result.pid);
  CHECK(stat->session == result.pid);
}

TEST_CASE_METHOD(RunnerFixture,
                 "a daemon running with fds 0, 1 and 2 closed still gives handlers "
                 "their own stdio",
                 "[runner]") {
  // libuv opens a spare fd of its own with the first stream of a loop and
  // cannot close one below 3 either: let it take that fd while 0-2 are open.
  REQUIRE(run(shell("exit 0")).exit_code == 0);
  auto s = shell("echo out; echo err >&2; readlink /proc/$$/fd/0");
  // libuv leaves a stream on fd 0-2 open when it is closed, so an output pipe
  // kept there would leak: the runner must leave all three closed again.
  auto stdio_closed = [] {
    for (int fd = 0; fd < 3; ++fd) {
      if (::fcntl(fd, F_GETFD) != -1) return false;
    }
    return true;
  };
  HandlerResult result;
  bool released = false;
  {
    ClosedStdio closed;  // the runner's new fds now get the lowest numbers
    result = run(s);
    released = run_loop_until(stdio_closed, Millis(5000));
  }
  CHECK(released);
  CHECK(result.exit_code == 0);
  CHECK(result.stdout_tail == "out\n/dev/null\n");
  CHECK(result.stderr_tail == "err\n");
}

TEST_CASE_METHOD(RunnerFixture, "a timed out handler is killed together with its grandchild",
                 "[runner]") {
  auto s = shell("sleep 300 & echo $! > grandchild.pid; sleep 300");
  s.timeout = Millis(300);
  s.kill_grace = Millis(5000);
  auto result = run(s);
  CHECK(result.timed_out);
  REQUIRE(result.signal);
  CHECK(signal_name(*result.signal) == "SIGTERM");
  CHECK(result.duration < Millis(4000));
  CHECK(wait_until_gone(static_cast<pid_t>(std::stol(read_file("grandchild.pid")))));
}

TEST_CASE_METHOD(RunnerFixture, "a handler that ignores SIGTERM is SIGKILLed after kill_grace",
                 "[runner]") {
  auto s = shell("trap '' TERM; sleep 300");
  s.timeout = Millis(200);
  s.kill_grace = Millis(300);
  auto result = run(s);
  CHECK(result.timed_out);
  REQUIRE(result.signal);
  CHECK(signal_name(*result.signal) == "SIGKILL");
  CHECK(result.duration >= Millis(450));
}

TEST_CASE_METHOD(RunnerFixture, "what a handler leaves running is killed before its result arrives",
                 "[runner]") {
  auto s = shell("sleep 300 & echo $! > leftover.pid; exit 0");
  s.kill_grace = Millis(10000);
  auto started = mono_now();
  auto result = run(s);
  CHECK(result.exit_code == 0);
  CHECK(process_gone(static_cast<pid_t>(std::stol(read_file("leftover.pid")))));
  CHECK(since(started) < Millis(5000));  // SIGTERM sufficed: no wait for the grace
}

TEST_CASE_METHOD(RunnerFixture,
                 "a process that escaped the group holding stdout does not delay the result",
                 "[runner]") {
  auto s = shell(
      "setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' &"
      " while [ ! -s escaped.pid ]; do sleep 0.01; done; echo done");
  auto started = mono_now();
  auto result = run(s);
  auto escaped = static_cast<pid_t>(std::stol(read_file("escaped.pid")));
  kill_at_end(escaped);
  CHECK(result.exit_code == 0);
  CHECK(result.stdout_tail == "done\n");
  CHECK(since(started) < Millis(5000));
  CHECK_FALSE(process_gone(escaped));  // it really held the pipe the whole time
}

TEST_CASE_METHOD(RunnerFixture, "stop ends a running handler and marks its result stopped",
                 "[runner]") {
  auto id = start(shell("echo $$ > handler.pid; exec sleep 300"));
  wait_for_pid_file("handler.pid");
  runner().stop(id, Millis(2000));
  auto result = wait(id);
  CHECK(result.stopped);
  CHECK_FALSE(result.timed_out);
  REQUIRE(result.signal);
  CHECK(signal_name(*result.signal) == "SIGTERM");
}

TEST_CASE_METHOD(RunnerFixture, "stop_all ends every running handler", "[runner]") {
  auto first = start(shell("exec sleep 300"));
  auto second = start(shell("exec sleep 300"));
  runner().stop_all(Millis(2000));
  CHECK(wait(first).stopped);
  CHECK(wait(second).stopped);
}

TEST_CASE_METHOD(RunnerFixture,
                 "a stop after the handler exited keeps its status and hurries the cleanup",
                 "[runner]") {
  auto s = shell("(trap '' TERM; exec sleep 300) & echo $! > leftover.pid; exit 4");
  s.kill_grace = Millis(60000);
  auto id = start(s);
  auto leader = *runner().pid(id);
  REQUIRE(run_loop_until([&] { return ::kill(leader, 0) != 0; }));  // the runner reaped it
  runner().stop(id, Millis(0));
  auto result = wait(id, Millis(5000));
  CHECK(result.exit_code == 4);
  CHECK_FALSE(result.stopped);
  CHECK(wait_until_gone(static_cast<pid_t>(std::stol(read_file("leftover.pid")))));
}

TEST_CASE_METHOD(RunnerFixture, "an exception thrown by a done callback stops at the runner",
                 "[runner]") {
  bool called = false;
  auto id = runner().start(shell("exit 0"), [&](HandlerResult) {
    called = true;
    throw std::runtime_error("callback failed");
  });
  REQUIRE(id);
  REQUIRE(run_loop_until([&] { return called; }));
  CHECK(runner().running() == 0);
  CHECK(run(shell("exit 5")).exit_code == 5);
}

TEST_CASE_METHOD(RunnerFixture, "a missing executable is a start error naming it", "[runner]") {
  auto result = run(spec({"/nonexistent/handler"}));
  REQUIRE(result.start_error);
  CHECK(result.start_error->message == "spawn /nonexistent/handler: No such file or directory");
  CHECK(result.exit_code == 127);
  CHECK(runner().running() == 0);
  CHECK(no_children());
}

TEST_CASE_METHOD(RunnerFixture, "a file without execute permission is a start error", "[runner]") {
  write_file("script", "#!/bin/sh\nexit 0\n");
  ::chmod((dir() / "script").c_str(), 0644);
  auto path = (dir() / "script").string();
  auto result = run(spec({path}));
  REQUIRE(result.start_error);
  CHECK(result.start_error->message == "spawn " + path + ": Permission denied");
  CHECK(runner().running() == 0);
  CHECK(no_children());
}

TEST_CASE_METHOD(RunnerFixture, "a missing working directory is a start error naming it",
                 "[runner]") {
  auto s = spec({"/bin/true"});
  s.cwd = dir() / "missing";
  auto result = run(s);
  REQUIRE(result.start_error);
  CHECK(result.start_error->message ==
        "spawn /bin/true: cwd " + s.cwd.string() + ": No such file or directory");
}

// A handler that exits 127 by itself (a shell's "command not found") ran:
// only a failure before execve is a start error.
TEST_CASE_METHOD(RunnerFixture, "a handler's own exit status 127 is no start error", "[runner]") {
  auto result = run(shell("exit 127"));
  CHECK(result.exit_code == 127);
  CHECK_FALSE(result.start_error);
}

// The child runs alongside the daemon until execve; a stop that comes before
// its setsid must still reach it, and its memory must outlive it.
TEST_CASE_METHOD(RunnerFixture, "a handler stopped right after its start is stopped", "[runner]") {
  for (int i = 0; i < 20; ++i) {
    auto id = start(spec({"/usr/bin/sleep", "300"}));
    runner().stop(id, Millis(2000));
    auto result = wait(id);
    CHECK(result.stopped);
    CHECK(result.signal == SIGTERM);
    CHECK_FALSE(result.start_error);
  }
  CHECK(no_children());
}

TEST_CASE_METHOD(RunnerFixture, "a runner destroyed right after a start leaves no child",
                 "[runner]") {
  for (int i = 0; i < 20; ++i) start(spec({"/usr/bin/sleep", "300"}));
  destroy_runner();
  CHECK(no_children());
}

TEST_CASE_METHOD(RunnerFixture, "several handlers at once each get their own result", "[runner]") {
  std::vector<RunId> ids;
  for (int n = 0; n < 5; ++n) {
    ids.push_back(start(shell(fmt::format("sleep 0.2; echo run-{}; exit {}", n, n + 10))));
  }
  CHECK(runner().running() == 5);
  for (int n = 0; n < 5; ++n) {
    auto result = wait(ids[static_cast<std::size_t>(n)]);
    CHECK(result.exit_code == n + 10);
    CHECK(result.stdout_tail == fmt::format("run-{}\n", n));
  }
}

TEST_CASE_METHOD(RunnerFixture, "destroying the runner kills the handlers still running",
                 "[runner]") {
  start(shell("sleep 300 & echo $! > child.pid; echo $$ > handler.pid; wait"));
  auto handler = wait_for_pid_file("handler.pid");
  auto child = wait_for_pid_file("child.pid");
  destroy_runner();
  CHECK(process_gone(handler));
  CHECK(wait_until_gone(child));
}

}  // namespace inboxd::runner::test
