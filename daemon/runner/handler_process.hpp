#pragma once
// runner: runs one handler attempt as a subprocess.
//
// The handler is spawned without a shell (argv as given), detached into its own
// session and process group (pgid == pid), with stdin /dev/null, cwd = the
// attempt's work directory, exactly the environment given, and no fds other
// than 0-2 (every daemon fd is O_CLOEXEC). The last `tail_bytes` of stdout and
// of stderr are kept in fixed-size ring buffers: memory does not grow with
// output size.
//
// Timeout: SIGTERM to the whole group, SIGKILL `kill_grace` later. When the
// handler exits by itself, whatever it left running in its group gets SIGTERM,
// then SIGKILL after kill_grace: a finished attempt leaves nothing behind.
//
// Ownership: Runner owns every HandlerProcess it starts and frees each one only
// after all of its libuv handles are closed. The done callback runs exactly
// once per successfully started process, on the loop thread, after the process
// has exited, its output pipes are drained and its group is empty or SIGKILLed.
// Threading: loop thread only.

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"

namespace inboxd::runner {

struct HandlerSpec {
  std::vector<std::string> argv;      // argv[0] is an absolute path
  std::vector<std::string> env;       // "KEY=value", the complete environment
  std::filesystem::path cwd;          // must exist
  Millis timeout{0};                  // 0 = none
  Millis kill_grace{10000};
  std::size_t tail_bytes = 64 * 1024;
};

struct HandlerResult {
  std::optional<int> exit_code;       // nullopt when killed by a signal
  std::optional<int> signal;          // signal number that ended it
  bool timed_out = false;
  bool stopped = false;               // ended by stop() (cancel or shutdown)
  std::string stdout_tail;
  std::string stderr_tail;
  Millis duration{0};
  pid_t pid = 0;
};

// "SIGKILL" for 9; "SIG<n>" for unknown numbers.
std::string signal_name(int signal);

using RunId = std::uint64_t;

class Runner {
 public:
  explicit Runner(uv_loop_t* loop);
  ~Runner();  // stops (SIGKILL) anything still running; the loop must run once more to free handles
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Starts a handler. On failure (e.g. the executable is missing) nothing is
  // running and no callback will come.
  Result<RunId> start(const HandlerSpec& spec, std::function<void(HandlerResult)> on_done);

  // Stops a running handler: SIGTERM to its group now, SIGKILL after grace.
  // Its result has stopped=true. Unknown ids are ignored.
  void stop(RunId id, Millis grace);
  // stop() for every running handler.
  void stop_all(Millis grace);

  std::size_t running() const;
  std::optional<pid_t> pid(RunId id) const;

 private:
  class Process;
  uv_loop_t* loop_;
  RunId next_id_ = 1;
  std::map<RunId, std::unique_ptr<Process>> processes_;
  friend class Process;
};

// Start time of a process (field 22 of /proc/<pid>/stat), or nullopt when no
// such process exists. Together with the pid it identifies a process safely
// across pid reuse.
std::optional<std::uint64_t> process_start_time(pid_t pid);

}  // namespace inboxd::runner
