#include "watcher/settle_tracker.hpp"

#include <algorithm>

namespace inboxd::watcher {

void SettleTracker::note_writing(const std::string& rel, MonoTime now) {
  Entry& entry = entries_[rel];
  entry.writing = true;
  entry.changed_at = now;
}

void SettleTracker::note_closed(const FileInfo& info, MonoTime now) {
  Entry& entry = entries_[info.rel];
  entry.info = info;
  entry.known = true;
  entry.writing = false;
  entry.changed_at = now;
}

void SettleTracker::observe(const FileInfo& info, MonoTime now) {
  auto [it, inserted] = entries_.try_emplace(info.rel);
  Entry& entry = it->second;
  const bool changed = inserted || !entry.known || !entry.info.same_version(info);
  // The latest stat is kept even when size and mtime match (the inode may
  // differ on filesystems that invent inode numbers); only a change in size
  // or mtime restarts the clock.
  entry.info = info;
  entry.known = true;
  if (changed) entry.changed_at = now;
}

void SettleTracker::forget(const std::string& rel) { entries_.erase(rel); }

void SettleTracker::reset_writers(MonoTime now) {
  for (auto& [rel, entry] : entries_) {
    if (!entry.writing) continue;
    // The writer may have finished just now: a full settle period from here
    // is the earliest a stat can be trusted to show the final version.
    entry.writing = false;
    entry.changed_at = now;
  }
}

std::vector<std::string> SettleTracker::due(MonoTime now) const {
  std::vector<std::string> out;
  for (const auto& [rel, entry] : entries_) {
    if (!entry.writing && entry.changed_at + settle_ <= now) out.push_back(rel);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<MonoTime> SettleTracker::next_deadline() const {
  std::optional<MonoTime> earliest;
  for (const auto& [rel, entry] : entries_) {
    if (entry.writing) continue;
    const MonoTime deadline = entry.changed_at + settle_;
    if (!earliest || deadline < *earliest) earliest = deadline;
  }
  return earliest;
}

const FileInfo* SettleTracker::last_seen(const std::string& rel) const {
  const auto it = entries_.find(rel);
  if (it == entries_.end() || !it->second.known) return nullptr;
  return &it->second.info;
}

}  // namespace inboxd::watcher
