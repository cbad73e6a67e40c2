#pragma once
// runner: runs one handler attempt as a subprocess.
//
// The handler is spawned without a shell (argv as given), detached into its own
// session and process group (pgid == pid), with stdin /dev/null, cwd = the
// attempt's work directory, exactly the environment given, an empty signal
// mask, every signal at its default action (the daemon ignores SIGPIPE; glibc's
// posix_spawn would leave its two internal signals, 32 and 33, ignored), and
// no fds other than 0-2. The last `tail_bytes` of stdout and of stderr are
// kept in fixed-size ring buffers: memory does not grow with output size.
//
// Mechanism: spawn_process (spawn.hpp), clone(CLONE_VM) on a stack of the
// process's own, so starting a handler never copies the daemon's page tables
// (fork() would, and its cost grows with the daemon's address space, hugely
// so under ASan), maps nothing, and does not wait for the child's execve. The
// child sets up stdio and cwd and closes every fd from 3 up before execve; a
// step that fails there shows as the result's start_error. stdout and stderr
// are pipes whose read ends the runner reads. The exit is watched through a
// pidfd and reaped with waitid(P_PIDFD) (Linux 5.3); the pidfds and the read
// ends of every handler share one epoll set that one uv_poll watches. Where
// pidfd_open is missing (older kernels, valgrind) the Runner watches SIGCHLD
// instead (uv_signal) and asks each of its handlers with waitpid(WNOHANG); it
// never reaps a pid it did not start. Nothing here uses libuv's process handles.
//
// Timeout: SIGTERM to the whole group, SIGKILL `kill_grace` later. When the
// handler exits by itself, whatever it left running in its group gets SIGTERM,
// then SIGKILL after kill_grace: a finished attempt leaves nothing behind.
//
// Output pipes are read until the attempt ends, never until EOF alone: once the
// handler has exited and its group is empty (zombies aside) or SIGKILLed, what
// is still readable is drained and the pipes are closed, so a process that
// escaped the group (setsid) while holding stdout cannot hang the runner.
//
// Ownership: Runner owns every process it starts; a process's fds leave the
// epoll set when it closes them, and its timers free in the loop after it.
// The done callback runs exactly
// once per successfully started process, on the loop thread, after the process
// has exited, its output pipes are drained and its group is empty or SIGKILLed.
// The callback may start or stop other handlers; it must not destroy the Runner.
// Threading: loop thread only.
//
// fds the daemon inherited without O_CLOEXEC never reach a handler: the spawn
// closes every fd from 3 up in the child, and main() also marks them
// close-on-exec at start-up (mark_inherited_fds_cloexec, inherited_fds.hpp).

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
#include "common/unique_fd.hpp"
#include "common/uv_handle.hpp"

namespace inboxd::runner {

struct HandlerSpec {
  std::vector<std::string> argv;  // argv[0] is an absolute path
  std::vector<std::string> env;   // "KEY=value", the complete environment
  std::filesystem::path cwd;      // must exist; empty = the daemon's own cwd
  Millis timeout{0};              // 0 = none
  Millis kill_grace{10000};
  std::size_t tail_bytes = 64 * 1024;
};

struct HandlerResult {
  std::optional<int> exit_code;  // nullopt when killed by a signal
  std::optional<int> signal;     // signal number that ended it
  bool timed_out = false;
  bool stopped = false;  // stop() came before the handler exited (cancel or shutdown)
  std::string stdout_tail;
  std::string stderr_tail;
  Millis duration{0};  // monotonic, from spawn until the handler itself exited
  pid_t pid = 0;
  // The child could not become the handler: a step before or at execve
  // failed ("spawn /usr/bin/x: No such file or directory"); it exited 127.
  std::optional<Error> start_error;
};

// "SIGKILL" for 9; "SIG<n>" for unknown numbers.
std::string signal_name(int signal);

using RunId = std::uint64_t;

class Runner {
 public:
  explicit Runner(uv_loop_t* loop);
  // SIGKILLs every group still running and reaps its handler (waiting briefly),
  // without calling their done callbacks; the loop must run once more so the
  // close callbacks free the handles.
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Starts a handler. On failure (no pipe, no process) nothing is running
  // and no callback will come. A handler that cannot be executed (missing,
  // not executable, its cwd gone) is started and its callback reports
  // start_error ("spawn /usr/bin/x: No such file or directory").
  Result<RunId> start(HandlerSpec spec, std::function<void(HandlerResult)> on_done);

  // Stops a running handler: SIGTERM to its group now, SIGKILL after grace.
  // Its result has stopped=true. Unknown ids are ignored. A handler that has
  // already exited by itself keeps its own status; only the cleanup of what it
  // left in its group is hurried (the shorter grace wins).
  void stop(RunId id, Millis grace);
  // stop() for every running handler.
  void stop_all(Millis grace);

  // Handlers whose done callback has not come yet.
  std::size_t running() const;
  // The handler's pid, which is also its process group id.
  std::optional<pid_t> pid(RunId id) const;
  // Its start time for kill_orphaned_group, taken around the spawn
  // (spawned_start_time).
  std::optional<std::uint64_t> start_time(RunId id) const;

 private:
  class Process;
  // Removes a finished process (closing its handles), then calls its callback.
  void complete(RunId id, HandlerResult result);
  // Without pidfds: some child exited; each handler checks whether it was it.
  void on_child_exit();
  // Something in epoll_ is ready: dispatches to the processes by RunId.
  void on_events();
  // events_ keeps the loop alive exactly while a handler runs.
  void hold_loop();

  uv_loop_t* loop_;
  // Every running handler's pidfd and output pipes, each tagged with its
  // RunId, in one epoll set that one uv_poll watches: adding an fd costs one
  // epoll_ctl and closing it removes it (once no child spawned meanwhile
  // holds a copy), where a libuv handle per fd cost three to four
  // epoll_ctls and an ioctl. Declared before events_, so that the poll is
  // closed before the fd.
  UniqueFd epoll_;
  Error epoll_error_;  // why epoll_ is missing: every start fails with it
  UvHandle<uv_poll_t> events_;
  UvHandle<uv_signal_t> sigchld_;  // started only when pidfd_open is missing
  RunId next_id_ = 1;
  std::map<RunId, std::unique_ptr<Process>> processes_;
  // One read buffer shared by every output pipe: each read is consumed into
  // its ring buffer before the next one starts (loop thread only).
  std::vector<char> read_buffer_;
  friend class Process;
};

}  // namespace inboxd::runner
