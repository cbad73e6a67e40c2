#pragma once
// queue statements: every SQL statement the queue store runs on the schema in
// schema.cpp. They live here, apart from the code, so tests can check their
// query plans (EXPLAIN QUERY PLAN) on exactly the text the store prepares.
//
// Job rows are always read with kJobColumns in this order; see read_job() in
// queue_store.cpp.

#include <string>
#include <string_view>

namespace inboxd::queue::sql {

#define INBOXD_QUEUE_JOB_COLUMNS                                                       \
  "id, inbox, name, rel, state, size, attempts, budget_base, created_at, updated_at, " \
  "next_attempt_at, path, last_error"

#define INBOXD_QUEUE_ATTEMPT_COLUMNS                                                      \
  "job_id, attempt, started_at, finished_at, duration_ms, exit_code, signal, timed_out, " \
  "counted, stdout_tail, stderr_tail, pid, pid_start_time"

inline constexpr const char* kJobColumns = INBOXD_QUEUE_JOB_COLUMNS;

// --- Claims -------------------------------------------------------------------

// Every new row takes an id from QueueStore::reserve_ids: ids are known
// before a file's rename, which names its spool folder after the id (or
// after the id of the first file in a shared folder, see app::kSpoolFolderSpan).
inline constexpr const char* kInsertClaim =
    "INSERT INTO jobs (id, inbox, name, rel, state, size, created_at, updated_at, due_at) "
    "VALUES (?6, ?1, ?2, ?3, 'claiming', ?4, ?5, ?5, ?5)";

// A file renamed into spool/<id>/ already: queued at once.
inline constexpr const char* kInsertSpooled =
    "INSERT INTO jobs (id, inbox, name, rel, state, size, created_at, updated_at, due_at, path) "
    "VALUES (?6, ?1, ?2, ?3, 'queued', ?4, ?5, ?5, ?5, ?7)";

// The highest id ever used (AUTOINCREMENT keeps it, also for explicit ids).
inline constexpr const char* kLastJobId = "SELECT seq FROM sqlite_sequence WHERE name = 'jobs'";

inline constexpr const char* kQueueClaim =
    "UPDATE jobs SET state = 'queued', path = ?2, updated_at = ?3 "
    "WHERE id = ?1 AND state = 'claiming'";

inline constexpr const char* kDropClaim = "DELETE FROM jobs WHERE id = ?1 AND state = 'claiming'";

inline constexpr const char* kPendingClaims =
    "SELECT " INBOXD_QUEUE_JOB_COLUMNS " FROM jobs WHERE state = 'claiming' ORDER BY id";

// --- Runnable work --------------------------------------------------------------

// Everything waiting whose due time has come, oldest first: queued jobs (due
// since their claim) and retry_wait jobs whose next_attempt_at has passed. A
// bounded range of the partial index jobs_waiting, in index order.
inline constexpr const char* kNextRunnable =
    "SELECT " INBOXD_QUEUE_JOB_COLUMNS
    " FROM jobs WHERE inbox = ?1 AND state IN ('queued', 'retry_wait') AND due_at <= ?2 "
    "ORDER BY due_at, id LIMIT ?3";

// Queued jobs whose due_at lies ahead of `now`: only after the wall clock was
// stepped back. Run only when kNextRunnable came up short; the range of
// jobs_waiting past `now` holds them and the retries not yet due.
inline constexpr const char* kNextRunnableAhead =
    "SELECT " INBOXD_QUEUE_JOB_COLUMNS
    " FROM jobs WHERE inbox = ?1 AND state IN ('queued', 'retry_wait') AND state = 'queued' "
    "AND due_at > ?2 ORDER BY due_at, id LIMIT ?3";

inline constexpr const char* kNextRetryDue =
    "SELECT min(due_at) FROM jobs WHERE inbox = ?1 AND state = 'retry_wait'";

inline constexpr const char* kOldestQueued =
    "SELECT due_at FROM jobs "
    "WHERE inbox = ?1 AND state IN ('queued', 'retry_wait') AND state = 'queued' "
    "ORDER BY due_at, id LIMIT 1";

// --- Transitions ----------------------------------------------------------------

inline constexpr const char* kJobForMove =
    "SELECT state, attempts, budget_base, due_at, inbox FROM jobs WHERE id = ?1";

inline constexpr const char* kMoveJob =
    "UPDATE jobs SET state = ?2, attempts = ?3, budget_base = ?4, due_at = ?5, "
    "next_attempt_at = ?6, last_error = coalesce(?7, last_error), updated_at = ?8 WHERE id = ?1";

// The record of an attempt cut short by a graceful stop, whose number the
// next attempt takes over.
inline constexpr const char* kDropUncountedAttempt =
    "DELETE FROM attempts WHERE job_id = ?1 AND attempt = ?2 AND counted = 0";

inline constexpr const char* kInsertAttempt =
    "INSERT INTO attempts (job_id, attempt, started_at) VALUES (?1, ?2, ?3)";

inline constexpr const char* kSetAttemptPid =
    "UPDATE attempts SET pid = ?3, pid_start_time = ?4 WHERE job_id = ?1 AND attempt = ?2";

inline constexpr const char* kFinishAttempt =
    "UPDATE attempts SET finished_at = ?3, duration_ms = ?4, exit_code = ?5, signal = ?6, "
    "timed_out = ?7, counted = ?8, stdout_tail = ?9, stderr_tail = ?10 "
    "WHERE job_id = ?1 AND attempt = ?2";

inline constexpr const char* kSetPath =
    "UPDATE jobs SET path = ?2, updated_at = ?3 WHERE id = ?1 AND state <> 'claiming'";

// --- Queries --------------------------------------------------------------------

inline constexpr const char* kJob =
    "SELECT " INBOXD_QUEUE_JOB_COLUMNS " FROM jobs WHERE id = ?1 AND state <> 'claiming'";

inline constexpr const char* kJobsBetween =
    "SELECT " INBOXD_QUEUE_JOB_COLUMNS
    " FROM jobs WHERE id >= ?1 AND id < ?2 AND state <> 'claiming'";

inline constexpr const char* kAttempts =
    "SELECT " INBOXD_QUEUE_ATTEMPT_COLUMNS " FROM attempts WHERE job_id = ?1 ORDER BY attempt";

inline constexpr const char* kLastAttempt =
    "SELECT " INBOXD_QUEUE_ATTEMPT_COLUMNS
    " FROM attempts WHERE job_id = ?1 ORDER BY attempt DESC LIMIT 1";

// jobs(): newest first, below ?1 (before_id), at most ?2 rows. One statement
// per filter combination, so each walks its own index in id order.
inline constexpr const char* kJobsAll =
    "SELECT " INBOXD_QUEUE_JOB_COLUMNS
    " FROM jobs WHERE id < ?1 AND state <> 'claiming' ORDER BY id DESC LIMIT ?2";

inline constexpr const char* kJobsByInbox =
    "SELECT " INBOXD_QUEUE_JOB_COLUMNS
    " FROM jobs WHERE inbox = ?3 AND id < ?1 AND state <> 'claiming' ORDER BY id DESC LIMIT ?2";

// jobs() with a state: the state is spelled into the statement (one prepared
// statement per state), because SQLite uses a partial index only when the
// statement itself implies the index's condition. `done` rows are in neither
// state index (schema version 2): newest first they come from the rowid, or
// from jobs_by_inbox. Waiting rows are in neither either (version 3): they
// come from jobs_waiting, per inbox (every inbox with jobs has counts), and
// are sorted by id, at most max_queue of them per inbox.
inline std::string jobs_in_state(std::string_view state, bool of_inbox) {
  const bool waiting = state == "queued" || state == "retry_wait";
  std::string sql = std::string("SELECT ") + kJobColumns + " FROM jobs ";
  // Left to itself the planner walks jobs_by_inbox, past every done job.
  if (waiting) sql += "INDEXED BY jobs_waiting ";
  sql += "WHERE ";
  if (of_inbox) {
    sql += "inbox = ?3 AND ";
  } else if (waiting) {
    sql += "inbox IN (SELECT DISTINCT inbox FROM job_counts) AND ";
  }
  if (waiting) sql += "state IN ('queued', 'retry_wait') AND ";
  sql += "state = '";
  sql += state;
  sql += "' AND id < ?1 ORDER BY id DESC LIMIT ?2";
  return sql;
}

// A counter change is an UPDATE, and an INSERT only for the first job of an
// (inbox, state): an UPSERT would need a statement journal on every call.
inline constexpr const char* kAdjustCount =
    "UPDATE job_counts SET n = n + ?3 WHERE inbox = ?1 AND state = ?2";

inline constexpr const char* kInsertCount =
    "INSERT INTO job_counts (inbox, state, n) VALUES (?1, ?2, ?3)";

inline constexpr const char* kCounts = "SELECT state, n FROM job_counts WHERE inbox = ?1";

inline constexpr const char* kWaitingCount =
    "SELECT coalesce(sum(n), 0) FROM job_counts "
    "WHERE inbox = ?1 AND state IN ('queued', 'retry_wait')";

// --- Recovery -------------------------------------------------------------------

inline constexpr const char* kRunningJobs =
    "SELECT " INBOXD_QUEUE_JOB_COLUMNS " FROM jobs WHERE state = 'running' ORDER BY id";

#undef INBOXD_QUEUE_JOB_COLUMNS
#undef INBOXD_QUEUE_ATTEMPT_COLUMNS

}  // namespace inboxd::queue::sql
