#pragma once
// WriteBurst: tells when a writer is filling the drop folder fast.
//
// Every file created in a folder and every rename out of it take that
// folder's lock. A writer that creates hundreds of files a second or more
// holds it much of the time, and a claim (a rename) made meanwhile waits for
// it: the kernel spins for it on the other CPU. Claims made along such a
// burst cost the daemon up to half again its CPU per file, and slowed the
// writer by a third; where creating a file is slow (ext4 without a journal
// passes over every inode freed in the last seconds) they doubled the
// daemon's CPU (bench/profile.md). The inbox asks busy() and lets its claims
// wait for the burst to pause.
//
// A burst is kCloses closes within kSpan or less (400 files a second or
// more, over a run long enough that a writer's jitter does not break it);
// it counts as over kQuiet after its last such close. Fed from inotify
// closes only: a polled folder is never busy. Not thread-safe.

#include <array>
#include <cstddef>

#include "common/clock.hpp"

namespace inboxd::watcher {

class WriteBurst {
 public:
  static constexpr std::size_t kCloses = 16;
  static constexpr Millis kSpan{40};
  static constexpr Millis kQuiet{50};

  void note_close(MonoTime now);
  bool busy(MonoTime now) const { return now < quiet_at_; }
  // When the burst is over unless more closes come; the past when there is none.
  MonoTime quiet_at() const { return quiet_at_; }
  // When the current (or last) burst began: the close that made it one.
  MonoTime began() const { return began_; }

 private:
  std::array<MonoTime, kCloses> closes_{};  // the last kCloses, oldest at next_
  std::size_t next_ = 0;
  std::size_t seen_ = 0;  // up to kCloses
  MonoTime began_{};
  MonoTime quiet_at_{};
};

}  // namespace inboxd::watcher
