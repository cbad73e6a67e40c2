#include "daemon/queue/sqlite.hpp"

#include <limits>

namespace inboxd::queue::sqlite {
namespace {

// SQLite copies bound text and blobs before bind returns.
const sqlite3_destructor_type kCopy = SQLITE_TRANSIENT;

struct FinalizeStatement {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using OwnedStatement = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

// SQLite's memory statistics take a process-wide mutex on every allocation
// and free: 7 % of the instructions of a job's writes (callgrind over
// queue_bench --lifecycle). Nothing here reads them. sqlite3_config works
// only before SQLite initialises, which the first open does; a later call
// (another library got there first) is refused and changes nothing.
void configure_library_once() {
  static const bool configured = [] {
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
}

}  // namespace

// --- Statement ---------------------------------------------------------------

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::bind_int(int index, std::int64_t value) {
  note_bind(sqlite3_bind_int64(stmt_, index, value));
}

void Statement::bind_optional_int(int index, std::optional<std::int64_t> value) {
  if (value) {
    bind_int(index, *value);
  } else {
    bind_null(index);
  }
}

void Statement::bind_text(int index, std::string_view value) {
  note_bind(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), kCopy, SQLITE_UTF8));
}

void Statement::bind_optional_text(int index, const std::optional<std::string>& value) {
  if (value) {
    bind_text(index, *value);
  } else {
    bind_null(index);
  }
}

void Statement::bind_blob(int index, std::string_view value) {
  // sqlite3_bind_blob binds NULL for a null pointer, even with length 0.
  if (value.empty()) {
    note_bind(sqlite3_bind_zeroblob(stmt_, index, 0));
    return;
  }
  note_bind(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), kCopy));
}

void Statement::bind_optional_blob(int index, const std::optional<std::string>& value) {
  if (value) {
    bind_blob(index, *value);
  } else {
    bind_null(index);
  }
}

void Statement::bind_null(int index) { note_bind(sqlite3_bind_null(stmt_, index)); }

Result<bool> Statement::step() {
  if (bind_rc_ != SQLITE_OK) return fail(sqlite3_errstr(bind_rc_), bind_rc_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return fail(sqlite3_errmsg(db_), rc);
}

Result<void> Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return fail(row.error());
    if (!*row) return {};
  }
}

std::int64_t Statement::column_int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::optional<std::int64_t> Statement::column_optional_int(int col) const {
  if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
  return column_int(col);
}

std::string Statement::column_bytes(int col) const {
  // Ask for the blob first, then its size: the documented safe order.
  const void* data = sqlite3_column_blob(stmt_, col);
  auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col));
  if (data == nullptr || size == 0) return {};
  return std::string(static_cast<const char*>(data), size);
}

std::optional<std::string> Statement::column_optional_bytes(int col) const {
  if (sqlite3_column_type(stmt_, col) == SQLITE_NULL) return std::nullopt;
  return column_bytes(col);
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
}

// --- Database ----------------------------------------------------------------

Result<Database> Database::open(const std::string& file) {
  configure_library_once();
  sqlite3* db = nullptr;
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  int rc = sqlite3_open_v2(file.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    Error error{db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc};
    sqlite3_close_v2(db);  // a handle is returned even on failure
    return fail(std::move(error));
  }
  sqlite3_extended_result_codes(db, 1);
  return Database(db, file);
}

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      file_(std::move(other.file_)),
      cache_(std::move(other.cache_)) {}

Database::~Database() {
  // Statements must be finalized before the connection can really close.
  cache_.clear();
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Error Database::error(int rc) const { return Error{sqlite3_errmsg(db_), rc}; }

Result<void> Database::exec(const char* sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  Error error{message != nullptr ? message : sqlite3_errstr(rc), rc};
  sqlite3_free(message);
  return fail(std::move(error));
}

Result<std::vector<std::string>> Database::query_column(const char* sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
  if (rc != SQLITE_OK) return fail(error(rc));
  OwnedStatement owned(raw);
  std::vector<std::string> values;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(raw, 0);
    values.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
  }
  if (rc != SQLITE_DONE) return fail(error(rc));
  return values;
}

Result<StatementLease> Database::statement(std::string_view sql) {
  if (auto found = cache_.find(sql); found != cache_.end()) return StatementLease(*found->second);
  if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return fail("statement too long", SQLITE_TOOBIG);
  }
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) return fail(error(rc));
  auto [it, inserted] = cache_.emplace(std::string(sql), std::make_unique<Statement>(db_, raw));
  return StatementLease(*it->second);
}

// --- Transaction -------------------------------------------------------------

Result<Transaction> Transaction::begin(Database& db) {
  const bool nested = db.in_transaction();
  auto stmt = db.statement(nested ? "SAVEPOINT nested" : "BEGIN IMMEDIATE");
  if (!stmt) return fail(stmt.error());
  if (auto ok = (*stmt)->run(); !ok) return fail(ok.error());
  return Transaction(db, nested);
}

Transaction::~Transaction() {
  if (db_ != nullptr) rollback();
}

Result<void> Transaction::commit() {
  auto stmt = db_->statement(nested_ ? "RELEASE nested" : "COMMIT");
  if (!stmt) return fail(stmt.error());
  if (auto ok = (*stmt)->run(); !ok) return ok;
  db_ = nullptr;
  return {};
}

void Transaction::rollback() noexcept {
  // After some errors SQLite has already rolled the whole transaction back;
  // there is nothing left to undo then.
  if (!db_->in_transaction()) return;
  if (nested_) {
    // ROLLBACK TO keeps the savepoint open; RELEASE then ends it.
    (void)db_->exec("ROLLBACK TO nested; RELEASE nested");
  } else {
    (void)db_->exec("ROLLBACK");
  }
}

}  // namespace inboxd::queue::sqlite
