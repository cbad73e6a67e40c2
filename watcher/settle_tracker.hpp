#pragma once
// SettleTracker: decides when a file is complete (PRODUCT.md "File lifecycle" 2).
//
// A file is due once its (size, mtime) has been unchanged for `settle`,
// measured on the daemon's monotonic clock from when the daemon last saw a
// change, and no writer is known to hold it open. A file's mtime is compared
// only with its own earlier mtime, never with the local clock.
//
// Inputs:
//  - note_writing: inotify IN_CREATE/IN_MODIFY - a writer is active; the file
//    is not due until a close (IN_CLOSE_WRITE) or a rescan clears it.
//  - note_closed: IN_CLOSE_WRITE/IN_MOVED_TO with a fresh stat: the writer is
//    done, the settle clock (re)starts now.
//  - observe: a scan saw the file; the clock restarts only if it changed (or is
//    new). A scan clears a stale "writing" mark only via reset_writers().
// Memory is bounded by the number of unsettled files in the drop folder.
// Every operation but reset_writers costs O(log n) in the files tracked
// (due: per file returned), so a burst of 100,000 files is not quadratic.
// Not thread-safe.

#include <cstddef>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.hpp"
#include "watcher/file_info.hpp"

namespace inboxd::watcher {

class SettleTracker {
 public:
  explicit SettleTracker(Millis settle) : settle_(settle) {}

  void note_writing(const std::string& rel, MonoTime now);
  void note_closed(const FileInfo& info, MonoTime now);
  void observe(const FileInfo& info, MonoTime now);
  void forget(const std::string& rel);
  // After an inotify overflow the open/close history is unknown: drop every
  // "writing" mark and fall back on size/mtime alone.
  void reset_writers(MonoTime now);
  // A full scan that started at `scan_start` listed `scanned`: a file still
  // marked as being written since before then that it did not find is gone
  // (moved away while open, which a flat inotify watch does not report), so
  // it is forgotten. Costs O(files scanned) only when such a mark exists.
  void forget_missing_writers(const std::vector<FileInfo>& scanned, MonoTime scan_start);

  // At most `max` files due now: the longest settled first, files that
  // settled at the same moment in rel order. The caller re-stats each one
  // and either claims it (then forget) or calls observe with what it saw.
  std::vector<std::string> due(MonoTime now,
                               std::size_t max = std::numeric_limits<std::size_t>::max()) const;
  // Earliest time something becomes due (nullopt: nothing pending, or only
  // files with an open writer).
  std::optional<MonoTime> next_deadline() const;
  // Last version seen of a tracked file.
  const FileInfo* last_seen(const std::string& rel) const;

  std::size_t size() const { return entries_.size(); }
  void set_settle(Millis settle) { settle_ = settle; }

 private:
  struct Entry {
    FileInfo info;
    bool known = false;  // info holds a real stat
    bool writing = false;
    MonoTime changed_at{};
  };
  using Entries = std::unordered_map<std::string, Entry>;
  // Every file without an open writer, by (changed_at, rel). The rel views
  // point at the keys of entries_, which stay put while their entry lives.
  using Pending = std::set<std::pair<MonoTime, std::string_view>>;

  void unpend(const Entries::value_type& item);
  void pend(const Entries::value_type& item);

  Millis settle_;
  Entries entries_;
  Pending pending_;
};

}  // namespace inboxd::watcher
