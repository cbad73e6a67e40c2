#include "daemon/app/application.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <random>
#include <system_error>

#include <fmt/format.h>

#include "common/guarded.hpp"
#include "common/log.hpp"
#include "common/version.hpp"
#include "daemon/runner/proc_stat.hpp"

namespace inboxd::app {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> handler_base_env() {
  std::vector<std::string> env;
  for (const char* key : {"PATH", "HOME", "LANG", "TZ"}) {
    if (const char* value = std::getenv(key)) env.push_back(std::string(key) + "=" + value);
  }
  return env;
}

// Identifies this boot of the machine; empty when unknown.
std::string current_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

std::string random_run_id() {
  std::random_device rd;
  return fmt::format("{:08x}", rd());
}

}  // namespace

Application::Application(uv_loop_t* loop, config::Config config, StateLock lock,
                         std::unique_ptr<queue::QueueStore> store,
                         std::shared_ptr<queue::WalSync> wal)
    : loop_(loop),
      config_(std::move(config)),
      lock_(std::move(lock)),
      store_(std::move(store)),
      runner_(std::make_unique<runner::Runner>(loop)),
      state_disk_(loop, config_.state_dir, Millis{5000}),
      commit_(loop, std::move(wal), log::get("queue")),
      pids_(config_.state_dir / "handlers"),
      log_(log::get("app")),
      run_id_(random_run_id()) {
  services_.loop = loop_;
  services_.store = store_.get();
  services_.runner = runner_.get();
  services_.state_disk = &state_disk_;
  services_.commit = &commit_;
  services_.pids = &pids_;
  store_->on_commit([this] { commit_.committed(store_->wal_bytes()); });
  state_disk_.set_recovery([this] { return check_state_disk(); },
                           [this] {
                             for (auto& inbox : inboxes_) inbox->kick();
                           });
  services_.work_root = config_.state_dir / "work";
  services_.instance_id = store_->instance_id();
  services_.base_env = handler_base_env();
  for (auto* sig : {sigterm_.get(), sigint_.get(), sighup_.get()}) {
    uv_signal_init(loop_, sig);
    sig->data = this;
  }
  for (auto* timer :
       {stop_timer_.get(), retire_timer_.get(), status_timer_.get(), ready_timer_.get()}) {
    uv_timer_init(loop_, timer);
    timer->data = this;
  }
}

Application::~Application() = default;

int Application::run() {
  std::error_code ec;
  fs::remove_all(services_.work_root, ec);
  fs::create_directories(services_.work_root, ec);
  std::string names;
  for (const auto& inbox : config_.inboxes) names += (names.empty() ? "" : ",") + inbox.name;
  log_->info("inboxd starting version={} pid={} run={} config={} state_dir={} inboxes={}", kVersion,
             ::getpid(), run_id_, log::quote(config_.file.string()),
             log::quote(config_.state_dir.string()), log::quote(names));
  auto left = pids_.take_over();
  if (!left) log_->error("cannot read handler records error={}", log::quote(left.error().message));
  recover_interrupted_jobs(left ? *left : std::vector<PidTable::Record>{});
  for (const auto& inbox_config : config_.inboxes) {
    inboxes_.push_back(std::make_unique<Inbox>(services_, inbox_config));
    inboxes_.back()->start();
  }
  auto on_signal = [](uv_signal_t* handle, int signum) {
    auto* self = static_cast<Application*>(handle->data);
    guarded(*self->log_, "signal", [self, signum] {
      if (signum == SIGHUP) {
        (void)self->reload_config();
      } else {
        self->begin_stop(signum);
      }
    });
  };
  uv_signal_start(sigterm_.get(), on_signal, SIGTERM);
  uv_signal_start(sigint_.get(), on_signal, SIGINT);
  uv_signal_start(sighup_.get(), on_signal, SIGHUP);
  admin::AdminServer::Options options;
  options.path = config_.socket;
  options.mode = config_.socket_mode;
  options.admin_groups = config_.admin_groups;
  auto failure = admin::AdminServer::Failure::kIo;
  auto server = admin::AdminServer::start(loop_, *this, options, &failure);
  if (!server) {
    log_->error("cannot serve the admin socket: {}", server.error().message);
    begin_stop(SIGTERM);
    uv_run(loop_, UV_RUN_DEFAULT);
    return 73;
  }
  admin_ = std::move(*server);
  // Events are built only for watching clients: building one per job
  // transition cost 7% of the daemon's instructions per file.
  services_.on_job = [this](const queue::Job& job, queue::JobState state, int attempt) {
    if (admin_ && admin_->has_watchers()) {
      admin_->publish(admin::job_event(job.id, job.inbox, job.name, state, attempt));
    }
  };
  services_.on_inbox = [this](std::string_view inbox, std::string_view state) {
    if (admin_ && admin_->has_watchers()) admin_->publish(admin::inbox_event(inbox, state));
  };
  if (auto started = watchdog_.start(); !started) {
    log_->warn("watchdog not started: {}", started.error().message);
  }
  if (notifier_.enabled()) {
    // STATUS= is kept current only when systemd listens.
    update_status_line();
    uv_timer_start(
        status_timer_.get(),
        [](uv_timer_t* t) {
          auto* self = static_cast<Application*>(t->data);
          guarded(*self->log_, "status", [self] { self->update_status_line(); });
        },
        2000, 2000);
    uv_unref(reinterpret_cast<uv_handle_t*>(status_timer_.get()));
  }
  ready_since_ = mono_now();
  uv_timer_start(
      ready_timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<Application*>(t->data);
        guarded(*self->log_, "ready", [self] { self->check_ready(); });
      },
      0, 5);
  uv_run(loop_, UV_RUN_DEFAULT);
  return 0;
}

// Ready once every inbox has been opened once (or found unavailable), so a
// file dropped right after READY=1 is watched for; a share that hangs at
// start delays readiness by kReadyWait at most.
void Application::check_ready() {
  bool opened = std::all_of(inboxes_.begin(), inboxes_.end(),
                            [](const auto& inbox) { return inbox->opened_once(); });
  if (!opened && mono_now() - ready_since_ < kReadyWait) return;
  uv_timer_stop(ready_timer_.get());
  ready_timer_.close();
  if (stopping_) return;
  metrics_file_.set_path(config_.metrics_file);  // first written now, before anyone is told
  notifier_.ready();
  log_->info("inboxd ready run={} inboxes={} socket={}", run_id_, inboxes_.size(),
             log::quote(config_.socket.string()));
}

// Jobs left `running` by a previous process: their handlers are killed first
// (a job never runs twice at once), then the job is queued again. The
// interrupted attempt counts against `retries`, so a file that crashes the
// daemon ends `failed` instead of looping; its file is moved by the inbox's
// own recovery, which finds it terminal with its file still in the spool.
void Application::recover_interrupted_jobs(const std::vector<PidTable::Record>& left) {
  // Handlers of the previous process can only still be alive if the machine
  // has not rebooted since: after a reboot a recorded pid and start time may
  // belong to an unrelated process, which must never be killed. Without a
  // recorded boot (a database from before it was kept) the pid and start
  // time check alone decides.
  auto boot = current_boot_id();
  auto last_boot = store_->meta("boot_id");
  bool rebooted = !boot.empty() && last_boot && *last_boot && **last_boot != boot;
  if (!boot.empty()) {
    if (auto ok = store_->set_meta("boot_id", boot); !ok) {
      log_->warn("cannot record boot id error={}", log::quote(ok.error().message));
    }
  }
  auto interrupted = store_->interrupted_jobs();
  if (!interrupted) {
    log_->error("recovery failed error={}", log::quote(interrupted.error().message));
    return;
  }
  auto now = wall_now_ms();
  for (auto& [job, attempt] : *interrupted) {
    // The pid table, or the queue for a handler it could not record (and
    // for queues written by an inboxd from before the table).
    auto record = std::find_if(left.begin(), left.end(), [&](const PidTable::Record& r) {
      return r.job_id == job.id && r.attempt == attempt.attempt;
    });
    if (record != left.end()) {
      attempt.pid = record->pid;
      attempt.pid_start_time = record->start_time;
    }
    int killed = !rebooted ? runner::kill_orphaned_group(static_cast<pid_t>(attempt.pid),
                                                         attempt.pid_start_time)
                           : 0;
    const auto* inbox = config_.find_inbox(job.inbox);
    int budget = inbox != nullptr ? inbox->retries + 1 : 1;
    bool used_up = job.attempts - job.budget_base >= budget;
    attempt.finished_at = now;
    attempt.duration_ms = now - attempt.started_at;
    attempt.counted = true;
    std::string reason = "interrupted: inboxd stopped unexpectedly while the handler ran";
    auto state = used_up ? queue::JobState::kFailed : queue::JobState::kQueued;
    auto ok = store_->finish_attempt(attempt, {job.id, state, std::nullopt, reason}, now);
    log_->warn("job recovered id={} inbox={} attempt={} leftover_processes_killed={} state={}{}",
               job.id, log::quote(job.inbox), attempt.attempt, killed, queue::to_string(state),
               ok ? "" : " error=" + log::quote(ok.error().message));
  }
}

void Application::begin_stop(int signum) {
  if (stopping_) {
    // A second signal: stop at once.
    log_->warn("second stop signal: killing running handlers now");
    for (auto& inbox : inboxes_) inbox->stop_handlers(Millis{0});
    for (auto& inbox : retiring_) inbox->stop_handlers(Millis{0});
    handlers_signalled_ = true;
    return;
  }
  stopping_ = true;
  stop_started_ = mono_now();
  notifier_.stopping();
  std::size_t running = 0;
  for (auto& inbox : inboxes_) {
    inbox->stop_intake();
    running += inbox->running();
  }
  for (const auto& inbox : retiring_) running += inbox->running();
  log_->info("inboxd stopping signal={} running_handlers={} grace={}", runner::signal_name(signum),
             running, format_duration(config_.shutdown_grace));
  uv_timer_start(
      stop_timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<Application*>(t->data);
        guarded(*self->log_, "stop", [self] { self->on_stop_tick(); });
      },
      0, 20);
}

// Waits for running handlers and the folder work that records their
// outcomes (but not for a call stuck on a hung share); after shutdown_grace
// handlers are stopped (SIGTERM, SIGKILL after kill_grace) and their jobs
// requeued without counting.
void Application::on_stop_tick() {
  std::size_t running = 0;
  bool settled = true;
  for (const auto* group : {&inboxes_, &retiring_}) {
    for (const auto& inbox : *group) {
      running += inbox->running();
      settled = settled && inbox->settled();
    }
  }
  if (settled) {
    finish_stop();
    return;
  }
  if (running > 0 && !handlers_signalled_ && mono_now() - stop_started_ >= config_.shutdown_grace) {
    log_->warn("shutdown grace over: stopping {} running handlers", running);
    for (auto& inbox : inboxes_) inbox->stop_handlers(inbox->config().kill_grace);
    for (auto& inbox : retiring_) inbox->stop_handlers(inbox->config().kill_grace);
    handlers_signalled_ = true;
  }
}

void Application::finish_stop() {
  uv_timer_stop(stop_timer_.get());
  if (state_disk_.failing()) {
    // One last try; what is still unrecorded runs again after the restart
    // (its jobs are `running` in the queue), so nothing is lost.
    if (auto ok = check_state_disk(); !ok) {
      log_->error("outcomes not recorded at stop error={}: their jobs run again at the next start",
                  log::quote(ok.error().message));
    }
  }
  state_disk_.close();
  metrics_file_.write();  // the final counts
  metrics_file_.close();
  log_->info("inboxd stopped run={} {}", run_id_, run_summary());
  if (admin_) admin_->close();
  watchdog_.close();
  status_timer_.close();
  inboxes_.clear();
  retiring_.clear();
  commit_.close();
  runner_.reset();
  retire_timer_.close();
  sigterm_.close();
  sigint_.close();
  sighup_.close();
  stop_timer_.close();
  ready_timer_.close();
}

// Passes once the database takes a write again and every outcome kept in
// memory while it failed is recorded.
Result<void> Application::check_state_disk() {
  if (auto ok = store_->set_meta("last_write_check", std::to_string(wall_now_ms())); !ok) return ok;
  for (auto* list : {&inboxes_, &retiring_}) {
    for (auto& inbox : *list) {
      if (auto ok = inbox->record_deferred(); !ok) return ok;
    }
  }
  return {};
}

std::string Application::run_summary() const {
  std::int64_t queued = 0;
  for (const auto& inbox : config_.inboxes) {
    if (auto waiting = store_->waiting_count(inbox.name)) queued += *waiting;
  }
  const auto& s = services_.stats;
  return fmt::format("claimed={} done={} failed={} retried={} still_queued={}", s.claimed, s.done,
                     s.failed, s.retried, queued);
}

// SIGHUP (and the admin `reload`): the new file is read and validated
// completely; a bad file never replaces the running configuration. The
// difference is applied without dropping running jobs: changed inboxes are
// updated in place; an inbox whose path or work folders changed, or that was
// removed, stops claiming and starting and is kept until its running handlers
// finish; new inboxes start. Returns the configuration errors, if any.
std::vector<std::string> Application::reload_config() {
  notifier_.reloading();
  struct ReadyAgain {
    service::Notifier& notifier;
    ~ReadyAgain() { notifier.ready(); }
  } ready_again{notifier_};
  config::Config fresh;
  try {
    fresh = config::load_config(config_.file, config::Environment::from_process());
  } catch (const config::ConfigError& e) {
    for (const auto& message : e.messages()) log_->error("reload refused: {}", message);
    return e.messages();
  }
  if (fresh == config_) {
    log_->info("reload: configuration unchanged");
    return {};
  }
  if (fresh.state_dir != config_.state_dir || fresh.socket != config_.socket ||
      fresh.socket_mode != config_.socket_mode) {
    log_->warn("reload: state_dir, socket and socket_mode take effect at the next start");
    fresh.state_dir = config_.state_dir;
    fresh.socket = config_.socket;
    fresh.socket_mode = config_.socket_mode;
  }
  if (auto level = log::parse_level(fresh.log_level)) {
    log::setup(log::format_for(fresh.log_format == config::LogFormat::kJson), *level);
  }
  apply_inboxes(fresh.inboxes);
  if (admin_) admin_->update_access(fresh.admin_groups, fresh.socket_mode);
  bool metrics_moved = fresh.metrics_file != config_.metrics_file;
  config_ = std::move(fresh);
  if (metrics_moved) metrics_file_.set_path(config_.metrics_file);
  log_->info("reload: configuration applied inboxes={}", inboxes_.size());
  return {};
}

void Application::apply_inboxes(const std::vector<config::InboxConfig>& wanted) {
  std::vector<std::unique_ptr<Inbox>> next;
  for (const auto& inbox_config : wanted) {
    auto it = std::find_if(inboxes_.begin(), inboxes_.end(), [&](const auto& inbox) {
      return inbox && inbox->config().name == inbox_config.name;
    });
    if (it != inboxes_.end() && (*it)->can_update_to(inbox_config)) {
      if (!((*it)->config() == inbox_config)) (*it)->update_config(inbox_config);
      next.push_back(std::move(*it));
      continue;
    }
    if (it != inboxes_.end()) retire(std::move(*it));
    log_->info("reload: inbox added inbox={}", inbox_config.name);
    next.push_back(std::make_unique<Inbox>(services_, inbox_config));
    next.back()->start();
  }
  for (auto& left : inboxes_) {
    if (left) retire(std::move(left));
  }
  inboxes_ = std::move(next);
}

// A removed or replaced inbox stops claiming and starting handlers at once;
// it lives on until its running handlers have finished and been recorded.
void Application::retire(std::unique_ptr<Inbox> inbox) {
  log_->info("inbox retired inbox={} running_handlers={}", inbox->config().name, inbox->running());
  inbox->stop_intake();
  retiring_.push_back(std::move(inbox));
  uv_timer_start(
      retire_timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<Application*>(t->data);
        guarded(*self->log_, "retire", [self] {
          std::erase_if(self->retiring_,
                        [](const auto& old) { return old->settled() && !old->has_deferred(); });
          if (self->retiring_.empty()) uv_timer_stop(self->retire_timer_.get());
        });
      },
      0, 100);
}

}  // namespace inboxd::app
