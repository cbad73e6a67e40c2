#pragma once
// queue: the persistent job queue in SQLite (state_dir/queue.db).
//
// WAL, migrations driven by PRAGMA user_version. Every state transition is one
// transaction; several transitions gathered in one event-loop turn may share a
// transaction through batch(). Durability (below) is either an fsync per
// commit (synchronous=FULL) or grouped: commits are written without a sync
// and WalSync flushes many of them at once, off the loop thread. The store never
// holds the queue in memory: callers ask for the next runnable job when they
// have a free slot, so memory does not grow with the queue.
//
// File names are byte strings (std::string holding arbitrary bytes, stored as
// BLOB) and come back byte-exact.
//
// Threading: one QueueStore is used from one thread (the event loop). It knows
// nothing of libuv or the filesystem beyond its own database file.
//
// Errors name the operation and carry SQLite's message and extended result
// code ("queue: finish_attempt job=42: database or disk is full", code
// SQLITE_FULL), or one of the codes below for refusals of the store itself.
// A failed call leaves nothing of its writes behind, inside a batch too.
//
// Times are wall-clock epoch milliseconds supplied by the caller; the store
// never reads a clock.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "daemon/queue/sqlite.hpp"

namespace inboxd::queue {

// Error::code of a call naming a job id that does not exist (or is still
// `claiming`, which is not a job yet).
inline constexpr int kUnknownJob = SQLITE_NOTFOUND;
// Error::code of a move the job's state does not allow (e.g. a terminal job
// moved anywhere but back to queued, or an attempt number out of sequence).
inline constexpr int kBadTransition = SQLITE_CONSTRAINT;

// `claiming` is internal: a row recorded before its file was renamed into the
// spool. It is never runnable and never shown; see the claim protocol below.
enum class JobState { kClaiming, kQueued, kRunning, kRetryWait, kDone, kFailed, kCanceled };

std::string_view to_string(JobState state);
std::optional<JobState> parse_job_state(std::string_view text);
bool is_terminal(JobState state);

struct Job {
  std::int64_t id = 0;
  std::string inbox;
  std::string name;  // bytes
  std::string rel;   // bytes, relative to the inbox path
  JobState state = JobState::kQueued;
  std::int64_t size = 0;
  int attempts = 0;     // attempts started so far (counted ones)
  int budget_base = 0;  // attempts that came before the last `retry`
  EpochMs created_at = 0;
  EpochMs updated_at = 0;
  std::optional<EpochMs> next_attempt_at;  // retry_wait only
  std::optional<std::string> path;         // where the file is now; nullopt once deleted
  std::string last_error;
};

struct Attempt {
  std::int64_t job_id = 0;
  int attempt = 0;  // 1-based
  EpochMs started_at = 0;
  std::optional<EpochMs> finished_at;
  std::int64_t duration_ms = 0;
  std::optional<int> exit_code;       // null when killed by a signal
  std::optional<std::string> signal;  // "SIGKILL" or null
  bool timed_out = false;
  bool counted = true;  // false: cut short by a graceful stop
  std::string stdout_tail;
  std::string stderr_tail;
  std::int64_t pid = 0;              // handler pid (= its process group id)
  std::uint64_t pid_start_time = 0;  // /proc/<pid>/stat starttime, to tell pid reuse apart
};

struct Counts {
  std::int64_t queued = 0, running = 0, retry_wait = 0, done = 0, failed = 0, canceled = 0;
};

struct NewClaim {
  std::string inbox;
  std::string name;
  std::string rel;
  std::int64_t size = 0;
};

// How a transition ends a job or schedules it again.
struct Transition {
  std::int64_t job_id = 0;
  JobState state = JobState::kQueued;
  std::optional<EpochMs> next_attempt_at;
  std::optional<std::string> last_error;  // nullopt: unchanged
};

// kEachCommit: synchronous=FULL, except for the writes the claim protocol
// names below. kGrouped: synchronous=NORMAL for every commit; the caller
// makes commits durable with WalSync before any effect that must not outrun
// them, and within a bounded time otherwise (on_commit tells it when).
enum class Durability { kEachCommit, kGrouped };

class QueueStore {
 public:
  ~QueueStore();
  QueueStore(const QueueStore&) = delete;
  QueueStore& operator=(const QueueStore&) = delete;

  // Opens (creating if needed) the database and migrates it to the current
  // schema. Fails with a message naming the file.
  static Result<std::unique_ptr<QueueStore>> open(const std::filesystem::path& file,
                                                  Durability durability = Durability::kEachCommit);

  // Called after every commit this store makes (not inside a batch until it
  // commits). It must not use the store.
  void on_commit(std::function<void()> fn);

  // A grouped store: the bytes of commits in the WAL that no checkpoint has
  // copied into the database yet, as SQLite reported at the last commit
  // (sqlite3_wal_hook). The WAL file itself never shrinks below what it
  // once held, so its size says nothing about that. 0 for other stores.
  std::uint64_t wal_bytes() const { return wal_bytes_; }

  // A random identifier generated when the database was created; names this
  // daemon's spool folder on shared inboxes.
  const std::string& instance_id() const { return instance_id_; }

  // --- Claims -------------------------------------------------------------
  // Every job id comes from reserve_ids: above every id in use or handed out
  // before, with no write. An id handed out and never recorded is skipped,
  // never reused.
  Result<std::vector<std::int64_t>> reserve_ids(std::size_t count);
  // Ids reserved from now on are `id` or above. Ids a crashed process
  // handed out and never recorded may name spool folders that still hold
  // its files; a new claim must not be given one of those.
  Result<void> skip_ids_below(std::int64_t id);

  // A file whose rel is its name is claimed in one transaction after its
  // rename, since the spool holds everything such a claim records:
  // 1. the caller takes ids from reserve_ids;
  // 2. renames each file into the spool (its folder named after its id, or
  //    after the first id of the files that share it);
  // 3. record_claims records the renamed files as `queued` jobs.
  // A crash between 2 and 3 leaves spooled files without a job, which the
  // spool survey adopts (Inbox::adopt_orphans), as after a power loss; a
  // lone file is recorded where it is, under its folder's id, through
  // record_claims.
  // Fails (constraint), recording none, when an id belongs to a job already.
  struct SpooledClaim {
    std::int64_t id = 0;
    NewClaim claim;
    std::string spool_path;
  };
  Result<void> record_claims(std::span<const SpooledClaim> claims, EpochMs now);

  // A file in a subfolder (recursive inboxes) is recorded before its rename,
  // so that a crash cannot lose the folder it came from:
  // 1. begin_claims records each file as `claiming` (one transaction) and
  //    returns the new job ids in input order.
  // 2. The caller renames each file into the spool.
  // 3. finish_claims turns each renamed job `queued` with its spool path and
  //    deletes the rows whose rename failed (one transaction).
  // Recovery: a `claiming` row whose spool file exists becomes `queued`; one
  // whose spool file does not exist is deleted (the file is still in the drop
  // folder, or another daemon won it).
  // Either way a job is never runnable before its rename succeeded, and a
  // lost claim leaves no job.
  // Durability (kEachCommit): begin_claims is fsynced; finish_claims,
  // record_claims and start_attempt are not: WAL commits survive a crash of
  // the daemon, and after a power loss a lost finish_claims leaves
  // `claiming` rows that recovery settles from the spool, a lost
  // record_claims a spool folder that is adopted, a lost start_attempt a
  // `queued` job that runs again. The next fsynced commit makes them durable
  // too, since the WAL is written in order. (kGrouped: none is synced here;
  // the spool itself records a claim whose rows a power loss took.)
  Result<std::vector<std::int64_t>> begin_claims(std::span<const NewClaim> claims, EpochMs now);
  struct ClaimResult {
    std::int64_t job_id = 0;
    std::optional<std::string> spool_path;  // nullopt: rename failed, drop the row
  };
  Result<void> finish_claims(std::span<const ClaimResult> results, EpochMs now);
  Result<std::vector<Job>> pending_claims();

  // --- Running ------------------------------------------------------------
  // Runnable jobs of one inbox, oldest first: `queued` by claim order and
  // `retry_wait` whose next_attempt_at <= now by due time, merged by due time
  // (see schema.hpp for due_at). Uses an index; cost does not grow with the
  // number of finished or not-yet-due jobs. After the wall clock was stepped
  // back, queued jobs claimed "in the future" still come (after the others),
  // so a clock step never stalls the queue.
  Result<std::vector<Job>> next_runnable(std::string_view inbox, EpochMs now, int limit);
  // Earliest next_attempt_at among the inbox's retry_wait jobs, due or not
  // (a small partial index holds only retry_wait rows).
  Result<std::optional<EpochMs>> next_retry_due(std::string_view inbox);

  // Marks a queued or retry_wait job running, increments attempts and records
  // the attempt's start (pid filled later by set_attempt_pid). `attempt` must
  // be job.attempts + 1. An attempt cut short by a graceful stop gave its
  // number back (see finish_attempt); its record is replaced by this one.
  Result<void> start_attempt(std::int64_t job_id, int attempt, EpochMs now);
  Result<void> set_attempt_pid(std::int64_t job_id, int attempt, std::int64_t pid,
                               std::uint64_t pid_start_time);
  // Records the outcome of the job's running attempt (attempt.attempt must be
  // job.attempts; finished_at defaults to now; pid and start time are kept
  // from set_attempt_pid) and moves the job to transition.state. An attempt
  // with counted == false gives its number back (attempts - 1); its record
  // stays until the job's next attempt reuses the number.
  Result<void> finish_attempt(const Attempt& attempt, const Transition& transition, EpochMs now);
  // Moves a job without an attempt (cancel, admin retry, recovery).
  //
  // Allowed moves: claiming rows only move through finish_claims; running is
  // entered only by start_attempt; a terminal job only goes back to queued.
  // Effects beyond state: retry_wait requires next_attempt_at and is due
  // then; every other state clears next_attempt_at. A terminal job requeued
  // (admin retry) gets a fresh budget (budget_base = attempts) and is due
  // now; a retry_wait job requeued is due at once; a running job requeued
  // (recovery, graceful stop) keeps its due_at, so it goes back to the front.
  Result<void> transition(const Transition& transition, EpochMs now);
  // Where the job's file is now (nullopt once deleted).
  Result<void> set_path(std::int64_t job_id, std::optional<std::string> path, EpochMs now);

  // Runs fn inside one IMMEDIATE transaction: every call above made inside fn
  // joins it (group commit). Rolls back if fn returns an error. A batch
  // inside a batch joins the outer one (as a savepoint: its own error undoes
  // only its own writes). Each call inside keeps its own atomicity, so a
  // failed call leaves nothing half-written even if fn carries on.
  Result<void> batch(const std::function<Result<void>()>& fn);
  // Like batch(), for a caller that keeps nothing of fn when one of its
  // calls fails: the calls inside take no savepoint of their own (each
  // savepoint copies every page it changes, which cost more than the
  // commit it saved), and the first that fails dooms the transaction, which
  // then rolls back whatever fn returns. Inside another batch it is batch().
  Result<void> batch_whole(const std::function<Result<void>()>& fn);

  // --- Queries ------------------------------------------------------------
  Result<std::optional<Job>> job(std::int64_t id);
  // Visits the jobs with first <= id < end in id order (one walk of the
  // table's b-tree) until `visit` returns false. `visit` must not use the
  // store: the walk is still open while it runs.
  Result<void> visit_jobs_between(std::int64_t first, std::int64_t end,
                                  const std::function<bool(const Job&)>& visit);
  Result<std::vector<Attempt>> attempts(std::int64_t job_id);
  struct JobFilter {
    std::optional<std::string> inbox = std::nullopt;
    std::optional<JobState> state = std::nullopt;
    int limit = 100;
    std::optional<std::int64_t> before_id = std::nullopt;
  };
  // Newest first (id DESC), ids below before_id, at most limit (the caller
  // bounds it). `claiming` rows are never listed; job() does not find them.
  Result<std::vector<Job>> jobs(const JobFilter& filter);
  // Read from per-(inbox, state) counters that every change of a job's state
  // updates in the same transaction: O(1), no scan.
  Result<Counts> counts(std::string_view inbox);
  // queued + retry_wait, for max_queue.
  Result<std::int64_t> waiting_count(std::string_view inbox);
  // Due time of the oldest queued job (its claim or admin-retry time; see
  // schema.hpp), through the jobs_waiting index.
  Result<std::optional<EpochMs>> oldest_queued_at(std::string_view inbox);

  // --- Recovery -----------------------------------------------------------
  // Jobs left `running` by a previous process, with their last attempt (pid
  // and start time identify the handler's process group).
  Result<std::vector<std::pair<Job, Attempt>>> interrupted_jobs();

  // --- Facts about this database (the meta table) -------------------------
  // E.g. "boot_id": the boot in which the last daemon process ran.
  Result<std::optional<std::string>> meta(std::string_view key);
  Result<void> set_meta(std::string_view key, std::string_view value);

 private:
  // Names a call in error messages: "queue: <name> job=<job>: ...".
  struct Op {
    std::string_view name;
    std::int64_t job = 0;
  };

  QueueStore(sqlite::Database db, std::string instance_id, Durability durability);

  // Runs fn as one transaction, or as a savepoint inside batch(); puts op in
  // front of any error.
  template <class Fn>
  Result<void> atomically(Op op, Fn&& fn);
  // Runs fn with synchronous=NORMAL (no fsync at commit; see the claim
  // protocol's durability note), unless inside batch(), whose commit decides.
  template <class Fn>
  Result<void> without_fsync(const char* what, Fn&& fn);
  // Inside batch_whole(): runs fn without a savepoint; a failure dooms the
  // batch.
  template <class Context, class Fn>
  Result<void> doom_on_failure(Context&& context, Fn&& fn);
  // Tells on_commit_ of a commit that ended a transaction.
  void committed();

  sqlite::Database db_;
  std::string instance_id_;
  Durability durability_;
  std::function<void()> on_commit_;
  int batch_depth_ = 0;
  bool whole_ = false;           // inside batch_whole(): calls take no savepoint
  std::optional<Error> doomed_;  // the first call that failed inside batch_whole()
  Result<void> read_next_id();   // sets next_id_ from the database once
  std::int64_t next_id_ = 0;  // the next id reserve_ids may hand out; 0 until it read the database
  std::uint64_t page_size_ = 4096;
  std::uint64_t wal_bytes_ = 0;  // see wal_bytes()
};

}  // namespace inboxd::queue
