#include "daemon/runner/handler_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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

spdlog::logger& logger() {
  static const auto instance = log::get("runner");
  return *instance;
}

template <class F>
void guarded(const char* where, F&& body) noexcept {
  inboxd::guarded(logger(), where, std::forward<F>(body));
}

std::uint64_t timer_ms(Millis d) { return static_cast<std::uint64_t>(std::max<Millis::rep>(d.count(), 0)); }

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// libuv reports a bad cwd with the same code as a missing program; say which.
std::string spawn_error(const HandlerSpec& spec, int code) {
  const auto& program = spec.argv.front();
  if (!spec.cwd.empty()) {
    struct stat st {};
    int cwd_error = 0;
    if (::stat(spec.cwd.c_str(), &st) != 0) {
      cwd_error = uv_translate_sys_error(errno);
    } else if (!S_ISDIR(st.st_mode)) {
      cwd_error = UV_ENOTDIR;
    } else if (::access(spec.cwd.c_str(), X_OK) != 0) {
      cwd_error = uv_translate_sys_error(errno);
    }
    if (cwd_error != 0) {
      return fmt::format("spawn {}: cwd {}: {}", program, spec.cwd.string(), uv_strerror(cwd_error));
    }
  }
  return fmt::format("spawn {}: {}", program, uv_strerror(code));
}

// Waits (bounded) for a SIGKILLed child that libuv no longer watches.
void reap(pid_t pid) {
  auto deadline = mono_now() + kReapWait;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) return;
    if (mono_now() >= deadline) {
      logger().warn("killed handler not reaped pid={}", pid);
      return;
    }
    struct timespec pause {0, 1000 * 1000};
    ::nanosleep(&pause, nullptr);
  }
}

}  // namespace

std::string signal_name(int signal) {
  if (const char* abbrev = ::sigabbrev_np(signal)) return std::string("SIG") + abbrev;
  return fmt::format("SIG{}", signal);
}

std::optional<std::uint64_t> process_start_time(pid_t pid) {
  auto stat = read_proc_stat(pid);
  if (!stat) return std::nullopt;
  return stat->start_time;
}

// One handler attempt: the process, its two output pipes and two timers.
//
// Lifecycle: spawned -> (timeout or stop: SIGTERM to the group, SIGKILL
// kill_due_ later) -> the leader exits -> leftovers in the group get SIGTERM,
// then SIGKILL -> group empty or SIGKILLed -> pipes drained and closed ->
// Runner::complete destroys this object and calls the done callback.
// Invariant: SIGKILL is the last signal; nothing is signalled after kill_sent_.
class Runner::Process {
 public:
  Process(Runner& owner, RunId id, const HandlerSpec& spec, std::function<void(HandlerResult)> on_done);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  Result<void> spawn(const HandlerSpec& spec);
  void stop(Millis grace);
  pid_t pid() const { return pid_; }
  std::function<void(HandlerResult)> take_callback() { return std::move(on_done_); }

 private:
  Result<void> init_handles();
  void start_reading(UvHandle<uv_pipe_t>& pipe);
  void arm_deadline(Millis delay);
  void on_exit(std::int64_t exit_status, int term_signal);
  void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  void on_deadline();
  void on_group_check();
  void terminate(Millis grace);
  void signal_group(int sig);
  void maybe_finish();
  void drain_and_close(UvHandle<uv_pipe_t>& pipe, OutputTail& tail);
  std::string fields() const { return fmt::format("run={} pid={}", id_, pid_); }

  Runner& owner_;
  RunId id_;
  Millis timeout_;
  Millis kill_grace_;
  std::function<void(HandlerResult)> on_done_;
  UvHandle<uv_process_t> process_;
  UvHandle<uv_pipe_t> stdout_pipe_;
  UvHandle<uv_pipe_t> stderr_pipe_;
  UvHandle<uv_timer_t> deadline_timer_;  // the timeout, then the SIGKILL deadline
  UvHandle<uv_timer_t> group_timer_;     // polls a group that outlived its leader
  OutputTail stdout_tail_;
  OutputTail stderr_tail_;
  pid_t pid_ = 0;  // also the process group id (setsid in the child)
  MonoTime started_;
  Millis duration_{0};
  bool exited_ = false;
  int exit_status_ = 0;
  int term_signal_ = 0;
  bool timed_out_ = false;
  bool stopped_ = false;
  bool term_sent_ = false;
  bool kill_sent_ = false;
  bool group_empty_ = false;
  std::optional<MonoTime> kill_due_;
};

Runner::Process::Process(Runner& owner, RunId id, const HandlerSpec& spec,
                         std::function<void(HandlerResult)> on_done)
    : owner_(owner),
      id_(id),
      timeout_(spec.timeout),
      kill_grace_(spec.kill_grace),
      on_done_(std::move(on_done)),
      stdout_tail_(spec.tail_bytes),
      stderr_tail_(spec.tail_bytes) {}

// A process destroyed before it finished (only by ~Runner) takes its whole
// group with it; its handles close through UvHandle and free in the loop.
Runner::Process::~Process() {
  if (pid_ <= 0) return;
  bool finished = exited_ && (group_empty_ || kill_sent_);
  if (!finished) ::kill(-pid_, SIGKILL);
  // Closing the process handle stops libuv from reaping the leader: do it here.
  if (!exited_) reap(pid_);
}

Result<void> Runner::Process::init_handles() {
  uv_loop_t* loop = owner_.loop_;
  int rc = uv_pipe_init(loop, stdout_pipe_.get(), 0);
  if (rc == 0) rc = uv_pipe_init(loop, stderr_pipe_.get(), 0);
  if (rc == 0) rc = uv_timer_init(loop, deadline_timer_.get());
  if (rc == 0) rc = uv_timer_init(loop, group_timer_.get());
  if (rc != 0) return fail(fmt::format("uv handle init: {}", uv_strerror(rc)), rc);
  for (uv_handle_t* h : {stdout_pipe_.base(), stderr_pipe_.base(), deadline_timer_.base(),
                         group_timer_.base(), process_.base()}) {
    h->data = this;
  }
  return {};
}

Result<void> Runner::Process::spawn(const HandlerSpec& spec) {
  if (spec.argv.empty()) return fail("spawn: empty command");
  if (auto ok = init_handles(); !ok) return ok;
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid()) return fail_errno("open", "/dev/null");
  auto args = c_strings(spec.argv);
  // Never null: a null env would make libuv pass on the daemon's environment.
  auto env = c_strings(spec.env);
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_INHERIT_FD;
  stdio[0].data.fd = dev_null.get();
  stdio[1].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[1].data.stream = reinterpret_cast<uv_stream_t*>(stdout_pipe_.get());
  stdio[2].flags = static_cast<uv_stdio_flags>(UV_CREATE_PIPE | UV_WRITABLE_PIPE);
  stdio[2].data.stream = reinterpret_cast<uv_stream_t*>(stderr_pipe_.get());
  uv_process_options_t options{};
  options.exit_cb = [](uv_process_t* h, std::int64_t status, int sig) {
    guarded("exit", [&] { static_cast<Process*>(h->data)->on_exit(status, sig); });
  };
  options.file = args.front();
  options.args = args.data();
  options.env = env.data();
  options.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  options.flags = UV_PROCESS_DETACHED;  // setsid(): own session and group, pgid == pid
  options.stdio_count = 3;
  options.stdio = stdio;
  started_ = mono_now();
  // On failure libuv has already reaped the child; ~Process closes the handles.
  if (int rc = uv_spawn(owner_.loop_, process_.get(), &options); rc != 0) {
    return fail(spawn_error(spec, rc), rc);
  }
  pid_ = process_->pid;
  start_reading(stdout_pipe_);
  start_reading(stderr_pipe_);
  if (timeout_.count() > 0) arm_deadline(timeout_);
  return {};
}

void Runner::Process::arm_deadline(Millis delay) {
  uv_timer_start(
      deadline_timer_.get(),
      [](uv_timer_t* t) { guarded("deadline", [t] { static_cast<Process*>(t->data)->on_deadline(); }); },
      timer_ms(delay), 0);
}

void Runner::Process::start_reading(UvHandle<uv_pipe_t>& pipe) {
  auto alloc = [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
    auto& buffer = static_cast<Process*>(h->data)->owner_.read_buffer_;
    *buf = uv_buf_init(buffer.data(), static_cast<unsigned int>(buffer.size()));
  };
  auto read = [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    guarded("read", [&] { static_cast<Process*>(s->data)->on_read(s, nread, buf); });
  };
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(pipe.get()), alloc, read);
  if (rc != 0) {
    logger().warn("handler output not read {} error={}", fields(), log::quote(uv_strerror(rc)));
    pipe.close();
  }
}

void Runner::Process::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  bool is_stdout = stream == reinterpret_cast<uv_stream_t*>(stdout_pipe_.get());
  if (nread > 0) {
    auto& tail = is_stdout ? stdout_tail_ : stderr_tail_;
    tail.append(std::string_view(buf->base, static_cast<std::size_t>(nread)));
    return;
  }
  if (nread == 0) return;  // EAGAIN
  if (nread != UV_EOF) {
    logger().debug("handler output read failed {} stream={} error={}", fields(),
                   is_stdout ? "stdout" : "stderr", log::quote(uv_strerror(static_cast<int>(nread))));
  }
  (is_stdout ? stdout_pipe_ : stderr_pipe_).close();
}

void Runner::Process::on_exit(std::int64_t exit_status, int term_signal) {
  exited_ = true;
  exit_status_ = static_cast<int>(exit_status);
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
  terminate(kill_grace_);
}

void Runner::Process::on_deadline() {
  if (!term_sent_) {
    timed_out_ = true;
    logger().info("handler timed out {} timeout={}", fields(), format_duration(timeout_));
    terminate(kill_grace_);
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
        [](uv_timer_t* t) { guarded("group", [t] { static_cast<Process*>(t->data)->on_group_check(); }); },
        kGroupCheckMs, kGroupCheckMs);
  }
}

void Runner::Process::signal_group(int sig) {
  if (::kill(-pid_, sig) != 0 && errno != ESRCH) {
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
  drain_and_close(stdout_pipe_, stdout_tail_);
  drain_and_close(stderr_pipe_, stderr_tail_);
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
  owner_.complete(id_, std::move(result));  // destroys *this: nothing may follow
}

// Every writer left is dead or escaped the group, so what is readable now is
// all the output this attempt will get.
void Runner::Process::drain_and_close(UvHandle<uv_pipe_t>& pipe, OutputTail& tail) {
  if (!pipe) return;
  uv_os_fd_t fd = -1;
  if (uv_fileno(pipe.base(), &fd) == 0) {
    auto& buffer = owner_.read_buffer_;
    std::size_t drained = 0;
    while (drained < kMaxFinalDrain) {
      ssize_t n = ::read(fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EOF, or nothing more right now (EAGAIN)
      tail.append(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
      drained += static_cast<std::size_t>(n);
    }
  }
  pipe.close();
}

Runner::Runner(uv_loop_t* loop) : loop_(loop), read_buffer_(kReadBufferSize) {}

Runner::~Runner() {
  if (!processes_.empty()) {
    logger().warn("runner closing with handlers still running count={}", processes_.size());
  }
  processes_.clear();
}

Result<RunId> Runner::start(const HandlerSpec& spec, std::function<void(HandlerResult)> on_done) {
  RunId id = next_id_++;
  auto process = std::make_unique<Process>(*this, id, spec, std::move(on_done));
  if (auto ok = process->spawn(spec); !ok) return fail(ok.error());
  logger().debug("handler started run={} pid={} program={}", id, process->pid(),
                 log::quote(spec.argv.front()));
  processes_.emplace(id, std::move(process));
  return id;
}

void Runner::complete(RunId id, HandlerResult result) {
  auto it = processes_.find(id);
  if (it == processes_.end()) return;
  auto process = std::move(it->second);
  processes_.erase(it);
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

}  // namespace inboxd::runner
