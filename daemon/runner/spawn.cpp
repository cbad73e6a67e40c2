#include "daemon/runner/spawn.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>
#if defined(INBOXD_HAVE_VALGRIND_H)
#include <valgrind/valgrind.h>
#endif

#include "common/sys_error.hpp"

namespace inboxd::runner {
namespace {

// Enough for child_main's frame and the system calls it makes, which need
// no stack of their own.
constexpr std::size_t kStackSize = 16 * 1024;
// The exit status of a child whose setup failed (as a shell's for "command
// not found"); what failed is in its context.
constexpr int kChildFailed = 127;

// The kernel's struct sigaction (x86-64 and arm64 alike), for
// rt_sigaction without libc's wrapper; SIG_DFL is a null handler.
struct KernelSigaction {
  void* handler = nullptr;
  unsigned long flags = 0;
  void* restorer = nullptr;
  std::uint64_t mask = 0;
};
constexpr long kKernelSigsetSize = sizeof(std::uint64_t);

// Child code is never instrumented: it runs on a stack the sanitizers do
// not know, in memory it shares with the daemon.
#define INBOXD_CHILD_CODE __attribute__((no_sanitize("address", "undefined")))

// A system call in the child, returning -errno on failure. Where it can be
// made without libc the child runs alongside the daemon; elsewhere libc's
// syscall() would write errno into the spawning thread's storage, so the
// spawn suspends that thread until execve (CLONE_VFORK), as posix_spawn does.
#if defined(__x86_64__)
constexpr int kCloneFlags = CLONE_VM | SIGCHLD;
INBOXD_CHILD_CODE long raw(long number, long a = 0, long b = 0, long c = 0, long d = 0) {
  long result;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall"
                   : "=a"(result)
                   : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10)
                   : "rcx", "r11", "memory");
  return result;
}
#elif defined(__aarch64__)
constexpr int kCloneFlags = CLONE_VM | SIGCHLD;
INBOXD_CHILD_CODE long raw(long number, long a = 0, long b = 0, long c = 0, long d = 0) {
  register long x8 __asm__("x8") = number;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
}
#else
constexpr int kCloneFlags = CLONE_VM | CLONE_VFORK | SIGCHLD;
INBOXD_CHILD_CODE long raw(long number, long a = 0, long b = 0, long c = 0, long d = 0) {
  long result = ::syscall(number, a, b, c, d);
  return result < 0 ? -errno : result;
}
#endif

// valgrind stops the whole process at a clone that shares memory without
// CLONE_VFORK; under it the spawn waits for execve, as posix_spawn does.
int clone_flags() {
#if defined(INBOXD_HAVE_VALGRIND_H)
  static const int flags = RUNNING_ON_VALGRIND ? kCloneFlags | CLONE_VFORK : kCloneFlags;
  return flags;
#else
  return kCloneFlags;
#endif
}

// Closes every fd from 3 up: close_range (Linux 5.9), else one by one up to
// the fd limit the parent read.
INBOXD_CHILD_CODE long close_from_3(long fd_limit) {
  long rc = raw(SYS_close_range, 3, ~0U, 0);
  if (rc != -ENOSYS) return rc;
  for (long fd = 3; fd < fd_limit; ++fd) (void)raw(SYS_close, fd);
  return 0;
}

// The fd limit, read once: the daemon never changes its own.
long fd_limit() {
  static const long value = [] {
    struct rlimit limit {};
    bool known = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY;
    return known ? static_cast<long>(limit.rlim_cur) : 1024L;
  }();
  return value;
}

// Blocks every signal in this thread for its lifetime, so no handler of the
// daemon runs in the child before it has reset them, and the child starts
// with them blocked. A raw rt_sigprocmask, as glibc's posix_spawn does it:
// pthread_sigmask leaves glibc's own two signals (32, 33) unblocked.
class AllSignalsBlocked {
 public:
  AllSignalsBlocked() { set_mask(~std::uint64_t{0}, &saved_); }
  ~AllSignalsBlocked() { set_mask(saved_, nullptr); }
  AllSignalsBlocked(const AllSignalsBlocked&) = delete;
  AllSignalsBlocked& operator=(const AllSignalsBlocked&) = delete;

 private:
  static void set_mask(std::uint64_t mask, std::uint64_t* old) {
    (void)::syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, old, kKernelSigsetSize);
  }
  std::uint64_t saved_ = 0;
};

}  // namespace

SpawnContext::SpawnContext(const SpawnRequest& request)
    : request_(request), stack_(new char[kStackSize]) {}  // left uninitialised

std::optional<Error> SpawnContext::failure() const {
  const char* failed = failed_step_;
  if (failed == nullptr) return std::nullopt;
  const std::string_view program = request_.argv[0];
  const std::string_view step = failed;
  if (step == "execve") return sys_error("spawn", program, error_);
  auto detail = step == "chdir" ? std::string("cwd ") + request_.cwd : std::string(step);
  return sys_error("spawn", fmt::format("{}: {}", program, detail), error_);
}

// Records the failed step for SpawnContext::failure, then the child exits.
INBOXD_CHILD_CODE int SpawnContext::child_failed(SpawnContext* context, const char* step, long rc) {
  context->error_ = static_cast<int>(-rc);
  context->failed_step_ = step;
  return kChildFailed;
}

// Runs in the child on its context's stack. Returns only on failure, with
// the exit status the child then exits with; glibc's clone makes that exit.
INBOXD_CHILD_CODE int SpawnContext::child_main(void* arg) {
  auto* context = static_cast<SpawnContext*>(arg);
  const SpawnRequest& request = context->request_;
  if (long rc = raw(SYS_setsid); rc < 0) return child_failed(context, "setsid", rc);
  // Every signal is blocked (AllSignalsBlocked): none can reach one of the
  // daemon's handlers here. Handlers become SIG_DFL at execve anyway;
  // ignored signals (SIGPIPE) would stay ignored, so every action is reset.
  KernelSigaction default_action;
  for (long sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    (void)raw(SYS_rt_sigaction, sig, reinterpret_cast<long>(&default_action), 0, kKernelSigsetSize);
  }
  // Not close-on-exec: it may land on fd 0 and stay there.
  long null_fd = raw(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/dev/null"), O_RDONLY);
  if (null_fd < 0) return child_failed(context, "open /dev/null", null_fd);
  if (null_fd != 0) {
    if (long rc = raw(SYS_dup3, null_fd, 0, 0); rc < 0) return child_failed(context, "dup3", rc);
    (void)raw(SYS_close, null_fd);
  }
  if (long rc = raw(SYS_dup3, request.stdout_fd, 1, 0); rc < 0) {
    return child_failed(context, "dup3", rc);
  }
  if (long rc = raw(SYS_dup3, request.stderr_fd, 2, 0); rc < 0) {
    return child_failed(context, "dup3", rc);
  }
  if (request.cwd != nullptr) {
    if (long rc = raw(SYS_chdir, reinterpret_cast<long>(request.cwd)); rc < 0) {
      return child_failed(context, "chdir", rc);
    }
  }
  if (long rc = close_from_3(context->fd_limit_); rc < 0) {
    return child_failed(context, "close_range", rc);
  }
  std::uint64_t none = 0;
  if (long rc =
          raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&none), 0, kKernelSigsetSize);
      rc < 0) {
    return child_failed(context, "sigprocmask", rc);
  }
  long rc = raw(SYS_execve, reinterpret_cast<long>(request.argv[0]),
                reinterpret_cast<long>(request.argv), reinterpret_cast<long>(request.envp));
  return child_failed(context, "execve", rc);
}

Result<pid_t> spawn_process(SpawnContext& context) {
  context.fd_limit_ = fd_limit();
  // The stack grows down; clone wants its highest address, 16-byte aligned.
  char* top = context.stack_.get() + kStackSize;
  top -= reinterpret_cast<std::uintptr_t>(top) % 16;
  pid_t pid = -1;
  int clone_error = 0;
  {
    AllSignalsBlocked blocked;
    pid = ::clone(SpawnContext::child_main, top, clone_flags(), &context);
    clone_error = errno;
  }
  if (pid < 0) return fail_errno("clone", context.request_.argv[0], clone_error);
  return pid;
}

}  // namespace inboxd::runner
