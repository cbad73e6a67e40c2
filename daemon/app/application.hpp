#pragma once
// Application: the daemon's top-level object. It owns the queue store, the
// runner and every Inbox, recovers what a previous process left behind, turns
// signals into a graceful stop (SIGTERM/SIGINT) or a reload (SIGHUP), and
// writes the start and stop lines.
//
// Ownership: created and run on the loop thread; run() returns when every
// handle it opened is closed.

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "common/uv_handle.hpp"
#include "daemon/admin/admin_backend.hpp"
#include "daemon/admin/admin_server.hpp"
#include "daemon/admin/metrics_text.hpp"
#include "daemon/admin/protocol.hpp"
#include "daemon/app/inbox.hpp"
#include "daemon/app/metrics_file.hpp"
#include "daemon/app/state_lock.hpp"
#include "daemon/config/config.hpp"
#include "daemon/queue/queue_store.hpp"
#include "daemon/runner/handler_process.hpp"
#include "daemon/service/notifier.hpp"
#include "daemon/service/watchdog_timer.hpp"

namespace inboxd::app {

class Application final : public admin::Backend {
 public:
  // `store` was opened with queue::Durability::kGrouped; `wal` syncs it.
  Application(uv_loop_t* loop, config::Config config, StateLock lock,
              std::unique_ptr<queue::QueueStore> store, std::shared_ptr<queue::WalSync> wal);
  ~Application();
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Recovers, starts every inbox and runs the loop until a graceful stop has
  // finished. Returns the process exit code.
  int run();

  // admin::Backend: the admin socket's commands (loop thread).
  std::vector<admin::InboxStatus> status() override;
  std::vector<queue::Job> jobs(const queue::QueueStore::JobFilter& filter) override;
  admin::JobDetail job(std::int64_t id) override;
  std::string metrics() override;
  void retry(std::int64_t id) override;
  std::vector<std::int64_t> retry_all(queue::JobState state,
                                      const std::optional<std::string>& inbox) override;
  void cancel(std::int64_t id) override;
  void pause(const std::string& inbox) override;
  void resume(const std::string& inbox) override;
  void reload() override;

 private:
  Inbox& inbox_named(const std::string& name);
  Inbox* inbox_of(const queue::Job& job);
  queue::Job existing_job(std::int64_t id);
  void update_status_line();
  void check_ready();
  void recover_interrupted_jobs(const std::vector<PidTable::Record>& left);
  void begin_stop(int signum);
  void on_stop_tick();
  void finish_stop();
  Result<void> check_state_disk();
  std::vector<std::string> reload_config();
  void apply_inboxes(const std::vector<config::InboxConfig>& wanted);
  void retire(std::unique_ptr<Inbox> inbox);
  std::string run_summary() const;

  uv_loop_t* loop_;
  config::Config config_;
  StateLock lock_;
  std::unique_ptr<queue::QueueStore> store_;
  std::unique_ptr<runner::Runner> runner_;
  StateDisk state_disk_;
  GroupCommit commit_;  // outlives the inboxes, whose placements wait on it
  PidTable pids_;       // <state_dir>/handlers
  Services services_;
  std::vector<std::unique_ptr<Inbox>> inboxes_;
  std::vector<std::unique_ptr<Inbox>> retiring_;  // removed/replaced, handlers still running
  std::shared_ptr<spdlog::logger> log_;
  std::string run_id_;
  UvHandle<uv_signal_t> sigterm_;
  UvHandle<uv_signal_t> sigint_;
  UvHandle<uv_signal_t> sighup_;
  UvHandle<uv_timer_t> stop_timer_;
  UvHandle<uv_timer_t> retire_timer_;
  MonoTime stop_started_{};
  bool stopping_ = false;
  service::Notifier notifier_ = service::Notifier::from_environment();
  service::WatchdogTimer watchdog_{loop_, notifier_};
  std::unique_ptr<admin::AdminServer> admin_;
  UvHandle<uv_timer_t> status_timer_;
  UvHandle<uv_timer_t> ready_timer_;  // until every inbox was opened once
  MonoTime ready_since_{};
  static constexpr auto kReadyWait = std::chrono::seconds(5);
  MetricsFile metrics_file_{loop_, [this] { return metrics(); }};
  bool handlers_signalled_ = false;
};

}  // namespace inboxd::app
