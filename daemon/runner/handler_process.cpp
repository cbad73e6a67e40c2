#include "daemon/runner/handler_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <exception>
#include <string_view>

#include <fmt/format.h>

#include "common/guarded.hpp"
#include "common/log.hpp"
#include "common/sys_error.hpp"
#include "common/unique_fd.hpp"
#include "common/uv_handle.hpp"
#include "daemon/runner/output_tail.hpp"
#include "daemon/runner/proc_stat.hpp"
#include "daemon/runner/spawn.hpp"

namespace inboxd::runner {
namespace {

constexpr std::size_t kReadBufferSize = 64 * 1024;
// How often a group that outlived its leader is checked while it is being
// terminated, so the result comes as soon as it is gone, not after kill_grace.
constexpr std::uint64_t kGroupCheckMs = 20;
// The final drain of one pipe stops after this much, so a writer that escaped
// the group cannot keep the runner reading forever.
constexpr std::size_t kMaxFinalDrain = 4 * 1024 * 1024;
// How long ~Runner waits for a SIGKILLed handler to be reapable.
constexpr Millis kReapWait{1000};
// The exit code reported when the handler's status could not be collected
// (waitid failed): never a real exit code, and not a success.
constexpr int kStatusLost = -1;

spdlog::logger& logger() {
  static const auto instance = log::get("runner");
  return *instance;
}

template <class F>
void guarded(const char* where, F&& body) noexcept {
  inboxd::guarded(logger(), where, std::forward<F>(body));
}

std::uint64_t timer_ms(Millis d) {
  return static_cast<std::uint64_t>(std::max<Millis::rep>(d.count(), 0));
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// pidfd_open(2), made as a system call: glibc 2.36's <sys/pidfd.h> declares
// its wrapper without extern "C". The fd is always close-on-exec.
int open_pidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// Whether this kernel has pidfd_open (Linux 5.3): asked once per process by
// opening a pidfd for ourselves. Without it the runner falls back to SIGCHLD.
// ENOSYS is an old kernel (or valgrind), EPERM a seccomp filter that does not
// know the call; anything else (EMFILE) is passing and shows again, with its
// cause, when a handler is started.
const Result<void>& pidfd_support() {
  static const Result<void> support = []() -> Result<void> {
    int fd = open_pidfd(::getpid());
    if (fd >= 0) {
      ::close(fd);
      return {};
    }
    int err = errno;
    if (err != ENOSYS && err != EPERM) return {};
    return fail(fmt::format("pidfd_open: {}", errno_text(err)), err);
  }();
  return support;
}

// One output pipe; both ends are close-on-exec, the child gets the write end
// only through a dup2 onto its fd 1 or 2.
struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
};

// When the daemon runs with a standard fd closed, a new pipe can land on 0-2.
// Neither end may stay there: the child's stdio is built by file actions
// applied in order (open 0, dup2 onto 1, dup2 onto 2), which could overwrite
// such a write end before it is used, and libuv never closes a stream on fds
// 0-2, so a read end there would leak. Such an fd is moved above 2.
Result<UniqueFd> above_stdio(UniqueFd fd) {
  if (fd.get() > 2) return fd;
  int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return fail_errno("fcntl", "F_DUPFD_CLOEXEC");
  return UniqueFd(moved);
}

// The read end is non-blocking, so that the final drain stops at what is
// there; the handler's write end stays blocking.
Result<Pipe> make_pipe() {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) return fail_errno("pipe2", "");
  std::array<UniqueFd, 2> ends = {UniqueFd(fds[0]), UniqueFd(fds[1])};
  for (auto& end : ends) {
    auto moved = above_stdio(std::move(end));
    if (!moved) return fail(moved.error());
    end = std::move(*moved);
  }
  if (::fcntl(ends[0].get(), F_SETFL, O_NONBLOCK) != 0) return fail_errno("fcntl", "O_NONBLOCK");
  return Pipe{std::move(ends[0]), std::move(ends[1])};
}

// Waits until `pidfd` is readable (the process exited) or `limit` passes;
// without a pidfd, pauses a millisecond.
void wait_exit(int pidfd, Millis limit) {
  if (pidfd < 0) {
    struct timespec pause {
      0, 1000 * 1000
    };
    ::nanosleep(&pause, nullptr);
    return;
  }
  struct pollfd watch {
    pidfd, POLLIN, 0
  };
  ::poll(&watch, 1, static_cast<int>(std::clamp<Millis::rep>(limit.count(), 1, kReapWait.count())));
}

// Waits (bounded) for a SIGKILLed child that the loop no longer watches, and
// reaps it.
void reap(pid_t pid, int pidfd) {
  auto deadline = mono_now() + kReapWait;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return;
    auto now = mono_now();
    if (now >= deadline) {
      logger().warn("killed handler not reaped pid={}", pid);
      return;
    }
    wait_exit(pidfd, std::chrono::duration_cast<Millis>(deadline - now));
  }
}

// What an event in the runner's epoll set is about: the low two bits of its
// data, above them the RunId.
enum Channel : std::uint64_t { kExit = 0, kStdout = 1, kStderr = 2 };
constexpr std::uint64_t kChannelBits = 2;
constexpr std::uint64_t kChannelMask = (std::uint64_t{1} << kChannelBits) - 1;
constexpr int kEventsPerWake = 32;

}  // namespace

std::string signal_name(int signal) {
  if (const char* abbrev = ::sigabbrev_np(signal)) return std::string("SIG") + abbrev;
  return fmt::format("SIG{}", signal);
}

// One handler attempt: the process (watched through a pidfd), its two output
// pipes (both fds in the runner's epoll set) and two timers.
//
// Lifecycle: spawned -> (timeout or stop: SIGTERM to the group, SIGKILL
// kill_due_ later) -> the leader exits and is reaped -> leftovers in the group
// get SIGTERM, then SIGKILL -> group empty or SIGKILLed -> pipes drained and
// closed -> Runner::complete destroys this object and calls the done callback.
// Invariant: SIGKILL is the last signal; nothing is signalled after kill_sent_.
class Runner::Process {
 public:
  Process(Runner& owner, RunId id, HandlerSpec spec, std::function<void(HandlerResult)> on_done);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  Result<void> spawn();
  void stop(Millis grace);
  pid_t pid() const { return pid_; }
  const std::string& program() const { return spec_.argv.front(); }  // after spawn()
  std::uint64_t start_time() const { return start_time_; }
  // Without pidfds, on SIGCHLD: reaps the handler if it has exited.
  void poll_exit();
  // The runner's epoll set has an event for this process's `channel`.
  void on_ready(std::uint64_t channel);
  std::function<void(HandlerResult)> take_callback() { return std::move(on_done_); }

 private:
  Result<void> init_timers();
  Result<void> watch_exit();
  Result<void> watch(const UniqueFd& fd, Channel channel, int op = EPOLL_CTL_ADD);
  void arm_deadline(Millis delay);
  void on_exit_readable();
  void on_exit(int exit_status, int term_signal);
  void read_output(UniqueFd& fd, Channel channel, OutputTail& tail);
  void on_deadline();
  void on_group_check();
  void terminate(Millis grace);
  void signal_group(int sig);
  void maybe_finish();
  void drain_and_close(UniqueFd& fd, OutputTail& tail);
  // One read(2) of fd into tail; its result, as read's.
  ssize_t read_into(const UniqueFd& fd, OutputTail& tail);
  std::string fields() const { return fmt::format("run={} pid={}", id_, pid_); }

  Runner& owner_;
  RunId id_;
  std::function<void(HandlerResult)> on_done_;
  // The timeout and grace, and what the child reads until execve
  // (spawn.hpp): kept, unchanged, until the child has been reaped, which
  // ~Process does before its members go.
  HandlerSpec spec_;
  std::vector<char*> argv_;
  std::vector<char*> env_;
  std::unique_ptr<SpawnContext> spawn_;
  // In the runner's epoll set, one-shot (see watch()); closing one takes it
  // out once no child spawned meanwhile still holds a copy.
  UniqueFd pidfd_;   // open from spawn until the leader is reaped
  UniqueFd stdout_;  // read ends, open until EOF or the end of the attempt
  UniqueFd stderr_;
  UvHandle<uv_timer_t> deadline_timer_;  // the timeout, then the SIGKILL deadline
  UvHandle<uv_timer_t> group_timer_;     // polls a group that outlived its leader
  OutputTail stdout_tail_;
  OutputTail stderr_tail_;
  pid_t pid_ = 0;                 // also the process group id (setsid in the child)
  std::uint64_t start_time_ = 0;  // see Runner::start_time
  MonoTime started_;
  Millis duration_{0};
  bool exited_ = false;  // the leader has exited and been reaped
  int exit_status_ = 0;
  int term_signal_ = 0;
  bool timed_out_ = false;
  bool stopped_ = false;
  bool term_sent_ = false;
  bool kill_sent_ = false;
  bool group_empty_ = false;
  std::optional<MonoTime> kill_due_;
};

Runner::Process::Process(Runner& owner, RunId id, HandlerSpec spec,
                         std::function<void(HandlerResult)> on_done)
    : owner_(owner),
      id_(id),
      on_done_(std::move(on_done)),
      spec_(std::move(spec)),
      argv_(c_strings(spec_.argv)),
      env_(c_strings(spec_.env)),
      stdout_tail_(spec_.tail_bytes),
      stderr_tail_(spec_.tail_bytes) {}

// A process destroyed before it finished (by ~Runner, or by a failure after
// the spawn) takes its whole group with it; its handles close through
// UvHandle and free in the loop.
Runner::Process::~Process() {
  if (pid_ <= 0) return;
  bool finished = exited_ && (group_empty_ || kill_sent_);
  if (!finished) ::kill(-pid_, SIGKILL);
  // Before its setsid the child is in the daemon's group, not its own.
  if (!exited_) ::kill(pid_, SIGKILL);
  // Nothing else reaps the leader once this object is gone: do it here.
  if (!exited_) reap(pid_, pidfd_.get());
}

Result<void> Runner::Process::init_timers() {
  uv_loop_t* loop = owner_.loop_;
  int rc = uv_timer_init(loop, deadline_timer_.get());
  if (rc == 0) rc = uv_timer_init(loop, group_timer_.get());
  if (rc != 0) return fail(fmt::format("uv handle init: {}", uv_strerror(rc)), rc);
  deadline_timer_->data = this;
  group_timer_->data = this;
  return {};
}

// Starts the handler (see spawn.hpp): its own session and process group,
// default signals, stdin /dev/null, stdout and stderr the pipes, the cwd,
// exactly the spec's env, and no other fd. A failed chdir or exec (ENOENT,
// EACCES) shows when the child exits (SpawnContext::failure).
Result<void> Runner::Process::spawn() {
  if (spec_.argv.empty()) return fail("spawn: empty command");
  if (!owner_.epoll_.valid()) return fail(owner_.epoll_error_);
  if (auto ok = init_timers(); !ok) return ok;
  auto out = make_pipe();
  if (!out) return fail(out.error());
  auto err = make_pipe();
  if (!err) return fail(err.error());
  spawn_ = std::make_unique<SpawnContext>(
      SpawnRequest{argv_.data(), env_.data(), out->write_end.get(), err->write_end.get(),
                   spec_.cwd.empty() ? nullptr : spec_.cwd.c_str()});
  started_ = mono_now();
  auto ticks_before = boot_ticks_now();
  auto pid = spawn_process(*spawn_);
  if (!pid) return fail(pid.error());
  pid_ = *pid;
  start_time_ = spawned_start_time(pid_, ticks_before, boot_ticks_now());
  // From here on a failure leaves the child to ~Process, which kills and reaps it.
  if (pidfd_support()) {
    if (auto ok = watch_exit(); !ok) return ok;
  }
  stdout_ = std::move(out->read_end);
  stderr_ = std::move(err->read_end);
  if (auto ok = watch(stdout_, kStdout); !ok) return ok;
  if (auto ok = watch(stderr_, kStderr); !ok) return ok;
  if (spec_.timeout.count() > 0) arm_deadline(spec_.timeout);
  // The write ends close here: the child got its own copies at the clone.
  return {};
}

// pidfd_open cannot race with the exit: the child stays a zombie, its pid
// reserved, until this process reaps it.
Result<void> Runner::Process::watch_exit() {
  pidfd_.reset(open_pidfd(pid_));
  if (!pidfd_.valid()) return fail_errno("pidfd_open", fmt::format("pid {}", pid_));
  return watch(pidfd_, kExit);
}

// One-shot: an fd closed here may live on for a moment in a child spawned
// meanwhile (until its close_range), and the set keeps reporting an fd
// while its file lives. Each report therefore comes once; a pipe that had
// data is armed again after the read.
Result<void> Runner::Process::watch(const UniqueFd& fd, Channel channel, int op) {
  struct epoll_event event {};
  event.events = EPOLLIN | EPOLLONESHOT;
  event.data.u64 = (id_ << kChannelBits) | channel;
  if (::epoll_ctl(owner_.epoll_.get(), op, fd.get(), &event) != 0) {
    return fail_errno("epoll_ctl", fmt::format("run {}", id_));
  }
  return {};
}

void Runner::Process::on_ready(std::uint64_t channel) {
  switch (channel) {
    case kExit: return on_exit_readable();
    case kStdout: return read_output(stdout_, kStdout, stdout_tail_);
    case kStderr: return read_output(stderr_, kStderr, stderr_tail_);
    default: return;
  }
}

void Runner::Process::arm_deadline(Millis delay) {
  uv_timer_start(
      deadline_timer_.get(),
      [](uv_timer_t* t) {
        guarded("deadline", [t] { static_cast<Process*>(t->data)->on_deadline(); });
      },
      timer_ms(delay), 0);
}

// One read per event, then the pipe is armed again: what is left comes as
// the next event, and one busy handler cannot hold up the others.
void Runner::Process::read_output(UniqueFd& fd, Channel channel, OutputTail& tail) {
  if (!fd.valid()) return;
  ssize_t n = read_into(fd, tail);
  if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) {
    auto armed = watch(fd, channel, EPOLL_CTL_MOD);
    if (armed) return;
    logger().warn("handler output no longer read {} error={}", fields(),
                  log::quote(armed.error().message));
  } else if (n < 0) {
    logger().debug("handler output read failed {} stream={} error={}", fields(),
                   channel == kStdout ? "stdout" : "stderr", log::quote(errno_text(errno)));
  }
  fd.reset();  // EOF (or no way to hear of more)
}

// The pidfd turned readable: the leader has exited. It is reaped here, and
// the pidfd closed, which takes it out of the runner's epoll set.
void Runner::Process::on_exit_readable() {
  if (!pidfd_.valid()) return;
  siginfo_t info{};
  int rc = 0;
  do {
    rc = ::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    logger().warn("handler status lost {} error={}", fields(), log::quote(errno_text(errno)));
    pidfd_.reset();
    return on_exit(kStatusLost, 0);
  }
  if (info.si_pid == 0) return;  // not reapable yet
  pidfd_.reset();
  if (info.si_code == CLD_EXITED) return on_exit(info.si_status, 0);
  on_exit(0, info.si_status);  // CLD_KILLED or CLD_DUMPED: si_status is the signal
}

// Without pidfds: SIGCHLD came; reap the leader if it was this one.
void Runner::Process::poll_exit() {
  if (exited_ || pid_ <= 0) return;
  int status = 0;
  pid_t rc = 0;
  do {
    rc = ::waitpid(pid_, &status, WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) return;
  if (rc < 0) {
    logger().warn("handler status lost {} error={}", fields(), log::quote(errno_text(errno)));
    return on_exit(kStatusLost, 0);
  }
  if (WIFEXITED(status)) return on_exit(WEXITSTATUS(status), 0);
  if (WIFSIGNALED(status)) on_exit(0, WTERMSIG(status));
}

void Runner::Process::on_exit(int exit_status, int term_signal) {
  exited_ = true;
  exit_status_ = exit_status;
  term_signal_ = term_signal;
  duration_ = std::chrono::duration_cast<Millis>(mono_now() - started_);
  logger().debug("handler exited {} exit={} signal={} ms={}", fields(), exit_status_,
                 term_signal != 0 ? signal_name(term_signal) : "none", duration_.count());
  if (!term_sent_) uv_timer_stop(deadline_timer_.get());  // the timeout no longer applies
  if (kill_sent_) return maybe_finish();
  if (!process_group_alive(pid_)) {
    group_empty_ = true;
    return maybe_finish();
  }
  if (!term_sent_) logger().info("handler left processes behind, terminating them {}", fields());
  terminate(spec_.kill_grace);
}

void Runner::Process::on_deadline() {
  if (!term_sent_) {
    timed_out_ = true;
    logger().info("handler timed out {} timeout={}", fields(), format_duration(spec_.timeout));
    terminate(spec_.kill_grace);
    return;
  }
  if (exited_ && !process_group_alive(pid_)) {
    group_empty_ = true;
  } else {
    logger().info("handler group still running after sigterm, killing it {}", fields());
    signal_group(SIGKILL);
    kill_sent_ = true;
  }
  maybe_finish();
}

void Runner::Process::on_group_check() {
  if (process_group_alive(pid_)) return;
  group_empty_ = true;
  maybe_finish();
}

// SIGTERM now (once), SIGKILL at the earliest deadline asked for. Never
// finishes synchronously, so callers may iterate over processes.
void Runner::Process::terminate(Millis grace) {
  if (kill_sent_) return;
  if (!term_sent_) {
    term_sent_ = true;
    signal_group(SIGTERM);
  }
  auto due = mono_now() + grace;
  if (!kill_due_ || due < *kill_due_) {
    kill_due_ = due;
    arm_deadline(grace);
  }
  if (exited_ && uv_is_active(group_timer_.base()) == 0) {
    uv_timer_start(
        group_timer_.get(),
        [](uv_timer_t* t) {
          guarded("group", [t] { static_cast<Process*>(t->data)->on_group_check(); });
        },
        kGroupCheckMs, kGroupCheckMs);
  }
}

// A child that has not yet called setsid has no group of its own: it is
// signalled alone (its signals wait, blocked, until it has reset them).
void Runner::Process::signal_group(int sig) {
  int rc = ::kill(-pid_, sig);
  if (rc != 0 && errno == ESRCH && !exited_) rc = ::kill(pid_, sig);
  if (rc != 0 && errno != ESRCH) {
    logger().warn("kill failed {} signal={} error={}", fields(), signal_name(sig),
                  log::quote(errno_text(errno)));
  }
}

void Runner::Process::stop(Millis grace) {
  if (!exited_) stopped_ = true;
  logger().debug("handler stop requested {} grace={}", fields(), format_duration(grace));
  terminate(grace);
}

void Runner::Process::maybe_finish() {
  if (!exited_ || !(group_empty_ || kill_sent_)) return;
  drain_and_close(stdout_, stdout_tail_);
  drain_and_close(stderr_, stderr_tail_);
  HandlerResult result;
  if (term_signal_ != 0) {
    result.signal = term_signal_;
  } else {
    result.exit_code = exit_status_;
  }
  result.timed_out = timed_out_;
  result.stopped = stopped_;
  result.stdout_tail = stdout_tail_.text();
  result.stderr_tail = stderr_tail_.text();
  result.duration = duration_;
  result.pid = pid_;
  result.start_error = spawn_->failure();
  owner_.complete(id_, std::move(result));  // destroys *this: nothing may follow
}

// Every writer left is dead or escaped the group, so what is readable now is
// all the output this attempt will get.
void Runner::Process::drain_and_close(UniqueFd& fd, OutputTail& tail) {
  if (!fd.valid()) return;
  std::size_t drained = 0;
  while (drained < kMaxFinalDrain) {
    ssize_t n = read_into(fd, tail);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF, or nothing more right now (EAGAIN)
    drained += static_cast<std::size_t>(n);
  }
  fd.reset();
}

ssize_t Runner::Process::read_into(const UniqueFd& fd, OutputTail& tail) {
  auto& buffer = owner_.read_buffer_;
  ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
  if (n > 0) tail.append(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
  return n;
}

// The pidfd check runs here, once per process, so a kernel without pidfd_open
// is reported when the daemon starts, not first when a file arrives.
Runner::Runner(uv_loop_t* loop)
    : loop_(loop), epoll_(::epoll_create1(EPOLL_CLOEXEC)), read_buffer_(kReadBufferSize) {
  if (!epoll_.valid()) {
    epoll_error_ = sys_error("epoll_create1", "", errno);
    logger().error("handlers cannot be watched error={}", log::quote(epoll_error_.message));
  } else if (int rc = uv_poll_init(loop_, events_.get(), epoll_.get()); rc == 0) {
    events_->data = this;
    uv_poll_start(events_.get(), UV_READABLE, [](uv_poll_t* h, int, int) {
      guarded("handler events", [h] { static_cast<Runner*>(h->data)->on_events(); });
    });
    // Only running handlers keep the loop alive (hold_loop).
    uv_unref(events_.base());
  }
  uv_signal_init(loop_, sigchld_.get());
  sigchld_->data = this;
  if (const auto& support = pidfd_support(); !support) {
    logger().warn("handler exits watched through SIGCHLD error={}",
                  log::quote(support.error().message));
    uv_signal_start(
        sigchld_.get(),
        [](uv_signal_t* h, int) {
          guarded("sigchld", [h] { static_cast<Runner*>(h->data)->on_child_exit(); });
        },
        SIGCHLD);
    // Only handlers keep the loop alive, not the wait for them.
    uv_unref(sigchld_.base());
  }
}

// One epoll_wait per wake: with more events waiting, the set stays readable
// and libuv calls again. An event of a process that is gone (finished by an
// earlier event of the same batch) is skipped.
void Runner::on_events() {
  std::array<struct epoll_event, kEventsPerWake> events{};
  int n = ::epoll_wait(epoll_.get(), events.data(), kEventsPerWake, 0);
  for (int i = 0; i < n; ++i) {
    std::uint64_t data = events[static_cast<std::size_t>(i)].data.u64;
    auto it = processes_.find(data >> kChannelBits);
    if (it != processes_.end()) it->second->on_ready(data & kChannelMask);
  }
}

void Runner::hold_loop() {
  if (!epoll_.valid()) return;
  if (processes_.empty()) {
    uv_unref(events_.base());
  } else {
    uv_ref(events_.base());
  }
}

// A callback may start or finish other handlers: ask by id, not by iterator.
void Runner::on_child_exit() {
  std::vector<RunId> ids;
  for (const auto& [id, process] : processes_) ids.push_back(id);
  for (auto id : ids) {
    if (auto it = processes_.find(id); it != processes_.end()) it->second->poll_exit();
  }
}

Runner::~Runner() {
  if (!processes_.empty()) {
    logger().warn("runner closing with handlers still running count={}", processes_.size());
  }
  processes_.clear();
}

Result<RunId> Runner::start(HandlerSpec spec, std::function<void(HandlerResult)> on_done) {
  RunId id = next_id_++;
  auto process = std::make_unique<Process>(*this, id, std::move(spec), std::move(on_done));
  if (auto ok = process->spawn(); !ok) return fail(ok.error());
  logger().debug("handler started run={} pid={} program={}", id, process->pid(),
                 log::quote(process->program()));
  processes_.emplace(id, std::move(process));
  hold_loop();
  return id;
}

void Runner::complete(RunId id, HandlerResult result) {
  auto it = processes_.find(id);
  if (it == processes_.end()) return;
  auto process = std::move(it->second);
  processes_.erase(it);
  hold_loop();
  auto on_done = process->take_callback();
  process.reset();
  if (on_done) on_done(std::move(result));
}

void Runner::stop(RunId id, Millis grace) {
  if (auto it = processes_.find(id); it != processes_.end()) it->second->stop(grace);
}

void Runner::stop_all(Millis grace) {
  for (auto& [id, process] : processes_) process->stop(grace);
}

std::size_t Runner::running() const { return processes_.size(); }

std::optional<pid_t> Runner::pid(RunId id) const {
  auto it = processes_.find(id);
  if (it == processes_.end()) return std::nullopt;
  return it->second->pid();
}

std::optional<std::uint64_t> Runner::start_time(RunId id) const {
  auto it = processes_.find(id);
  if (it == processes_.end()) return std::nullopt;
  return it->second->start_time();
}

}  // namespace inboxd::runner
