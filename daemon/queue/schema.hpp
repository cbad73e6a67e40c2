#pragma once
// queue schema: the database layout and its migrations.
//
// PRAGMA user_version is the schema version. Migrations are an ordered list of
// steps; each step brings the database from version N-1 to N in its own
// transaction, so an interrupted upgrade resumes at the first missing step. A
// new version is one more step appended to the list; existing steps never
// change once released.
//
// Layout (version 1):
//   jobs        one row per file; name, rel and path are BLOBs (exact bytes).
//               due_at orders runnable work: the claim time for fresh jobs,
//               next_attempt_at while in retry_wait, the time of an admin
//               retry. A job requeued from `running` keeps its due_at.
//   attempts    one row per handler attempt, keyed (job_id, attempt).
//   job_counts  jobs per (inbox, state), claiming rows aside, updated by the
//               store with every change of a job's state, so status never
//               scans jobs.
//   meta        key/value; holds instance_id.
// Version 2 keeps `done` jobs out of the two state indexes (see schema.cpp).

#include "common/result.hpp"
#include "daemon/queue/sqlite.hpp"

namespace inboxd::queue::schema {

// The newest version this build knows.
int current_version();

// The database's PRAGMA user_version (0 for a new, empty file).
Result<int> user_version(sqlite::Database& db);

// user_version, or an error if it is newer than this build knows: such a
// database is refused before anything writes to it.
Result<int> known_version(sqlite::Database& db);

// Applies every step above the database's version, each in its own
// transaction. Refuses a database newer than current_version().
Result<void> migrate(sqlite::Database& db);

}  // namespace inboxd::queue::schema
