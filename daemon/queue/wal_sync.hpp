#pragma once
// WalSync makes the queue's commits durable in groups: one fdatasync of the
// WAL file (queue.db-wal) covers every commit written before it began.
//
// A QueueStore opened with Durability::kGrouped commits with
// synchronous=NORMAL: each commit is written to the WAL but not synced. That
// survives a crash of the daemon (kill -9) unchanged, since the writes are in
// the kernel; a power loss may lose the last commits but, in WAL mode, never
// corrupts the file. A commit is on disk once a sync() that began after it
// returned. The caller decides which effects must wait for that (see
// app::GroupCommit).
//
// A grouped store does not checkpoint by itself (wal_autocheckpoint=0): a
// checkpoint syncs the WAL and the database file, and on the loop thread it
// would stall the loop every thousand pages. checkpoint() runs one on a
// connection of WalSync's own, from the thread that syncs.
//
// Threads: sync() and checkpoint() may run on any one thread at
// a time (a mutex guards them), also while the loop thread writes through
// the store: sync() only flushes the file's pages, and the checkpoint uses
// its own connection, which SQLite lets run beside the store's writes. SQLite
// holds no POSIX lock on the WAL file, so this descriptor never releases one
// of SQLite's when it is closed.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "daemon/queue/sqlite.hpp"

namespace inboxd::queue {

class WalSync {
 public:
  // The WAL file of the database `db_file` (which must be open in WAL mode,
  // so that the file exists).
  static Result<std::shared_ptr<WalSync>> open(const std::filesystem::path& db_file);

  // Flushes the WAL file's data to disk and returns the file's size. Should
  // SQLite have replaced the file (it removes it when its last connection
  // closes), the new one is opened and flushed.
  Result<std::uint64_t> sync();

  // Copies what it can of the WAL into the database (PRAGMA
  // wal_checkpoint(PASSIVE): never waits for the store's connection).
  Result<void> checkpoint();

  const std::filesystem::path& path() const { return path_; }

 private:
  WalSync(std::filesystem::path path, UniqueFd fd, sqlite::Database db);
  // The held file's size, after opening the current one if it was replaced.
  Result<std::uint64_t> reopen_if_replaced();

  std::filesystem::path path_;
  std::mutex mutex_;  // guards fd_ across a reopen
  UniqueFd fd_;
  sqlite::Database db_;  // for checkpoints only
};

}  // namespace inboxd::queue
