#include "watcher/settle_tracker.hpp"

#include <unordered_set>

namespace inboxd::watcher {

void SettleTracker::unpend(const Entries::value_type& item) {
  if (!item.second.writing) pending_.erase({item.second.changed_at, item.first});
}

void SettleTracker::pend(const Entries::value_type& item) {
  if (!item.second.writing) pending_.emplace(item.second.changed_at, item.first);
}

void SettleTracker::note_writing(const std::string& rel, MonoTime now) {
  auto [it, inserted] = entries_.try_emplace(rel);
  if (!inserted) unpend(*it);
  it->second.writing = true;
  it->second.changed_at = now;
}

void SettleTracker::note_closed(const FileInfo& info, MonoTime now) {
  auto [it, inserted] = entries_.try_emplace(info.rel);
  if (!inserted) unpend(*it);
  Entry& entry = it->second;
  entry.info = info;
  entry.known = true;
  entry.writing = false;
  entry.changed_at = now;
  pend(*it);
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
  if (!changed) return;
  if (!inserted) unpend(*it);
  entry.changed_at = now;
  pend(*it);
}

void SettleTracker::forget(const std::string& rel) {
  auto it = entries_.find(rel);
  if (it == entries_.end()) return;
  unpend(*it);
  entries_.erase(it);
}

void SettleTracker::forget_missing_writers(const std::vector<FileInfo>& scanned,
                                           MonoTime scan_start) {
  std::vector<std::string> stale;
  for (const auto& [rel, entry] : entries_) {
    if (entry.writing && entry.changed_at < scan_start) stale.push_back(rel);
  }
  if (stale.empty()) return;
  std::unordered_set<std::string_view> listed;
  listed.reserve(scanned.size());
  for (const auto& file : scanned) listed.insert(file.rel);
  for (const auto& rel : stale) {
    if (!listed.contains(rel)) forget(rel);
  }
}

void SettleTracker::reset_writers(MonoTime now) {
  for (auto& item : entries_) {
    Entry& entry = item.second;
    if (!entry.writing) continue;
    // The writer may have finished just now: a full settle period from here
    // is the earliest a stat can be trusted to show the final version.
    entry.writing = false;
    entry.changed_at = now;
    pend(item);
  }
}

std::vector<std::string> SettleTracker::due(MonoTime now, std::size_t max) const {
  std::vector<std::string> out;
  for (const auto& [changed_at, rel] : pending_) {
    if (out.size() >= max || changed_at + settle_ > now) break;
    out.emplace_back(rel);
  }
  return out;
}

std::optional<MonoTime> SettleTracker::next_deadline() const {
  if (pending_.empty()) return std::nullopt;
  return pending_.begin()->first + settle_;
}

const FileInfo* SettleTracker::last_seen(const std::string& rel) const {
  const auto it = entries_.find(rel);
  if (it == entries_.end() || !it->second.known) return nullptr;
  return &it->second.info;
}

}  // namespace inboxd::watcher
