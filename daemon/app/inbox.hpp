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
// Every filesystem call on the drop folder (scans, stats, the renames of
// claims, outcome moves, reports) runs on the inbox's FolderWorker thread;
// the queue, the decisions and the handlers stay on the loop thread. A share
// that hangs therefore stalls only its own inbox, which shows `unavailable`
// ("not responding since ...") until the call returns, then opens again.
//
// Ownership: Application owns the Services and every Inbox, and destroys the
// inboxes before the services. Loop thread only.

#include <uv.h>

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/clock.hpp"
#include "common/uv_handle.hpp"
#include "daemon/admin/metrics_text.hpp"
#include "daemon/app/folder_tasks.hpp"
#include "daemon/app/folder_worker.hpp"
#include "daemon/app/group_commit.hpp"
#include "daemon/app/pid_table.hpp"
#include "daemon/app/state_disk.hpp"
#include "daemon/breaker/breaker.hpp"
#include "daemon/config/config.hpp"
#include "daemon/queue/queue_store.hpp"
#include "daemon/runner/handler_process.hpp"
#include "watcher/watcher.hpp"
#include "watcher/write_burst.hpp"

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
  StateDisk* state_disk = nullptr;    // failing writes pause claiming and starting
  GroupCommit* commit = nullptr;      // when the queue's commits reach the disk
  PidTable* pids = nullptr;           // running handlers, for the next process after a crash
  std::filesystem::path work_root;    // <state_dir>/work: per-attempt work dirs
  std::string instance_id;            // names this daemon's spool on shared folders
  std::vector<std::string> base_env;  // PATH, HOME, LANG, TZ from the daemon, when set
  std::mt19937_64 rng{std::random_device{}()};
  RunStats stats;
  // Observers (the admin socket's `watch` stream); either may be empty.
  std::function<void(const queue::Job& job, queue::JobState state, int attempt)> on_job;
  std::function<void(std::string_view inbox, std::string_view state)> on_inbox;
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
  // No handler runs and no folder work is pending (or the pending call is
  // stuck on a hung share and cannot be waited for).
  bool settled() const;
  // The first attempt to open the folder has finished (either way).
  bool opened_once() const { return opened_once_; }

  // pause: files are still claimed, no handler starts, until resume. resume
  // also closes a tripped breaker at once (and clears its window).
  void pause();
  void resume();
  // Applies a changed configuration with the same name, path and work
  // folders. Running handlers keep the settings they started with; watching
  // restarts if how the folder is watched changed.
  void update_config(const config::InboxConfig& next);
  // Whether `next` can be applied by update_config (else: replace the inbox).
  bool can_update_to(const config::InboxConfig& next) const;

  // Admin: stops a running job's handler (its group) and ends the job
  // `canceled`; a queued or waiting job is canceled at once. Returns false
  // when the job is not running here.
  bool cancel_running(std::int64_t job_id);
  void cancel_waiting(const queue::Job& job);
  // Admin retry: takes a failed or canceled job's file back into the spool
  // (removing its report) and queues it with a fresh attempt budget. The
  // move runs on the folder thread; an error here means it was not begun
  // (the file is gone, already being taken back, or still being placed).
  Result<void> requeue(const queue::Job& job);

  // Writes again, in order, the outcomes that could not be recorded while
  // the state disk failed; stops at the first that still fails.
  Result<void> record_deferred();
  bool has_deferred() const { return !deferred_.empty(); }
  // Claiming and starting resume (the state disk works again).
  void kick();

  // Counters since this daemon started, for metrics and status.
  struct Metrics {
    std::int64_t claimed = 0, done = 0, failed = 0, canceled = 0, retried = 0, timeouts = 0;
    std::int64_t attempts = 0;  // handler attempts finished (or failed to start)
    std::int64_t rescans = 0, overflows = 0;
    admin::Histogram durations;  // seconds per finished attempt
  };
  Metrics& metrics() { return metrics_; }
  // Completions per minute over the last five minutes (or since start).
  double rate_per_min() const;
  // "ok" or "degraded": inotify's watch limit forced polling, a scan is
  // failing or slow, or the inotify queue overflowed within the last
  // kOverflowNotice (its rescan has run; the notice lets people see it).
  std::string_view watch_health() const;
  // Why watching is degraded, else how the inbox is watched when that needs
  // saying (e.g. polling a network filesystem); empty otherwise.
  std::string watch_note() const;

  const config::InboxConfig& config() const { return config_; }
  InboxState state() const;
  const breaker::Breaker& breaker() const { return breaker_; }
  std::string_view watch_mode() const;

 private:
  struct Running {
    runner::RunId run = 0;
    int attempt = 0;
    EpochMs started_at = 0;
    std::filesystem::path work_dir;
    std::optional<std::size_t> pid_slot;  // in services_.pids
  };

  // Folder work: runs `work` on the worker thread, `done` back here.
  template <class T>
  void post(const std::string& what, std::function<T()> work, std::function<void(const T&)> done);
  // The same, or here at once for a short call on a local disk.
  template <class T>
  void call(const std::string& what, std::function<T()> work, std::function<void(const T&)> done);
  // The folder was opened and is on a local filesystem (not a share).
  bool on_local_disk() const;
  void check_responding();
  void reopen();

  // Watching and settling.
  void on_opened(const OpenResult& opened, const std::string& marker_key, bool first_open);
  void start_watching();
  void on_event(const watcher::Event& event);
  void scan(const std::string& rel_dir);
  // `started`: when the scan was asked for (forget_missing_writers).
  void on_scanned(const ScanResult& result, bool full, MonoTime started);
  bool overflow_recent() const;  // within kOverflowNotice of the last overflow
  void note_scan(const std::optional<Error>& error, MonoClock::duration took, std::size_t files);
  void observe_closed(const std::string& rel, MonoTime now);
  void stat_closed();
  void at_turn_end();
  void on_turn_end();
  void on_closed_stats(const StatResults& stats);
  void arm_settle_timer();
  void on_settle_timer();
  void on_settle_stats(const StatResults& stats);
  bool skip_dir(std::string_view rel_dir) const;

  // Claiming.
  std::size_t claim_room(MonoTime now);
  bool yielding(MonoTime now) const;
  bool yield_left(MonoTime now) const;
  void claim_batch(const std::vector<watcher::FileInfo>& files);
  std::vector<SpoolMove> spool_moves(const std::vector<queue::NewClaim>& claims,
                                     const std::vector<std::int64_t>& ids, bool share_folders);
  void on_claims_moved(const std::vector<queue::NewClaim>& claims,
                       const std::vector<std::int64_t>& ids,
                       const std::vector<std::filesystem::path>& targets, const ClaimMoves& moves,
                       bool recorded_first);
  const std::filesystem::path& spool_dir() const { return spool_dir_; }
  // spool/<folder_id>/<name>; folder_id is the job's own id unless the job
  // shares a folder with the files claimed with it (see kSpoolFolderSpan).
  std::filesystem::path spool_path(std::int64_t folder_id, std::string_view name) const;
  // Where a job's file waits while it is in the spool.
  std::filesystem::path spooled_file(const queue::Job& job) const;
  void close_open_folder(const std::filesystem::path& file);
  // spool/.free-<id>: the emptied folder of job `job_id`, kept for reuse.
  std::filesystem::path free_folder(std::int64_t job_id) const;
  void recover_claims();
  void on_survey(const std::vector<queue::Job>& claiming,
                 const std::vector<std::filesystem::path>& pending, const SpoolSurvey& survey);
  std::optional<SpoolSurvey::Folder> settle_spool_folder(const SpoolSurvey::Folder& folder);
  void adopt_orphans(const std::vector<SpoolSurvey::Folder>& folders);
  // A claimed file and what its claim found: the name of the file that
  // replaced it between examination and rename (empty if none).
  struct ClaimedFile {
    queue::Job job;
    std::string replaced_by;
  };
  ClaimedFile claimed_file(std::int64_t id, const queue::NewClaim& claim,
                           std::string spool_path) const;
  void on_claims_recorded(const std::vector<ClaimedFile>& claimed);
  void write_claims(std::function<Result<void>()> write, std::function<void()> then);
  void confirm_claims(std::vector<queue::QueueStore::ClaimResult> results,
                      std::function<void()> then);
  void confirm_spooled(const std::vector<std::int64_t>& ids,
                       const std::vector<queue::NewClaim>& claims,
                       const std::vector<std::optional<std::string>>& spooled);
  void record_claims(const std::vector<queue::NewClaim>& claims,
                     const std::vector<queue::QueueStore::ClaimResult>& results,
                     std::function<void()> then);
  void fail_too_large(const queue::Job& job);

  // Running.
  void pump();
  void pump_soon();
  void pump_round();
  void start_job(const queue::Job& job);
  void on_spool_checked(const queue::Job& job, const SpoolCheck& check);
  void launch(const queue::Job& job);
  // A job whose attempt start is written and whose handler is not started yet.
  struct Launch {
    queue::Job job;
    int attempt = 0;
    EpochMs started_at = 0;
    std::filesystem::path work_dir;
  };
  std::optional<Launch> begin_launch(const queue::Job& job);
  void abandon_launch(const Launch& launch);
  void spawn_handler(const Launch& launch);
  std::optional<std::size_t> record_pid(const queue::Job& job, int attempt, pid_t pid,
                                        std::uint64_t start);
  Result<std::filesystem::path> take_work_dir();
  void release_work_dir(const std::filesystem::path& dir);
  bool empty_folder(const std::filesystem::path& dir);  // false: something is left
  void on_handler_done(const queue::Job& job, const Running& run, runner::HandlerResult result);
  void record_spawn_failure(const queue::Job& job, int attempt, EpochMs started,
                            const Error& error);
  void conclude_failure(const queue::Job& job, const queue::Attempt& attempt,
                        const std::string& reason);
  // Ends a job: `file_gone` says there is no file to move.
  void finish_job(const queue::Job& job, const queue::Attempt* attempt, queue::JobState state,
                  const std::string& reason, bool file_gone = false);
  Result<void> record_outcome(const queue::Job& job, const std::optional<queue::Attempt>& attempt,
                              queue::JobState state, const std::string& reason, bool file_gone);
  Result<void> write_outcome(const queue::Job& job, const std::optional<queue::Attempt>& attempt,
                             queue::JobState state, const std::string& reason, bool file_gone,
                             EpochMs now);
  void outcome_recorded(const queue::Job& job, const std::optional<queue::Attempt>& attempt,
                        queue::JobState state, const std::string& reason, bool file_gone,
                        EpochMs now);
  void finish_and_start_next(const queue::Job& job, const queue::Attempt& attempt);
  // A write to the queue failed: pause via StateDisk; `retry`, when given,
  // writes it again later (in order, before anything else is recorded).
  void state_write_failed(const Error& error, std::function<Result<void>()> retry = {});
  // Places the file once the job's outcome is on disk (GroupCommit).
  void place_file(const queue::Job& job);
  void post_placements(std::vector<queue::Job> jobs);
  PlaceRequest placement_request(const queue::Job& job);
  void on_placed(const std::vector<PlaceRequest>& requests, const std::vector<PlaceResult>& placed);
  std::optional<int> files_left_in_folder(const std::filesystem::path& file);
  void on_taken_back(const queue::Job& job, const std::filesystem::path& target,
                     const TakeBack& taken);
  void arm_retry_timer();
  void arm_breaker_timer();
  void record_result(std::int64_t job_id, bool success);
  void abandon_probe(std::int64_t job_id);
  void publish_state();
  void publish_job(const queue::Job& job, queue::JobState state, int attempt);

  runner::HandlerSpec handler_spec(const queue::Job& job, int attempt,
                                   const std::filesystem::path& work_dir) const;
  std::string job_fields(const queue::Job& job, int attempt) const;

  Services& services_;
  config::InboxConfig config_;
  // <path>/.inboxd/<instance id>/spool: made once, asked for several times
  // per file (the path never changes: see can_update_to).
  std::filesystem::path spool_dir_;
  std::shared_ptr<spdlog::logger> log_;
  watcher::NameFilter filter_;
  watcher::SettleTracker settle_;
  bool available_ = false;
  bool paused_ = false;
  breaker::Breaker breaker_;
  std::optional<std::int64_t> probe_job_;
  std::optional<InboxState> published_state_;
  bool use_inotify_ = true;
  bool intake_stopped_ = false;
  bool stopping_handlers_ = false;
  std::unique_ptr<watcher::InotifyWatcher> inotify_;
  UvHandle<uv_timer_t> settle_timer_;
  UvHandle<uv_timer_t> scan_timer_;  // rescan_interval / poll_interval / unavailable retry
  UvHandle<uv_timer_t> retry_timer_;
  UvHandle<uv_timer_t> breaker_timer_;   // wakes the inbox when the cooldown ends
  UvHandle<uv_idle_t> pump_idle_;        // pump_soon()
  UvHandle<uv_check_t> turn_end_check_;  // at_turn_end()
  std::map<std::int64_t, Running> running_;
  struct WorkSlot {
    bool taken = false;
    bool empty = false;  // emptied at its last release; not yet known at start
  };
  std::vector<WorkSlot> work_slots_;
  std::set<std::int64_t> cancel_requested_;
  std::deque<std::function<Result<void>()>> deferred_;  // unrecorded outcomes, oldest first
  Metrics metrics_;
  std::deque<MonoTime> completions_;  // finish times within the rate window
  MonoTime started_at_ = mono_now();
  std::string watch_note_;              // why this watch mode (e.g. an NFS mount is polled)
  std::string watch_limit_note_;        // set once inotify ran out of watches: poll from then on
  std::string scan_note_;               // the last full scan failed or was slow
  MonoTime overflow_at_{};              // last inotify queue overflow
  std::vector<std::string> skip_rels_;  // spool, done and failed folders inside the inbox
  MonoTime backlog_until_{};            // max_queue reached or claims failing: wait until then
  std::optional<watcher::Filesystem> filesystem_;  // what the folder was on when opened
  std::string unavailable_note_;                   // why the folder could not be opened
  // Folder work in flight. At most one open, one full scan, one settle round
  // (stat, then claim) and one stat of closed files run at a time.
  bool opening_ = false;
  bool opened_once_ = false;
  bool scanning_ = false;
  bool rescan_wanted_ = false;  // a full scan was asked for while one ran
  bool settling_ = false;
  bool stating_closed_ = false;
  std::vector<std::string> closed_;  // closed by their writer, to be stat'ed
  watcher::WriteBurst burst_;        // is a writer filling the folder fast? (claim_room)
  MonoTime yield_began_{};           // claims wait for the burst since then
  bool starved_ = false;             // at the last pump: idle slots, nothing runnable
  // Per rel: closes whose stat is pending; a new write or a removal in the
  // meantime voids them (the next close brings a fresh stat).
  std::map<std::string, int> closing_;
  // Spool check before the handler starts, or (held_launches_) its start
  // waits for the commit it shares with a finished job.
  std::set<std::int64_t> starting_;
  std::optional<std::vector<Launch>> held_launches_;  // see finish_and_start_next
  bool pumping_ = false;                              // inside pump()
  bool pump_again_ = false;                           // pump() was asked for meanwhile
  std::vector<std::int64_t> kept_folders_;  // ids of empty spool folders to reuse (free_folder)
  // Spool folder -> files this run moved into it that have not left it yet.
  std::map<std::filesystem::path, int> folder_files_;
  std::size_t keeping_ = 0;  // placements that may keep their folder
  // The spool folder that claims join (see kSpoolFolderSpan): its id and
  // the names in it. Local disks only.
  struct OpenFolder {
    std::int64_t id = 0;
    std::unordered_set<std::string> names;
  };
  std::optional<OpenFolder> open_folder_;
  int committing_ = 0;  // placements waiting for their outcome's sync, or in placeable_
  std::vector<queue::Job> placeable_;  // outcomes on disk, files not yet posted (place_file)
  std::shared_ptr<int> life_ = std::make_shared<int>(0);  // expires with the Inbox
  std::set<std::int64_t> taking_back_;                    // admin retry moving the file back
  std::set<std::int64_t> placing_;           // terminal jobs whose file is not placed yet
  std::optional<FolderWorker::Busy> stuck_;  // a folder call that has not returned
  UvHandle<uv_timer_t> health_timer_;        // looks for a stuck call while work is pending
  FolderWorker worker_;  // last: destroyed first, so no `done` outlives the rest
};

}  // namespace inboxd::app
