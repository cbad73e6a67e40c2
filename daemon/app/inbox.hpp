#pragma once
// app: the application object that wires the pieces together. Data flow per
// inbox:
//
//   watcher event / scan -> SettleTracker -> claim (queue row + rename into the
//   spool) -> QueueStore -> Runner (handler attempt) -> outcome (done/failed
//   folder, report) -> QueueStore
//
// Inbox owns one drop folder's watching, settling, claiming and scheduling of
// handlers. It holds no queue in memory: when a handler slot is free it asks
// the store for the next runnable job.
//
// Ownership: Application owns the Services and every Inbox, and destroys the
// inboxes before the services. Loop thread only.

#include <uv.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/uv_handle.hpp"
#include "daemon/config/config.hpp"
#include "daemon/queue/queue_store.hpp"
#include "daemon/runner/handler_process.hpp"
#include "watcher/watcher.hpp"

namespace spdlog {
class logger;
}

namespace inboxd::app {

// What this run of the daemon did, for the stop line.
struct RunStats {
  std::int64_t claimed = 0;
  std::int64_t done = 0;
  std::int64_t failed = 0;
  std::int64_t retried = 0;
};

// Shared services an Inbox uses; owned by Application, outlive every Inbox.
struct Services {
  uv_loop_t* loop = nullptr;
  queue::QueueStore* store = nullptr;
  runner::Runner* runner = nullptr;
  std::filesystem::path work_root;         // <state_dir>/work: per-attempt work dirs
  std::string instance_id;                 // names this daemon's spool on shared folders
  std::vector<std::string> base_env;       // PATH, HOME, LANG, TZ from the daemon, when set
  std::mt19937_64 rng{std::random_device{}()};
  RunStats stats;
};

enum class InboxState { kActive, kPaused, kTripped, kUnavailable };
std::string_view to_string(InboxState state);

class Inbox {
 public:
  Inbox(Services& services, config::InboxConfig config);
  ~Inbox();
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Recovers this inbox's own claims, creates the spool/done/failed folders,
  // starts watching and scans what is already there. A missing or unreadable
  // path makes the inbox `unavailable` and is retried every poll_interval.
  void start();

  // Graceful stop, step 1: stop watching, claiming and starting handlers.
  void stop_intake();
  // Graceful stop, step 2: stop running handlers (SIGTERM, SIGKILL after
  // grace). Their jobs go back to `queued` without counting the attempt.
  void stop_handlers(Millis grace);
  std::size_t running() const { return running_.size(); }

  const config::InboxConfig& config() const { return config_; }
  InboxState state() const { return state_; }
  std::string_view watch_mode() const;

 private:
  struct Running {
    runner::RunId run = 0;
    int attempt = 0;
    EpochMs started_at = 0;
    std::filesystem::path work_dir;
  };

  // Watching and settling.
  bool try_open();
  void start_watching();
  void on_event(const watcher::Event& event);
  void scan(std::string_view rel_dir);
  void observe_closed(const std::string& rel);
  void arm_settle_timer();
  void on_settle_timer();
  bool skip_dir(std::string_view rel_dir) const;

  // Claiming.
  void claim_batch(const std::vector<watcher::FileInfo>& files);
  std::filesystem::path spool_dir() const;
  std::filesystem::path spool_path(std::int64_t job_id, std::string_view name) const;
  void recover_claims();
  void fail_too_large(const queue::Job& job);

  // Running.
  void pump();
  void start_job(const queue::Job& job);
  void on_handler_done(const queue::Job& job, const Running& run, runner::HandlerResult result);
  void record_spawn_failure(const queue::Job& job, int attempt, EpochMs started, const Error& error);
  void conclude_failure(const queue::Job& job, const queue::Attempt& attempt,
                        const std::string& reason);
  void finish_job(const queue::Job& job, const queue::Attempt* attempt, queue::JobState state,
                  const std::string& reason);
  void place_file(const queue::Job& job, const std::optional<std::string>& target);
  void arm_retry_timer();

  runner::HandlerSpec handler_spec(const queue::Job& job, int attempt,
                                   const std::filesystem::path& work_dir) const;
  std::string job_fields(const queue::Job& job, int attempt) const;

  Services& services_;
  config::InboxConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  watcher::NameFilter filter_;
  watcher::SettleTracker settle_;
  InboxState state_ = InboxState::kUnavailable;
  bool use_inotify_ = true;
  bool intake_stopped_ = false;
  bool stopping_handlers_ = false;
  std::unique_ptr<watcher::InotifyWatcher> inotify_;
  UvHandle<uv_timer_t> settle_timer_;
  UvHandle<uv_timer_t> scan_timer_;    // rescan_interval / poll_interval / unavailable retry
  UvHandle<uv_timer_t> retry_timer_;
  std::map<std::int64_t, Running> running_;
  std::vector<std::string> skip_rels_;  // spool, done and failed folders inside the inbox
  MonoTime backlog_until_{};            // max_queue reached or claims failing: wait until then
};

}  // namespace inboxd::app
