#pragma once
// sqlite: the small RAII layer the queue store is written on.
//
// Database owns one connection and a cache of prepared statements. Each
// statement is prepared once (SQLITE_PREPARE_PERSISTENT) on first use and
// lent out as a StatementLease, which resets it and clears its bindings when
// the lease ends, so every use starts clean and no read stays open.
// Transaction is BEGIN IMMEDIATE ... COMMIT when no transaction is open and a
// SAVEPOINT nested in the open one otherwise; either is rolled back unless
// committed.
//
// Errors are Error values holding SQLite's own message and its extended result
// code; callers put the operation in front ("queue: finish_attempt job=42: ").
//
// Threading: a Database and its statements are used from one thread only (the
// connection is opened with SQLITE_OPEN_NOMUTEX). SQLite's unix VFS opens its
// files with O_CLOEXEC, so handlers never inherit them.

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace inboxd::queue::sqlite {

// One prepared statement. Owned by its Database's cache; finalized with it.
class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) noexcept : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are 1-based. Text and blob values are copied by SQLite, so
  // temporaries are safe. A failed bind is reported by the next step().
  void bind_int(int index, std::int64_t value);
  void bind_optional_int(int index, std::optional<std::int64_t> value);
  void bind_text(int index, std::string_view value);
  void bind_optional_text(int index, const std::optional<std::string>& value);
  // Arbitrary bytes; an empty value is a zero-length blob, never NULL.
  void bind_blob(int index, std::string_view value);
  void bind_optional_blob(int index, const std::optional<std::string>& value);
  void bind_null(int index);

  // Advances to the next row: true when a row is available, false when done.
  Result<bool> step();
  // Steps to completion, ignoring any rows (INSERT, UPDATE, DELETE, DDL).
  Result<void> run();

  // Values of the current row; columns are 0-based.
  std::int64_t column_int(int col) const;
  std::optional<std::int64_t> column_optional_int(int col) const;
  // TEXT or BLOB as bytes, exactly as stored.
  std::string column_bytes(int col) const;
  std::optional<std::string> column_optional_bytes(int col) const;

  // Back to the state right after prepare: no current row, no bindings.
  void reset() noexcept;

 private:
  void note_bind(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

// A cached statement on loan; resets it when the loan ends.
class StatementLease {
 public:
  explicit StatementLease(Statement& statement) noexcept : statement_(&statement) {}
  StatementLease(StatementLease&& other) noexcept
      : statement_(std::exchange(other.statement_, nullptr)) {}
  StatementLease& operator=(StatementLease&&) = delete;
  StatementLease(const StatementLease&) = delete;
  StatementLease& operator=(const StatementLease&) = delete;
  ~StatementLease() {
    if (statement_ != nullptr) statement_->reset();
  }

  Statement* operator->() const { return statement_; }
  Statement& operator*() const { return *statement_; }

 private:
  Statement* statement_;
};

class Database {
 public:
  // Opens `file` read-write, creating it if missing. Nothing is read yet:
  // SQLite opens lazily, so a file that is not a database is only noticed by
  // the first query, and this call never modifies an existing file.
  static Result<Database> open(const std::string& file);

  Database(Database&& other) noexcept;
  Database& operator=(Database&&) = delete;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  sqlite3* handle() const { return db_; }
  const std::string& file() const { return file_; }

  // Runs SQL text that returns no rows; may hold several statements.
  Result<void> exec(const char* sql);
  // The first column of every row of a one-off query (PRAGMAs at open time).
  Result<std::vector<std::string>> query_column(const char* sql);
  // A statement from the cache, prepared on first use.
  Result<StatementLease> statement(std::string_view sql);

  // True while a transaction is open (SQLite may roll one back by itself
  // after SQLITE_FULL, SQLITE_IOERR, SQLITE_BUSY or SQLITE_NOMEM).
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
  std::int64_t changes() const { return sqlite3_changes64(db_); }
  // SQLite's current message for the result code rc.
  Error error(int rc) const;

 private:
  Database(sqlite3* db, std::string file) noexcept : db_(db), file_(std::move(file)) {}

  // Lets the cache be searched with a string_view without building a string.
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const noexcept {
      return std::hash<std::string_view>{}(sql);
    }
  };

  sqlite3* db_;
  std::string file_;
  std::unordered_map<std::string, std::unique_ptr<Statement>, SqlHash, std::equal_to<>> cache_;
};

// An open transaction or savepoint; rolled back on destruction unless
// committed. Must not outlive its Database.
class Transaction {
 public:
  // BEGIN IMMEDIATE (the write lock is taken now, so a later write cannot
  // fail with SQLITE_BUSY halfway through) when no transaction is open;
  // otherwise a savepoint inside the open one.
  static Result<Transaction> begin(Database& db);

  Transaction(Transaction&& other) noexcept
      : db_(std::exchange(other.db_, nullptr)), nested_(other.nested_) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // COMMIT, or RELEASE for a savepoint. On failure the destructor still rolls
  // back whatever SQLite left open.
  Result<void> commit();

 private:
  Transaction(Database& db, bool nested) noexcept : db_(&db), nested_(nested) {}
  void rollback() noexcept;

  Database* db_;  // nullptr once committed or moved from
  bool nested_;
};

}  // namespace inboxd::queue::sqlite
