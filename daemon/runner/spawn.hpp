#pragma once
// spawn: starts one handler process the way posix_spawn does, with vfork
// semantics (clone(CLONE_VM | CLONE_VFORK): no copy of the daemon's page
// tables; the calling thread waits until the child has called execve), but
// on a stack that each spawning thread keeps for its life. glibc maps a
// fresh stack for every posix_spawn and unmaps it afterwards, and with the
// daemon's other threads that unmap costs a TLB shootdown on every CPU they
// ran on: a tenth of a millisecond per handler on a 2-vCPU machine.
//
// The child, sharing the daemon's memory until execve, makes raw system
// calls only: no allocation, no locks, no sanitizer interceptors. In order
// it gets its own session (its pid is its process group), every signal at
// its default action, stdin from /dev/null, stdout and stderr from the given
// fds, the working directory, no other fd (close_range from 3), an empty
// signal mask, and then execve.
//
// Threads: any thread may spawn; each uses its own stack.

#include <sys/types.h>

#include "common/result.hpp"

namespace inboxd::runner {

struct SpawnRequest {
  char* const* argv = nullptr;  // argv[0] is the program's path; null-terminated
  char* const* envp = nullptr;  // the complete environment; null-terminated
  int stdout_fd = -1;           // becomes the child's fd 1; must be above 2
  int stderr_fd = -1;           // becomes the child's fd 2; must be above 2
  const char* cwd = nullptr;    // nullptr: the daemon's own
};

// The child's pid once it has called execve. A step that failed in the
// child (chdir, execve, ...) is an error naming the program (and the cwd
// for chdir) with the child's errno; the child is reaped before returning.
Result<pid_t> spawn_process(const SpawnRequest& request);

}  // namespace inboxd::runner
