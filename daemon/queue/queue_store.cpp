#include "daemon/queue/queue_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "common/log.hpp"
#include "daemon/queue/schema.hpp"
#include "daemon/queue/statements.hpp"

namespace inboxd::queue {
namespace {

constexpr int kBusyTimeoutMs = 5000;
// The WAL file is truncated back to this size after a checkpoint, so one burst
// of claims does not leave a huge -wal file behind.
constexpr const char* kJournalSizeLimit = "PRAGMA journal_size_limit = 67108864";
constexpr std::size_t kIntegrityLinesShown = 3;
constexpr const char* kPageSize = "PRAGMA page_size = 1024";

constexpr std::array<std::pair<JobState, std::string_view>, 7> kStateNames{{
    {JobState::kClaiming, "claiming"},
    {JobState::kQueued, "queued"},
    {JobState::kRunning, "running"},
    {JobState::kRetryWait, "retry_wait"},
    {JobState::kDone, "done"},
    {JobState::kFailed, "failed"},
    {JobState::kCanceled, "canceled"},
}};

Error with_context(std::string_view context, const Error& error) {
  return Error{fmt::format("queue: {}: {}", context, error.message), error.code};
}

// --- Rows ---------------------------------------------------------------------

Job read_job(const sqlite::Statement& row) {
  Job job;
  job.id = row.column_int(0);
  job.inbox = row.column_bytes(1);
  job.name = row.column_bytes(2);
  job.rel = row.column_bytes(3);
  // The schema's CHECK constraint admits only known state names.
  job.state = parse_job_state(row.column_bytes(4)).value_or(JobState::kFailed);
  job.size = row.column_int(5);
  job.attempts = static_cast<int>(row.column_int(6));
  job.budget_base = static_cast<int>(row.column_int(7));
  job.created_at = row.column_int(8);
  job.updated_at = row.column_int(9);
  job.next_attempt_at = row.column_optional_int(10);
  job.path = row.column_optional_bytes(11);
  job.last_error = row.column_bytes(12);
  return job;
}

Attempt read_attempt(const sqlite::Statement& row) {
  Attempt attempt;
  attempt.job_id = row.column_int(0);
  attempt.attempt = static_cast<int>(row.column_int(1));
  attempt.started_at = row.column_int(2);
  attempt.finished_at = row.column_optional_int(3);
  attempt.duration_ms = row.column_int(4);
  if (auto code = row.column_optional_int(5)) attempt.exit_code = static_cast<int>(*code);
  attempt.signal = row.column_optional_bytes(6);
  attempt.timed_out = row.column_int(7) != 0;
  attempt.counted = row.column_int(8) != 0;
  attempt.stdout_tail = row.column_bytes(9);
  attempt.stderr_tail = row.column_bytes(10);
  attempt.pid = row.column_int(11);
  attempt.pid_start_time = static_cast<std::uint64_t>(row.column_int(12));
  return attempt;
}

// Steps a bound statement to the end, reading each row with read.
template <class Row, class Read>
Result<std::vector<Row>> collect(sqlite::Statement& stmt, Read read) {
  std::vector<Row> rows;
  for (;;) {
    auto more = stmt.step();
    if (!more) return fail(more.error());
    if (!*more) return rows;
    rows.push_back(read(stmt));
  }
}

template <class Bind>
Result<std::vector<Job>> select_jobs(sqlite::Database& db, std::string_view sql, Bind&& bind) {
  auto stmt = db.statement(sql);
  if (!stmt) return fail(stmt.error());
  bind(**stmt);
  return collect<Job>(**stmt, read_job);
}

// The first column of the first row, NULL or no row giving nullopt.
template <class Bind>
Result<std::optional<std::int64_t>> select_int(sqlite::Database& db, const char* sql, Bind&& bind) {
  auto stmt = db.statement(sql);
  if (!stmt) return fail(stmt.error());
  bind(**stmt);
  auto row = (*stmt)->step();
  if (!row) return fail(row.error());
  if (!*row) return std::optional<std::int64_t>{};
  return (*stmt)->column_optional_int(0);
}

// Runs a statement that must change exactly one row; missing() builds the
// error when it changed none (only then, so success costs no formatting).
template <class Missing>
Result<void> run_one(sqlite::Database& db, sqlite::Statement& stmt, Missing&& missing) {
  if (auto ok = stmt.run(); !ok) return ok;
  if (db.changes() != 1) return fail(missing());
  return {};
}

// Messages of per-job calls leave the job id out: the call's context
// ("queue: transition job=42: ") already names it.
Error unknown_job() { return Error{"unknown job", kUnknownJob}; }

Error no_attempt(int attempt) { return Error{fmt::format("no attempt {}", attempt), kUnknownJob}; }

// --- Moves --------------------------------------------------------------------

// The columns a move reads and rewrites.
struct JobHead {
  std::string inbox;
  JobState state = JobState::kQueued;
  std::int64_t attempts = 0;
  std::int64_t budget_base = 0;
  EpochMs due_at = 0;
  std::optional<EpochMs> next_attempt_at;
};

Result<JobHead> load_head(sqlite::Database& db, std::int64_t job_id) {
  auto stmt = db.statement(sql::kJobForMove);
  if (!stmt) return fail(stmt.error());
  (*stmt)->bind_int(1, job_id);
  auto row = (*stmt)->step();
  if (!row) return fail(row.error());
  if (!*row) return fail(unknown_job());
  JobHead head;
  head.state = parse_job_state((*stmt)->column_bytes(0)).value_or(JobState::kFailed);
  head.attempts = (*stmt)->column_int(1);
  head.budget_base = (*stmt)->column_int(2);
  head.due_at = (*stmt)->column_int(3);
  head.inbox = (*stmt)->column_bytes(4);
  return head;
}

// Keeps job_counts in step with a job entering (delta 1) or leaving (-1) a
// state. Claiming rows are not counted.
Result<void> adjust_count(sqlite::Database& db, std::string_view inbox, JobState state,
                          std::int64_t delta) {
  if (state == JobState::kClaiming) return {};
  for (const char* sql : {sql::kAdjustCount, sql::kInsertCount}) {
    auto stmt = db.statement(sql);
    if (!stmt) return fail(stmt.error());
    (*stmt)->bind_text(1, inbox);
    (*stmt)->bind_text(2, to_string(state));
    (*stmt)->bind_int(3, delta);
    if (auto ok = (*stmt)->run(); !ok) return ok;
    if (db.changes() == 1) return {};
  }
  return fail("job_counts: counter not written", SQLITE_INTERNAL);
}

// Writes `head` over the job's row and moves it between counters when its
// state changed from `from`.
Result<void> write_head(sqlite::Database& db, std::int64_t job_id, JobState from,
                        const JobHead& head, const std::optional<std::string>& last_error,
                        EpochMs now) {
  if (from != head.state) {
    if (auto ok = adjust_count(db, head.inbox, from, -1); !ok) return ok;
    if (auto ok = adjust_count(db, head.inbox, head.state, 1); !ok) return ok;
  }
  auto stmt = db.statement(sql::kMoveJob);
  if (!stmt) return fail(stmt.error());
  (*stmt)->bind_int(1, job_id);
  (*stmt)->bind_text(2, to_string(head.state));
  (*stmt)->bind_int(3, head.attempts);
  (*stmt)->bind_int(4, head.budget_base);
  (*stmt)->bind_int(5, head.due_at);
  (*stmt)->bind_optional_int(6, head.next_attempt_at);
  (*stmt)->bind_optional_text(7, last_error);
  (*stmt)->bind_int(8, now);
  return run_one(db, **stmt, [&] { return unknown_job(); });
}

// Whether a job in `from` may be moved to `to` by transition() or
// finish_attempt(); entering `running` has its own rule in start_attempt().
Result<void> check_move(JobState from, const Transition& to) {
  auto refused = [&](std::string_view why) {
    return fail(fmt::format("{} -> {}: {}", to_string(from), to_string(to.state), why),
                kBadTransition);
  };
  if (from == JobState::kClaiming) return refused("still being claimed");
  if (to.state == JobState::kClaiming) return refused("a job never goes back to claiming");
  if (to.state == JobState::kRunning) return refused("only start_attempt starts a job");
  if (is_terminal(from) && to.state != JobState::kQueued) {
    return refused("a finished job can only be requeued");
  }
  if (to.state == JobState::kRetryWait && !to.next_attempt_at) {
    return refused("retry_wait needs next_attempt_at");
  }
  return {};
}

// The job's columns after moving it to `to`; see transition() in the header.
JobHead plan_move(const JobHead& from, const Transition& to, EpochMs now) {
  JobHead next = from;
  next.state = to.state;
  next.next_attempt_at = std::nullopt;
  if (to.state == JobState::kRetryWait) {
    next.next_attempt_at = to.next_attempt_at;
    next.due_at = *to.next_attempt_at;
  } else if (to.state == JobState::kQueued && is_terminal(from.state)) {
    next.budget_base = from.attempts;
    next.due_at = now;
  } else if (to.state == JobState::kQueued && from.state == JobState::kRetryWait) {
    next.due_at = std::min(from.due_at, now);
  }
  return next;
}

Result<void> move_job(sqlite::Database& db, const Transition& to, EpochMs now) {
  auto head = load_head(db, to.job_id);
  if (!head) return fail(head.error());
  if (auto ok = check_move(head->state, to); !ok) return ok;
  return write_head(db, to.job_id, head->state, plan_move(*head, to, now), to.last_error, now);
}

// Writes a new attempt row, replacing the record of an uncounted attempt that
// gave its number back.
Result<void> record_start(sqlite::Database& db, std::int64_t job_id, int attempt, EpochMs now) {
  auto drop = db.statement(sql::kDropUncountedAttempt);
  if (!drop) return fail(drop.error());
  (*drop)->bind_int(1, job_id);
  (*drop)->bind_int(2, attempt);
  if (auto ok = (*drop)->run(); !ok) return ok;
  auto insert = db.statement(sql::kInsertAttempt);
  if (!insert) return fail(insert.error());
  (*insert)->bind_int(1, job_id);
  (*insert)->bind_int(2, attempt);
  (*insert)->bind_int(3, now);
  return (*insert)->run();
}

Result<void> start_job(sqlite::Database& db, std::int64_t job_id, int attempt, EpochMs now) {
  auto head = load_head(db, job_id);
  if (!head) return fail(head.error());
  if (head->state != JobState::kQueued && head->state != JobState::kRetryWait) {
    return fail(fmt::format("job is {}, not queued or retry_wait", to_string(head->state)),
                kBadTransition);
  }
  if (attempt != head->attempts + 1) {
    return fail(fmt::format("attempt {} does not follow attempt {}", attempt, head->attempts),
                kBadTransition);
  }
  JobHead next = *head;
  next.state = JobState::kRunning;
  next.attempts += 1;
  next.next_attempt_at = std::nullopt;
  if (auto ok = write_head(db, job_id, head->state, next, std::nullopt, now); !ok) return ok;
  return record_start(db, job_id, attempt, now);
}

Result<void> record_outcome(sqlite::Database& db, const Attempt& attempt, EpochMs now) {
  auto stmt = db.statement(sql::kFinishAttempt);
  if (!stmt) return fail(stmt.error());
  (*stmt)->bind_int(1, attempt.job_id);
  (*stmt)->bind_int(2, attempt.attempt);
  (*stmt)->bind_int(3, attempt.finished_at.value_or(now));
  (*stmt)->bind_int(4, attempt.duration_ms);
  (*stmt)->bind_optional_int(5, attempt.exit_code);
  (*stmt)->bind_optional_text(6, attempt.signal);
  (*stmt)->bind_int(7, attempt.timed_out ? 1 : 0);
  (*stmt)->bind_int(8, attempt.counted ? 1 : 0);
  (*stmt)->bind_blob(9, attempt.stdout_tail);
  (*stmt)->bind_blob(10, attempt.stderr_tail);
  return run_one(db, **stmt, [&] { return no_attempt(attempt.attempt); });
}

Result<void> finish_job(sqlite::Database& db, const Attempt& attempt, const Transition& to,
                        EpochMs now) {
  auto head = load_head(db, attempt.job_id);
  if (!head) return fail(head.error());
  if (head->state != JobState::kRunning) {
    return fail(fmt::format("job is {}, not running", to_string(head->state)), kBadTransition);
  }
  // A running job's attempt is its last counted one.
  if (attempt.attempt != head->attempts) {
    return fail(
        fmt::format("attempt {} is not the running attempt {}", attempt.attempt, head->attempts),
        kBadTransition);
  }
  if (auto ok = check_move(head->state, to); !ok) return ok;
  if (auto ok = record_outcome(db, attempt, now); !ok) return ok;
  JobHead next = plan_move(*head, to, now);
  if (!attempt.counted) next.attempts -= 1;
  return write_head(db, attempt.job_id, head->state, next, to.last_error, now);
}

// --- Claims -------------------------------------------------------------------

// A new `claiming` row, under the next id or under `id` when one is given.
// A new row under an id from reserve_ids: `claiming` (nothing in the spool
// yet, no path) or `queued` with the spool path of a file renamed already.
Result<void> insert_claim(sqlite::Database& db, std::int64_t id, const NewClaim& claim,
                          const std::string* spool_path, EpochMs now) {
  auto stmt = db.statement(spool_path != nullptr ? sql::kInsertSpooled : sql::kInsertClaim);
  if (!stmt) return fail(stmt.error());
  (*stmt)->bind_text(1, claim.inbox);
  (*stmt)->bind_blob(2, claim.name);
  (*stmt)->bind_blob(3, claim.rel);
  (*stmt)->bind_int(4, claim.size);
  (*stmt)->bind_int(5, now);
  (*stmt)->bind_int(6, id);
  if (spool_path != nullptr) (*stmt)->bind_blob(7, *spool_path);
  return (*stmt)->run();
}

// Counter changes gathered over many rows and written once per inbox: a batch
// of claims is usually one inbox.
class CountDeltas {
 public:
  void add(const std::string& inbox, std::int64_t delta) {
    for (auto& [name, total] : deltas_) {
      if (name == inbox) {
        total += delta;
        return;
      }
    }
    deltas_.emplace_back(inbox, delta);
  }
  Result<void> flush(sqlite::Database& db, JobState state) const {
    for (const auto& [inbox, delta] : deltas_) {
      if (auto ok = adjust_count(db, inbox, state, delta); !ok) return ok;
    }
    return {};
  }

 private:
  std::vector<std::pair<std::string, std::int64_t>> deltas_;
};

// Queues or drops one pending claim; a queued one is added to `queued`.
Result<void> settle_claim(sqlite::Database& db, const QueueStore::ClaimResult& result, EpochMs now,
                          CountDeltas& queued) {
  auto head = load_head(db, result.job_id);
  if (!head || head->state != JobState::kClaiming) {
    if (head || head.error().code == kUnknownJob) {
      return fail(fmt::format("job {}: not a pending claim", result.job_id), kUnknownJob);
    }
    return fail(head.error());
  }
  if (!result.spool_path) {
    auto stmt = db.statement(sql::kDropClaim);
    if (!stmt) return fail(stmt.error());
    (*stmt)->bind_int(1, result.job_id);
    return (*stmt)->run();
  }
  auto stmt = db.statement(sql::kQueueClaim);
  if (!stmt) return fail(stmt.error());
  (*stmt)->bind_int(1, result.job_id);
  (*stmt)->bind_blob(2, *result.spool_path);
  (*stmt)->bind_int(3, now);
  if (auto ok = (*stmt)->run(); !ok) return ok;
  queued.add(head->inbox, 1);
  return {};
}

// --- Opening ------------------------------------------------------------------

// Reads the whole file once. Refuses (and never modifies) a file that is not
// a database or fails the check: a damaged queue needs a person, not a fresh
// empty database that silently forgets every job.
Result<void> check_integrity(sqlite::Database& db) {
  auto lines = db.query_column("PRAGMA quick_check");
  if (!lines) return fail(lines.error());
  if (lines->size() == 1 && lines->front() == "ok") return {};
  std::string detail;
  for (std::size_t i = 0; i < lines->size() && i < kIntegrityLinesShown; ++i) {
    if (i > 0) detail += "; ";
    detail += (*lines)[i];
  }
  return fail("integrity check failed: " + detail, SQLITE_CORRUPT);
}

Result<void> configure(sqlite::Database& db, Durability durability) {
  // Applies to a new database only (a database keeps the page size it was
  // created with). Every commit writes each page it changed whole, and a
  // job's transactions change a few rows on several pages: with 1 KiB
  // pages a job writes 15.7 KB of WAL instead of 58.8 KB, and the store's
  // work per job falls from 85 to 57 us (queue_bench --lifecycle). The cost
  // is a deeper tree: claims in batches of 1,000 179,000/s instead of
  // 206,000/s, the quick_check of a million jobs 0.38 s instead of 0.25 s.
  if (auto ok = db.exec(kPageSize); !ok) return ok;
  auto mode = db.query_column("PRAGMA journal_mode = WAL");
  if (!mode) return fail(mode.error());
  if (mode->empty() || mode->front() != "wal") {
    return fail(fmt::format("cannot use WAL journal mode (got {})",
                            mode->empty() ? "nothing" : mode->front()),
                SQLITE_CANTOPEN);
  }
  // temp_store = MEMORY keeps statement and savepoint journals off disk: they
  // would otherwise spill into /var/tmp with one write per changed page, and a
  // hardened unit may not be able to write there at all.
  // Grouped: no fsync at commit, and no checkpoint on this connection (its
  // syncs would stall the loop; WalSync checkpoints from its own thread).
  bool grouped = durability == Durability::kGrouped;
  const char* synchronous = grouped ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL";
  const char* checkpoints =
      grouped ? "PRAGMA wal_autocheckpoint = 0" : "PRAGMA wal_autocheckpoint = 1000";
  for (const char* pragma : {synchronous, checkpoints, "PRAGMA foreign_keys = ON",
                             "PRAGMA temp_store = MEMORY", kJournalSizeLimit}) {
    if (auto ok = db.exec(pragma); !ok) return ok;
  }
  return {};
}

Result<std::string> read_instance_id(sqlite::Database& db) {
  auto stmt = db.statement("SELECT value FROM meta WHERE key = 'instance_id'");
  if (!stmt) return fail(stmt.error());
  auto row = (*stmt)->step();
  if (!row) return fail(row.error());
  if (!*row) return fail("meta has no instance_id", SQLITE_CORRUPT);
  return (*stmt)->column_bytes(0);
}

// Check before any write: integrity, writability and the schema version are
// all settled while the file is still untouched.
Result<sqlite::Database> open_database(const std::string& file, Durability durability) {
  auto db = sqlite::Database::open(file);
  if (!db) return fail(db.error());
  sqlite3_busy_timeout(db->handle(), kBusyTimeoutMs);
  if (auto ok = check_integrity(*db); !ok) return fail(ok.error());
  if (sqlite3_db_readonly(db->handle(), "main") == 1) {
    return fail("database is read-only", SQLITE_READONLY);
  }
  auto version = schema::known_version(*db);
  if (!version) return fail(version.error());
  if (auto ok = configure(*db, durability); !ok) return fail(ok.error());
  if (auto ok = schema::migrate(*db); !ok) return fail(ok.error());
  if (*version != schema::current_version()) {
    log::get("queue")->info("schema migrated file={} from={} to={}", log::quote(file), *version,
                            schema::current_version());
  }
  return db;
}

// Keeps batch_depth_ right even if a batch function throws.
class DepthGuard {
 public:
  explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
  ~DepthGuard() { --depth_; }

 private:
  int& depth_;
};

}  // namespace

// --- States -------------------------------------------------------------------

std::string_view to_string(JobState state) {
  for (const auto& [value, name] : kStateNames) {
    if (value == state) return name;
  }
  return "unknown";
}

std::optional<JobState> parse_job_state(std::string_view text) {
  for (const auto& [value, name] : kStateNames) {
    if (name == text) return value;
  }
  return std::nullopt;
}

bool is_terminal(JobState state) {
  return state == JobState::kDone || state == JobState::kFailed || state == JobState::kCanceled;
}

// --- QueueStore ---------------------------------------------------------------

QueueStore::QueueStore(sqlite::Database db, std::string instance_id, Durability durability)
    : db_(std::move(db)), instance_id_(std::move(instance_id)), durability_(durability) {
  if (durability_ != Durability::kGrouped) return;  // the autocheckpoint owns the hook there
  if (auto size = select_int(db_, "PRAGMA page_size", [](sqlite::Statement&) {}); size && *size) {
    page_size_ = static_cast<std::uint64_t>(**size);
  }
  ::sqlite3_wal_hook(
      db_.handle(),
      [](void* self, sqlite3*, const char*, int pages) {
        auto* store = static_cast<QueueStore*>(self);
        store->wal_bytes_ = static_cast<std::uint64_t>(pages) * store->page_size_;
        return SQLITE_OK;
      },
      this);
}

QueueStore::~QueueStore() = default;

Result<std::unique_ptr<QueueStore>> QueueStore::open(const std::filesystem::path& file,
                                                     Durability durability) {
  const std::string name = file.string();
  auto context = [&](const Error& e) { return with_context("open " + name, e); };
  auto db = open_database(name, durability);
  if (!db) return fail(context(db.error()));
  auto id = read_instance_id(*db);
  if (!id) return fail(context(id.error()));
  log::get("queue")->info("opened file={} schema={} instance={}", log::quote(name),
                          schema::current_version(), *id);
  return std::unique_ptr<QueueStore>(new QueueStore(std::move(*db), std::move(*id), durability));
}

void QueueStore::on_commit(std::function<void()> fn) { on_commit_ = std::move(fn); }

void QueueStore::committed() {
  if (batch_depth_ == 0 && on_commit_) on_commit_();
}

template <class Fn>
Result<void> QueueStore::atomically(Op op, Fn&& fn) {
  auto context = [&](const Error& e) {
    return with_context(
        op.job != 0 ? fmt::format("{} job={}", op.name, op.job) : std::string(op.name), e);
  };
  if (batch_depth_ > 0 && !db_.in_transaction()) {
    return fail(context(Error{"the enclosing batch was already rolled back", SQLITE_ABORT}));
  }
  if (whole_ && batch_depth_ > 0) return doom_on_failure(context, fn);
  auto tx = sqlite::Transaction::begin(db_);
  if (!tx) return fail(context(tx.error()));
  if (auto ok = fn(); !ok) return fail(context(ok.error()));
  if (auto ok = tx->commit(); !ok) return fail(context(ok.error()));
  committed();
  return {};
}

template <class Fn>
Result<void> QueueStore::without_fsync(const char* what, Fn&& fn) {
  if (durability_ == Durability::kGrouped) return fn();
  bool relaxed = batch_depth_ == 0 && db_.exec("PRAGMA synchronous = NORMAL");
  auto ok = fn();
  if (relaxed) {
    if (auto restored = db_.exec("PRAGMA synchronous = FULL"); !restored) {
      return fail(
          with_context(fmt::format("{}: restore synchronous=FULL", what), restored.error()));
    }
  }
  return ok;
}

template <class Context, class Fn>
Result<void> QueueStore::doom_on_failure(Context&& context, Fn&& fn) {
  auto ok = fn();
  if (ok) return {};
  auto error = context(ok.error());
  if (!doomed_) doomed_ = error;
  return fail(std::move(error));
}

Result<void> QueueStore::batch(const std::function<Result<void>()>& fn) {
  if (batch_depth_ > 0 && !db_.in_transaction()) {
    return fail("queue: batch: the enclosing batch was already rolled back", SQLITE_ABORT);
  }
  if (whole_ && batch_depth_ > 0) return doom_on_failure([](const Error& e) { return e; }, fn);
  auto tx = sqlite::Transaction::begin(db_);
  if (!tx) return fail(with_context("batch", tx.error()));
  {
    DepthGuard depth(batch_depth_);
    if (auto ok = fn(); !ok) return ok;
  }
  // fn may have carried on after an error that made SQLite roll everything
  // back; committing now would commit nothing and hide that.
  if (!db_.in_transaction()) {
    return fail("queue: batch: the transaction was rolled back after an earlier error",
                SQLITE_ABORT);
  }
  if (auto ok = tx->commit(); !ok) return fail(with_context("batch commit", ok.error()));
  committed();
  return {};
}

Result<void> QueueStore::batch_whole(const std::function<Result<void>()>& fn) {
  if (batch_depth_ > 0) return batch(fn);
  struct Whole {
    QueueStore& store;
    explicit Whole(QueueStore& s) : store(s) {
      store.whole_ = true;
      store.doomed_.reset();
    }
    Whole(const Whole&) = delete;
    Whole& operator=(const Whole&) = delete;
    ~Whole() {
      store.whole_ = false;
      store.doomed_.reset();
    }
  } whole(*this);
  return batch([&]() -> Result<void> {
    auto ok = fn();
    if (doomed_) return fail(*doomed_);
    return ok;
  });
}

// --- Claims -------------------------------------------------------------------

// The database is read once, at the first reservation; after that every
// new row comes through this store, which keeps next_id_ past them all.
Result<void> QueueStore::read_next_id() {
  if (next_id_ != 0) return {};
  auto last = select_int(db_, sql::kLastJobId, [](sqlite::Statement&) {});
  if (!last) return fail(with_context("reserve_ids", last.error()));
  next_id_ = last->value_or(0) + 1;
  return {};
}

Result<std::vector<std::int64_t>> QueueStore::reserve_ids(std::size_t count) {
  if (auto read = read_next_id(); !read) return fail(read.error());
  std::vector<std::int64_t> ids(count);
  for (auto& id : ids) id = next_id_++;
  return ids;
}

Result<void> QueueStore::skip_ids_below(std::int64_t id) {
  if (auto read = read_next_id(); !read) return read;
  next_id_ = std::max(next_id_, id);
  return {};
}

Result<std::vector<std::int64_t>> QueueStore::begin_claims(std::span<const NewClaim> claims,
                                                           EpochMs now) {
  auto ids = reserve_ids(claims.size());
  if (!ids) return fail(with_context("begin_claims", ids.error()));
  auto ok = atomically({"begin_claims"}, [&]() -> Result<void> {
    for (std::size_t i = 0; i < claims.size(); ++i) {
      if (auto inserted = insert_claim(db_, (*ids)[i], claims[i], nullptr, now); !inserted) {
        return inserted;
      }
    }
    return {};
  });
  if (!ok) return fail(ok.error());
  return ids;
}

Result<void> QueueStore::finish_claims(std::span<const ClaimResult> results, EpochMs now) {
  return without_fsync("finish_claims", [&] {
    return atomically({"finish_claims"}, [&]() -> Result<void> {
      CountDeltas queued;
      for (const ClaimResult& result : results) {
        if (auto ok = settle_claim(db_, result, now, queued); !ok) return ok;
      }
      return queued.flush(db_, JobState::kQueued);
    });
  });
}

Result<void> QueueStore::record_claims(std::span<const SpooledClaim> claims, EpochMs now) {
  auto recorded = without_fsync("record_claims", [&] {
    return atomically({"record_claims"}, [&]() -> Result<void> {
      CountDeltas queued;
      for (const SpooledClaim& spooled : claims) {
        if (auto ok = insert_claim(db_, spooled.id, spooled.claim, &spooled.spool_path, now); !ok) {
          return fail(fmt::format("job {}: {}", spooled.id, ok.error().message), ok.error().code);
        }
        queued.add(spooled.claim.inbox, 1);
      }
      return queued.flush(db_, JobState::kQueued);
    });
  });
  // An adopted folder may name an id the database had lost (a power loss
  // took its row, and the sequence with it): later reservations go past it.
  if (recorded && next_id_ != 0) {
    for (const SpooledClaim& spooled : claims) next_id_ = std::max(next_id_, spooled.id + 1);
  }
  return recorded;
}

Result<std::vector<Job>> QueueStore::pending_claims() {
  auto jobs = select_jobs(db_, sql::kPendingClaims, [](sqlite::Statement&) {});
  if (!jobs) return fail(with_context("pending_claims", jobs.error()));
  return jobs;
}

// --- Running ------------------------------------------------------------------

Result<std::vector<Job>> QueueStore::next_runnable(std::string_view inbox, EpochMs now, int limit) {
  if (limit <= 0) return std::vector<Job>{};
  auto bind = [&](sqlite::Statement& stmt, std::int64_t rows) {
    stmt.bind_text(1, inbox);
    stmt.bind_int(2, now);
    stmt.bind_int(3, rows);
  };
  auto context = [&](const Error& e) {
    return with_context(fmt::format("next_runnable inbox={}", log::quote(inbox)), e);
  };
  auto due = select_jobs(db_, sql::kNextRunnable, [&](auto& stmt) { bind(stmt, limit); });
  if (!due) return fail(context(due.error()));
  const auto missing = static_cast<std::int64_t>(limit) - static_cast<std::int64_t>(due->size());
  if (missing <= 0) return due;
  auto ahead = select_jobs(db_, sql::kNextRunnableAhead, [&](auto& stmt) { bind(stmt, missing); });
  if (!ahead) return fail(context(ahead.error()));
  due->insert(due->end(), std::make_move_iterator(ahead->begin()),
              std::make_move_iterator(ahead->end()));
  return due;
}

Result<std::optional<EpochMs>> QueueStore::next_retry_due(std::string_view inbox) {
  auto due = select_int(db_, sql::kNextRetryDue, [&](auto& stmt) { stmt.bind_text(1, inbox); });
  if (!due)
    return fail(
        with_context(fmt::format("next_retry_due inbox={}", log::quote(inbox)), due.error()));
  return due;
}

Result<void> QueueStore::start_attempt(std::int64_t job_id, int attempt, EpochMs now) {
  return without_fsync("start_attempt", [&] {
    return atomically({"start_attempt", job_id},
                      [&]() { return start_job(db_, job_id, attempt, now); });
  });
}

// The pid only matters while the machine stays up (after a power loss every
// handler is gone anyway), so it is committed without an fsync: in WAL mode a
// synchronous=NORMAL commit survives a crash of the daemon, which is all the
// recovery that reads it needs.
Result<void> QueueStore::set_attempt_pid(std::int64_t job_id, int attempt, std::int64_t pid,
                                         std::uint64_t pid_start_time) {
  return without_fsync("set_attempt_pid", [&] {
    return atomically({"set_attempt_pid", job_id}, [&]() -> Result<void> {
      auto stmt = db_.statement(sql::kSetAttemptPid);
      if (!stmt) return fail(stmt.error());
      (*stmt)->bind_int(1, job_id);
      (*stmt)->bind_int(2, attempt);
      (*stmt)->bind_int(3, pid);
      (*stmt)->bind_int(4, static_cast<std::int64_t>(pid_start_time));
      return run_one(db_, **stmt, [&] { return no_attempt(attempt); });
    });
  });
}

Result<void> QueueStore::finish_attempt(const Attempt& attempt, const Transition& transition,
                                        EpochMs now) {
  return atomically({"finish_attempt", attempt.job_id}, [&]() -> Result<void> {
    if (transition.job_id != 0 && transition.job_id != attempt.job_id) {
      return fail(fmt::format("transition names job {}, the attempt job {}", transition.job_id,
                              attempt.job_id),
                  kBadTransition);
    }
    return finish_job(db_, attempt, transition, now);
  });
}

Result<void> QueueStore::transition(const Transition& transition, EpochMs now) {
  return atomically({"transition", transition.job_id},
                    [&]() { return move_job(db_, transition, now); });
}

Result<void> QueueStore::set_path(std::int64_t job_id, std::optional<std::string> path,
                                  EpochMs now) {
  return atomically({"set_path", job_id}, [&]() -> Result<void> {
    auto stmt = db_.statement(sql::kSetPath);
    if (!stmt) return fail(stmt.error());
    (*stmt)->bind_int(1, job_id);
    (*stmt)->bind_optional_blob(2, path);
    (*stmt)->bind_int(3, now);
    return run_one(db_, **stmt, [&] { return unknown_job(); });
  });
}

Result<std::optional<std::string>> QueueStore::meta(std::string_view key) {
  auto stmt = db_.statement("SELECT value FROM meta WHERE key = ?1");
  if (!stmt) return fail(stmt.error());
  (*stmt)->bind_text(1, key);
  auto row = (*stmt)->step();
  if (!row) return fail(with_context(fmt::format("meta {}", key), row.error()));
  if (!*row) return std::optional<std::string>{};
  return std::optional<std::string>((*stmt)->column_bytes(0));
}

Result<void> QueueStore::set_meta(std::string_view key, std::string_view value) {
  return atomically({"set_meta"}, [&]() -> Result<void> {
    auto stmt = db_.statement("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)");
    if (!stmt) return fail(stmt.error());
    (*stmt)->bind_text(1, key);
    (*stmt)->bind_text(2, value);
    auto row = (*stmt)->step();
    if (!row) return fail(row.error());
    return {};
  });
}

// --- Queries ------------------------------------------------------------------

Result<std::optional<Job>> QueueStore::job(std::int64_t id) {
  auto found = select_jobs(db_, sql::kJob, [&](auto& stmt) { stmt.bind_int(1, id); });
  if (!found) return fail(with_context(fmt::format("job id={}", id), found.error()));
  if (found->empty()) return std::optional<Job>{};
  return std::optional<Job>(std::move(found->front()));
}

Result<void> QueueStore::visit_jobs_between(std::int64_t first, std::int64_t end,
                                            const std::function<bool(const Job&)>& visit) {
  auto context = [&](const Error& e) {
    return with_context(fmt::format("jobs id={}..{}", first, end - 1), e);
  };
  auto stmt = db_.statement(sql::kJobsBetween);
  if (!stmt) return fail(context(stmt.error()));
  (*stmt)->bind_int(1, first);
  (*stmt)->bind_int(2, end);
  for (;;) {
    auto more = (*stmt)->step();
    if (!more) return fail(context(more.error()));
    if (!*more || !visit(read_job(**stmt))) return {};
  }
}

Result<std::vector<Attempt>> QueueStore::attempts(std::int64_t job_id) {
  auto context = [&](const Error& e) {
    return with_context(fmt::format("attempts job={}", job_id), e);
  };
  auto stmt = db_.statement(sql::kAttempts);
  if (!stmt) return fail(context(stmt.error()));
  (*stmt)->bind_int(1, job_id);
  auto rows = collect<Attempt>(**stmt, read_attempt);
  if (!rows) return fail(context(rows.error()));
  return rows;
}

Result<std::vector<Job>> QueueStore::jobs(const JobFilter& filter) {
  if (filter.limit <= 0 || filter.state == JobState::kClaiming) return std::vector<Job>{};
  const std::string query =
      filter.state ? sql::jobs_in_state(to_string(*filter.state), filter.inbox.has_value())
                   : (filter.inbox ? sql::kJobsByInbox : sql::kJobsAll);
  auto found = select_jobs(db_, query, [&](sqlite::Statement& stmt) {
    stmt.bind_int(1, filter.before_id.value_or(std::numeric_limits<std::int64_t>::max()));
    stmt.bind_int(2, filter.limit);
    if (filter.inbox) stmt.bind_text(3, *filter.inbox);
  });
  if (!found) return fail(with_context("jobs", found.error()));
  return found;
}

Result<Counts> QueueStore::counts(std::string_view inbox) {
  auto context = [&](const Error& e) {
    return with_context(fmt::format("counts inbox={}", log::quote(inbox)), e);
  };
  auto stmt = db_.statement(sql::kCounts);
  if (!stmt) return fail(context(stmt.error()));
  (*stmt)->bind_text(1, inbox);
  Counts counts;
  for (;;) {
    auto row = (*stmt)->step();
    if (!row) return fail(context(row.error()));
    if (!*row) return counts;
    const std::int64_t n = (*stmt)->column_int(1);
    switch (parse_job_state((*stmt)->column_bytes(0)).value_or(JobState::kClaiming)) {
      case JobState::kClaiming: break;
      case JobState::kQueued: counts.queued = n; break;
      case JobState::kRunning: counts.running = n; break;
      case JobState::kRetryWait: counts.retry_wait = n; break;
      case JobState::kDone: counts.done = n; break;
      case JobState::kFailed: counts.failed = n; break;
      case JobState::kCanceled: counts.canceled = n; break;
    }
  }
}

Result<std::int64_t> QueueStore::waiting_count(std::string_view inbox) {
  auto n = select_int(db_, sql::kWaitingCount, [&](auto& stmt) { stmt.bind_text(1, inbox); });
  if (!n) {
    return fail(with_context(fmt::format("waiting_count inbox={}", log::quote(inbox)), n.error()));
  }
  return n->value_or(0);
}

Result<std::optional<EpochMs>> QueueStore::oldest_queued_at(std::string_view inbox) {
  auto due = select_int(db_, sql::kOldestQueued, [&](auto& stmt) { stmt.bind_text(1, inbox); });
  if (!due) {
    return fail(
        with_context(fmt::format("oldest_queued_at inbox={}", log::quote(inbox)), due.error()));
  }
  return due;
}

// --- Recovery -----------------------------------------------------------------

Result<std::vector<std::pair<Job, Attempt>>> QueueStore::interrupted_jobs() {
  auto context = [](const Error& e) { return with_context("interrupted_jobs", e); };
  auto running = select_jobs(db_, sql::kRunningJobs, [](sqlite::Statement&) {});
  if (!running) return fail(context(running.error()));
  std::vector<std::pair<Job, Attempt>> interrupted;
  interrupted.reserve(running->size());
  for (Job& job : *running) {
    auto stmt = db_.statement(sql::kLastAttempt);
    if (!stmt) return fail(context(stmt.error()));
    (*stmt)->bind_int(1, job.id);
    auto last = collect<Attempt>(**stmt, read_attempt);
    if (!last) return fail(context(last.error()));
    // start_attempt writes the job and its attempt row together, so a
    // running job always has one; an empty Attempt only marks damage.
    Attempt attempt;
    attempt.job_id = job.id;
    if (!last->empty()) attempt = std::move(last->front());
    interrupted.emplace_back(std::move(job), std::move(attempt));
  }
  return interrupted;
}

}  // namespace inboxd::queue
