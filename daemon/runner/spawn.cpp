#include "daemon/runner/spawn.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "common/sys_error.hpp"

namespace inboxd::runner {
namespace {

// Enough for child_main's frame and the system call wrappers it calls.
constexpr std::size_t kStackSize = 64 * 1024;

// The kernel's struct sigaction (x86-64 and arm64 alike), for
// rt_sigaction without libc's wrapper; SIG_DFL is a null handler.
struct KernelSigaction {
  void* handler = nullptr;
  unsigned long flags = 0;
  void* restorer = nullptr;
  std::uint64_t mask = 0;
};
constexpr long kKernelSigsetSize = sizeof(std::uint64_t);

// What the child needs and what it reports back. The parent thread is
// suspended until the child calls execve or exits, so the child may write
// `failed_step` and `error` with no synchronisation beyond that.
struct ChildArgs {
  const SpawnRequest* request;
  long fd_limit;  // RLIMIT_NOFILE, for kernels without close_range
  const char* failed_step = nullptr;
  int error = 0;
};

// Child code is never instrumented: it runs on a stack the sanitizers do
// not know, in memory it shares with the suspended parent.
#define INBOXD_CHILD_CODE __attribute__((no_sanitize("address", "undefined")))

// A system call in the child: libc's syscall(), which only sets errno (the
// suspended parent thread's, which it does not read) on failure.
INBOXD_CHILD_CODE long raw(long number, long a = 0, long b = 0, long c = 0, long d = 0) {
  return ::syscall(number, a, b, c, d);
}

INBOXD_CHILD_CODE int child_failed(ChildArgs* args, const char* step) {
  args->failed_step = step;
  args->error = errno;
  return 127;
}

// Closes every fd from 3 up: close_range (Linux 5.9), else one by one up to
// the fd limit the parent read.
INBOXD_CHILD_CODE bool close_from_3(long fd_limit) {
  if (raw(SYS_close_range, 3, ~0U, 0) == 0) return true;
  if (errno != ENOSYS) return false;
  for (long fd = 3; fd < fd_limit; ++fd) (void)raw(SYS_close, fd);
  return true;
}

// Runs in the child on the spawn stack. Returns only on failure, with the
// exit status the child then exits with; glibc's clone makes that exit.
INBOXD_CHILD_CODE int child_main(void* arg) {
  auto* args = static_cast<ChildArgs*>(arg);
  const SpawnRequest& request = *args->request;
  if (raw(SYS_setsid) < 0) return child_failed(args, "setsid");
  // The parent blocked every signal around the clone: none can reach one of
  // its handlers here. Handlers become SIG_DFL at execve anyway; ignored
  // signals (SIGPIPE) would stay ignored, so every action is reset.
  KernelSigaction default_action;
  for (long sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    (void)raw(SYS_rt_sigaction, sig, reinterpret_cast<long>(&default_action), 0, kKernelSigsetSize);
  }
  // Not close-on-exec: it may land on fd 0 and stay there.
  long null_fd = raw(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/dev/null"), O_RDONLY);
  if (null_fd < 0) return child_failed(args, "open /dev/null");
  if (null_fd != 0) {
    if (raw(SYS_dup3, null_fd, 0, 0) < 0) return child_failed(args, "dup3");
    (void)raw(SYS_close, null_fd);
  }
  if (raw(SYS_dup3, request.stdout_fd, 1, 0) < 0 || raw(SYS_dup3, request.stderr_fd, 2, 0) < 0) {
    return child_failed(args, "dup3");
  }
  if (request.cwd != nullptr && raw(SYS_chdir, reinterpret_cast<long>(request.cwd)) < 0) {
    return child_failed(args, "chdir");
  }
  if (!close_from_3(args->fd_limit)) return child_failed(args, "close_range");
  std::uint64_t none = 0;
  if (raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&none), 0, kKernelSigsetSize) <
      0) {
    return child_failed(args, "sigprocmask");
  }
  (void)raw(SYS_execve, reinterpret_cast<long>(request.argv[0]),
            reinterpret_cast<long>(request.argv), reinterpret_cast<long>(request.envp));
  return child_failed(args, "execve");
}

// The calling thread's spawn stack, allocated at its first spawn and kept.
char* stack_top() {
  thread_local std::unique_ptr<char[]> stack;
  if (!stack) stack = std::make_unique<char[]>(kStackSize);
  // The stack grows down; clone wants its highest address, 16-byte aligned.
  char* top = stack.get() + kStackSize;
  return top - reinterpret_cast<std::uintptr_t>(top) % 16;
}

// Blocks every signal in this thread for its lifetime, so no handler of the
// daemon runs on the child's side of the clone. A raw rt_sigprocmask, as
// glibc's posix_spawn does it: pthread_sigmask leaves glibc's own two
// signals (32, 33) unblocked.
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

Result<pid_t> spawn_process(const SpawnRequest& request) {
  // Read once: the daemon never changes its own fd limit.
  static const long fd_limit = [] {
    struct rlimit limit {};
    bool known = ::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY;
    return known ? static_cast<long>(limit.rlim_cur) : 1024L;
  }();
  ChildArgs args{&request, fd_limit};
  pid_t pid = -1;
  int clone_error = 0;
  {
    AllSignalsBlocked blocked;
    pid = ::clone(child_main, stack_top(), CLONE_VM | CLONE_VFORK | SIGCHLD, &args);
    clone_error = errno;
  }
  const std::string_view program = request.argv[0];
  if (pid < 0) return fail_errno("clone", program, clone_error);
  if (args.failed_step == nullptr) return pid;
  // The child has exited: reap it, then say which step failed.
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string_view step = args.failed_step;
  if (step == "execve") return fail_errno("spawn", program, args.error);
  auto detail = step == "chdir" ? std::string("cwd ") + request.cwd : std::string(step);
  return fail_errno("spawn", fmt::format("{}: {}", program, detail), args.error);
}

}  // namespace inboxd::runner
