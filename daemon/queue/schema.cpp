#include "daemon/queue/schema.hpp"

#include <fmt/format.h>
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <iterator>
#include <span>
#include <string>

#include "common/sys_error.hpp"

namespace inboxd::queue::schema {
namespace {

// Version 1. The partial index jobs_waiting holds only queued and retry_wait
// rows, so finding runnable work costs the same with a million finished jobs.
// Conditions evaluated on every write spell out lists of more than two values
// as OR chains: SQLite builds a temporary b-tree for such an IN list each time
// a statement runs, which made every insert and update several times slower.
// AUTOINCREMENT keeps job ids from ever being reused, even after a dropped
// claim: a job number means one file forever.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE jobs (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  inbox           TEXT    NOT NULL,
  name            BLOB    NOT NULL,
  rel             BLOB    NOT NULL,
  state           TEXT    NOT NULL CHECK (state = 'claiming' OR state = 'queued'
                                          OR state = 'running' OR state = 'retry_wait'
                                          OR state = 'done' OR state = 'failed'
                                          OR state = 'canceled'),
  size            INTEGER NOT NULL DEFAULT 0,
  attempts        INTEGER NOT NULL DEFAULT 0,
  budget_base     INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  next_attempt_at INTEGER,
  due_at          INTEGER NOT NULL,
  path            BLOB,
  last_error      TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX jobs_waiting ON jobs (inbox, due_at, id) WHERE state IN ('queued', 'retry_wait');
CREATE INDEX jobs_retry_due ON jobs (inbox, due_at) WHERE state = 'retry_wait';
CREATE INDEX jobs_by_inbox ON jobs (inbox);
CREATE INDEX jobs_by_inbox_state ON jobs (inbox, state);
CREATE INDEX jobs_by_state ON jobs (state);
CREATE INDEX jobs_settled_path ON jobs (path)
  WHERE (state = 'done' OR state = 'failed' OR state = 'canceled') AND path IS NOT NULL;

CREATE TABLE attempts (
  job_id         INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt        INTEGER NOT NULL,
  started_at     INTEGER NOT NULL,
  finished_at    INTEGER,
  duration_ms    INTEGER NOT NULL DEFAULT 0,
  exit_code      INTEGER,
  signal         TEXT,
  timed_out      INTEGER NOT NULL DEFAULT 0,
  counted        INTEGER NOT NULL DEFAULT 1,
  stdout_tail    BLOB    NOT NULL DEFAULT x'',
  stderr_tail    BLOB    NOT NULL DEFAULT x'',
  pid            INTEGER NOT NULL DEFAULT 0,
  pid_start_time INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (job_id, attempt)
);

-- Jobs per (inbox, state) for every state but claiming, changed by the store
-- in the same transaction as the job rows. Not triggers: a trigger makes
-- every insert and update keep a statement journal, which more than doubled
-- the cost of a claim.
CREATE TABLE job_counts (
  inbox TEXT    NOT NULL,
  state TEXT    NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (inbox, state)
) WITHOUT ROWID;

)sql";

// Version 2: fewer index pages written per job. Every change of a job's
// state rewrote an entry in jobs_by_state and jobs_by_inbox_state, and the
// end of a job added one to indexes that grew with the history; finished
// jobs are the great majority, so those indexes now leave `done` rows out
// (done jobs are listed newest first through the rowid or jobs_by_inbox).
// jobs_settled_path served a recovery that reads the spool instead now.
// Together this took the WAL pages written per job from 29.4 to 24.2
// (queue_bench --lifecycle).
constexpr const char* kSchemaV2 = R"sql(
DROP INDEX jobs_settled_path;
DROP INDEX jobs_by_state;
DROP INDEX jobs_by_inbox_state;
CREATE INDEX jobs_by_state ON jobs (state)
  WHERE state = 'claiming' OR state = 'queued' OR state = 'running' OR state = 'retry_wait'
     OR state = 'failed' OR state = 'canceled';
CREATE INDEX jobs_by_inbox_state ON jobs (inbox, state)
  WHERE state = 'claiming' OR state = 'queued' OR state = 'running' OR state = 'retry_wait'
     OR state = 'failed' OR state = 'canceled';
)sql";

// Version 3: the state indexes leave waiting jobs out too. Every job entered
// both of them at its claim and left them again at its start, while
// jobs_waiting already holds every queued and retry_wait job per inbox, in
// the order they run. What remains in them (claiming, running, failed,
// canceled) changes at most twice per job. 21 -> 17 WAL writes per file
// (perf stat over 3,000 files).
constexpr const char* kSchemaV3 = R"sql(
DROP INDEX jobs_by_state;
DROP INDEX jobs_by_inbox_state;
CREATE INDEX jobs_by_state ON jobs (state)
  WHERE state = 'claiming' OR state = 'running' OR state = 'failed' OR state = 'canceled';
CREATE INDEX jobs_by_inbox_state ON jobs (inbox, state)
  WHERE state = 'claiming' OR state = 'running' OR state = 'failed' OR state = 'canceled';
)sql";

// 128 random bits as 32 lowercase hex digits.
Result<std::string> random_instance_id() {
  std::array<unsigned char, 16> bytes{};
  std::span<unsigned char> rest(bytes);
  while (!rest.empty()) {
    ssize_t got = ::getrandom(rest.data(), rest.size(), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail_errno("getrandom", "");
    rest = rest.subspan(static_cast<std::size_t>(got));
  }
  std::string id;
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  return id;
}

Result<void> create_v1(sqlite::Database& db) {
  if (auto ok = db.exec(kSchemaV1); !ok) return ok;
  auto id = random_instance_id();
  if (!id) return fail(id.error());
  auto stmt = db.statement("INSERT INTO meta (key, value) VALUES ('instance_id', ?1)");
  if (!stmt) return fail(stmt.error());
  (*stmt)->bind_text(1, *id);
  return (*stmt)->run();
}

Result<void> leave_done_jobs_out_of_state_indexes(sqlite::Database& db) {
  return db.exec(kSchemaV2);
}

Result<void> leave_waiting_jobs_out_of_state_indexes(sqlite::Database& db) {
  return db.exec(kSchemaV3);
}

struct Step {
  int version;
  Result<void> (*apply)(sqlite::Database& db);
};

// Append new steps at the end; never edit a released one.
constexpr Step kSteps[] = {
    {1, create_v1},
    {2, leave_done_jobs_out_of_state_indexes},
    {3, leave_waiting_jobs_out_of_state_indexes},
};

constexpr bool steps_are_consecutive() {
  for (std::size_t i = 0; i < std::size(kSteps); ++i) {
    if (kSteps[i].version != static_cast<int>(i) + 1) return false;
  }
  return true;
}
static_assert(steps_are_consecutive(), "migration steps must be numbered 1, 2, 3, ...");

Result<void> set_user_version(sqlite::Database& db, int version) {
  // PRAGMA takes no bound parameters; the version is our own integer.
  return db.exec(fmt::format("PRAGMA user_version = {}", version).c_str());
}

Result<void> apply_step(sqlite::Database& db, const Step& step) {
  auto tx = sqlite::Transaction::begin(db);
  if (!tx) return fail(tx.error());
  // Another process may have migrated between our check and the write lock.
  auto version = user_version(db);
  if (!version) return fail(version.error());
  if (*version >= step.version) return {};
  if (auto ok = step.apply(db); !ok) {
    return fail(fmt::format("migration to schema version {}: {}", step.version, ok.error().message),
                ok.error().code);
  }
  if (auto ok = set_user_version(db, step.version); !ok) return ok;
  return tx->commit();
}

}  // namespace

int current_version() { return kSteps[std::size(kSteps) - 1].version; }

Result<int> user_version(sqlite::Database& db) {
  auto stmt = db.statement("PRAGMA user_version");
  if (!stmt) return fail(stmt.error());
  auto row = (*stmt)->step();
  if (!row) return fail(row.error());
  if (!*row) return 0;
  return static_cast<int>((*stmt)->column_int(0));
}

Result<int> known_version(sqlite::Database& db) {
  auto version = user_version(db);
  if (!version) return fail(version.error());
  if (*version > current_version()) {
    return fail(
        fmt::format("created by a newer inboxd (schema version {}, this one knows up to {})",
                    *version, current_version()));
  }
  return version;
}

Result<void> migrate(sqlite::Database& db) {
  auto version = known_version(db);
  if (!version) return fail(version.error());
  for (const Step& step : kSteps) {
    if (step.version <= *version) continue;
    if (auto ok = apply_step(db, step); !ok) return ok;
  }
  return {};
}

}  // namespace inboxd::queue::schema
