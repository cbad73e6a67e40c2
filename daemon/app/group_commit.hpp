#pragma once
// GroupCommit decides when the queue's commits reach the disk (the store is
// opened with queue::Durability::kGrouped, so no commit on the loop thread
// waits for an fsync).
//
// The promise it keeps:
//   - An effect that must not outrun its commit waits for after_durable():
//     a finished job's file leaves the spool only once the job's outcome is
//     on disk, so after a power loss a job is never found running (or
//     queued) while its file already lies in the done or failed folder.
//     Every action that waits at once shares one fdatasync of the WAL,
//     which runs on a thread of its own (group commit). Syncs start at
//     most once per kMinSyncGap: while files arrive faster than that, one
//     fdatasync covers several outcomes, and a file lands in its folder at
//     most that much later.
//   - Every other commit (claims, attempt starts, where a file landed) is
//     on disk within kLazyDelay. A power loss inside that window may lose
//     them; each has its recovery: the spool holds every claimed file (see
//     Inbox::adopt_orphans), and an attempt start that was lost runs again.
//   - The sync thread also checkpoints the WAL into queue.db once the
//     commits in it (QueueStore::wal_bytes) pass kCheckpointBytes, so the
//     loop never waits for those syncs either.
//   - A crash of the daemon alone (kill -9) loses nothing: every commit is
//     in the kernel when it returns.
//
// Threads: everything here belongs to the loop thread; only the fdatasync
// runs on the worker thread.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "common/uv_handle.hpp"
#include "daemon/app/folder_worker.hpp"
#include "daemon/queue/wal_sync.hpp"

namespace spdlog {
class logger;
}

namespace inboxd::app {

class GroupCommit {
 public:
  static constexpr Millis kLazyDelay{1000};
  // The least time from one sync's start to the next one's. An fdatasync
  // of the WAL cost 0.3 to 0.45 ms of CPU here; at 300 files/s, one per
  // outcome was a tenth of the daemon's CPU, and one per 10 ms still 0.4
  // per file. Only the move of a finished file into its folder waits for
  // it, never a handler's start.
  static constexpr Millis kMinSyncGap{25};
  // A sync that finds the WAL this large also checkpoints it (SQLite's own
  // default of a thousand pages, for 4 KiB pages; a new queue's pages are
  // 1 KiB).
  static constexpr std::uint64_t kCheckpointBytes = 4 * 1024 * 1024;

  // Called with nullopt once every commit made before after_durable() is on
  // disk, or with the error of the fdatasync that should have put it there.
  using Then = std::function<void(const std::optional<Error>&)>;

  GroupCommit(uv_loop_t* loop, std::shared_ptr<queue::WalSync> wal,
              std::shared_ptr<spdlog::logger> log);
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  void after_durable(Then then);
  // At stop, after the inboxes are gone: closes the timer and the thread's
  // handle (what is still waiting is dropped; the store's close
  // checkpoints, which syncs).
  void close();
  // A commit was made, leaving `wal_bytes` of commits in the WAL (see
  // QueueStore::wal_bytes): it is synced within kLazyDelay unless a sync
  // asked for meanwhile covers it.
  void committed(std::uint64_t wal_bytes);
  // No sync is running or waiting to run.
  bool idle() const { return !syncing_ && waiting_.empty(); }
  // Syncs that ran, for the logs and the benchmarks.
  std::uint64_t syncs() const { return syncs_; }
  // Checkpoints that ran (each after a sync).
  std::uint64_t checkpoints() const { return checkpoints_; }

 private:
  struct Synced {
    bool checkpointed = false;
    std::optional<Error> error;             // the fdatasync failed
    std::optional<Error> checkpoint_error;  // the sync held; the checkpoint did not
  };
  void start_sync();
  void sync_soon();
  void start_timer(Millis delay);
  void sync_later();

  std::shared_ptr<queue::WalSync> wal_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<FolderWorker> worker_;  // null once closed
  UvHandle<uv_timer_t> lazy_timer_;
  std::vector<Then> waiting_;  // for the next sync
  bool syncing_ = false;
  bool dirty_ = false;  // a commit came after the last sync began
  MonoTime last_sync_started_{};
  std::uint64_t syncs_ = 0;
  std::uint64_t checkpoints_ = 0;
  std::uint64_t wal_bytes_ = 0;  // as of the last commit
};

}  // namespace inboxd::app
