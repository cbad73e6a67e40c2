#include "watcher/write_burst.hpp"

#include <algorithm>

namespace inboxd::watcher {

void WriteBurst::note_close(MonoTime now) {
  bool was_busy = busy(now);
  closes_[next_] = now;
  next_ = (next_ + 1) % kCloses;
  seen_ = std::min(seen_ + 1, kCloses);
  if (seen_ < kCloses || now - closes_[next_] > kSpan) return;
  if (!was_busy) began_ = now;
  quiet_at_ = now + kQuiet;
}

}  // namespace inboxd::watcher
