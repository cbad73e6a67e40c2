// runner_bench: how many handlers per second the runner starts and finishes.
// Not run by ctest; build it optimised and run it by hand:
//
//   runner_bench [HANDLERS] [IN_FLIGHT] [PROGRAM]
//
// Starts HANDLERS (default 2000) runs of PROGRAM (default /bin/true) through
// Runner, keeping IN_FLIGHT (default 2) running at a time: each done callback
// starts the next one, as the daemon does. Every handler gets the same kind of
// spec the daemon builds (its own cwd, an explicit environment, a timeout), so
// the timers and pipes are part of the cost. Compare with bench/spawn_limit.c
// (plain posix_spawn + waitpid) given the same number of paths on stdin.
//
// Prints one line: handlers, in_flight, seconds, handlers_per_s, failed, and
// the CPU time of this process (the daemon's share) and of its reaped
// children in milliseconds.

#include <stdlib.h>
#include <sys/resource.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "daemon/runner/handler_process.hpp"

namespace {

using inboxd::Millis;
using inboxd::runner::HandlerResult;
using inboxd::runner::HandlerSpec;
using inboxd::runner::Runner;
using Clock = std::chrono::steady_clock;

long long cpu_ms(int who) {
  struct rusage ru {};
  ::getrusage(who, &ru);
  return (static_cast<long long>(ru.ru_utime.tv_sec) + ru.ru_stime.tv_sec) * 1000 +
         (static_cast<long long>(ru.ru_utime.tv_usec) + ru.ru_stime.tv_usec) / 1000;
}

// Keeps `in_flight` handlers running until `total` have been started.
class Bench {
 public:
  Bench(uv_loop_t* loop, HandlerSpec spec, long total)
      : runner_(loop), spec_(std::move(spec)), total_(total) {}

  void start_next() {
    if (started_ >= total_) return;
    ++started_;
    auto id = runner_.start(spec_, [this](HandlerResult result) {
      ++finished_;
      if (result.exit_code != 0) ++failed_;
      start_next();
    });
    if (!id) {
      fmt::print(stderr, "runner_bench: {}\n", id.error().message);
      ++failed_;
      ++finished_;
    }
  }

  long finished() const { return finished_; }
  long failed() const { return failed_; }

 private:
  Runner runner_;
  HandlerSpec spec_;
  long total_;
  long started_ = 0;
  long finished_ = 0;
  long failed_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  long total = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 2000;
  long in_flight = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 2;
  std::string program = argc > 3 ? argv[3] : "/bin/true";
  if (total < 1 || in_flight < 1) {
    fmt::print(stderr, "usage: runner_bench [HANDLERS] [IN_FLIGHT] [PROGRAM]\n");
    return 64;
  }
  namespace fs = std::filesystem;
  std::string pattern = (fs::temp_directory_path() / "inboxd-runner-bench-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    fmt::print(stderr, "runner_bench: mkdtemp {}: failed\n", pattern);
    return 1;
  }
  HandlerSpec spec;
  spec.argv = {program};
  spec.env = {"PATH=/usr/bin:/bin", "INBOXD_JOB=1"};
  spec.cwd = pattern;
  spec.timeout = Millis(60000);
  spec.kill_grace = Millis(1000);

  uv_loop_t loop{};
  uv_loop_init(&loop);
  long finished = 0;
  long failed = 0;
  auto begin = Clock::now();
  {
    Bench bench(&loop, spec, total);
    for (long n = 0; n < in_flight; ++n) bench.start_next();
    uv_run(&loop, UV_RUN_DEFAULT);
    finished = bench.finished();
    failed = bench.failed();
  }
  double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  uv_run(&loop, UV_RUN_DEFAULT);  // the close callbacks of the last handles
  int leaked = uv_loop_close(&loop);
  std::error_code ec;
  fs::remove_all(pattern, ec);
  fmt::print(
      "runner_bench: handlers={} in_flight={} seconds={:.3f} handlers_per_s={:.0f} failed={} "
      "self_ms={} children_ms={}\n",
      finished, in_flight, seconds, static_cast<double>(finished) / seconds, failed,
      cpu_ms(RUSAGE_SELF), cpu_ms(RUSAGE_CHILDREN));
  return failed == 0 && leaked == 0 ? 0 : 1;
}
