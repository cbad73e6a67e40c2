#pragma once
// spawn: starts one handler process the way posix_spawn does, without a
// copy of the daemon's page tables (clone(CLONE_VM): the child shares the
// daemon's memory until execve), but without waiting for the child to get
// there. posix_spawn's CLONE_VFORK suspends the calling thread until the
// child has called execve; on a machine where every CPU is busy with
// handlers that took a quarter of a millisecond per handler, most of the
// event loop's time under load.
//
// The child therefore runs alongside the daemon's threads in the same
// memory, so it touches nothing but what SpawnContext holds: its own stack,
// the request, and the slot where it reports a failure. It makes raw system
// calls only (no libc, which would write errno into the spawning thread's
// thread-local storage; no allocation, locks or sanitizer interceptors). In
// order it gets its own session (its pid is its process group), every
// signal at its default action, stdin from /dev/null, stdout and stderr
// from the given fds, the working directory, no other fd (close_range from
// 3), an empty signal mask, and then execve. On architectures without the
// raw system calls here, and under valgrind (which refuses such a clone),
// the spawn keeps CLONE_VFORK.
//
// Until the child has called setsid it is in the daemon's own process
// group: signalling its group then fails with ESRCH, and the child itself
// must be signalled instead. Its signals stay blocked until just before
// execve, so a signal sent meanwhile waits for the default action.
//
// Threads: any thread may spawn; each child has the stack of its context.

#include <sys/types.h>

#include <memory>
#include <optional>

#include "common/result.hpp"

namespace inboxd::runner {

struct SpawnRequest {
  char* const* argv = nullptr;  // argv[0] is the program's path; null-terminated
  char* const* envp = nullptr;  // the complete environment; null-terminated
  int stdout_fd = -1;           // becomes the child's fd 1; must be above 2
  int stderr_fd = -1;           // becomes the child's fd 2; must be above 2
  const char* cwd = nullptr;    // nullptr: the daemon's own
};

// What a child reads and writes until execve. It must stay alive, at the
// same address, with the request and everything it points at unchanged,
// until the child has been reaped (a child SIGKILLed before execve runs no
// further instruction, so it may also go once such a child is dead).
class SpawnContext {
 public:
  explicit SpawnContext(const SpawnRequest& request);
  SpawnContext(const SpawnContext&) = delete;
  SpawnContext& operator=(const SpawnContext&) = delete;

  // Once the child has been reaped: the step that failed in it, as an error
  // naming the program (and the cwd for chdir) with the child's errno;
  // nullopt when the child got as far as execve.
  std::optional<Error> failure() const;

 private:
  friend Result<pid_t> spawn_process(SpawnContext& context);
  // The child's side (spawn.cpp): runs on stack_, returns only on failure.
  static int child_main(void* arg);
  static int child_failed(SpawnContext* context, const char* step, long rc);

  SpawnRequest request_;
  std::unique_ptr<char[]> stack_;
  long fd_limit_ = 0;  // RLIMIT_NOFILE, for kernels without close_range
  // Written by the child only, before it exits; read once it is reaped.
  const char* volatile failed_step_ = nullptr;
  volatile int error_ = 0;
};

// Starts the child and returns its pid without waiting for execve (see the
// top of this file). A step that fails in the child (chdir, execve, ...)
// makes it exit with status 127 after recording the step in `context`.
Result<pid_t> spawn_process(SpawnContext& context);

}  // namespace inboxd::runner
