#pragma once
// InotifyWatcher: raw inotify on a non-blocking IN_CLOEXEC fd, driven by
// uv_poll (uv_fs_event hides IN_CLOSE_WRITE and IN_Q_OVERFLOW). The fd is
// drained until EAGAIN on every wake-up. With `recursive`, every subfolder gets
// a watch (except those skip_dir names); a folder created later is watched
// first and then reported as kDirAdded so the owner scans it (files created
// before the watch was added are found that way).
//
// Events are hints: an overflow (IN_Q_OVERFLOW) is reported as kOverflow and
// the owner rescans everything. Running out of watches (ENOSPC from
// inotify_add_watch) is reported as kWatchLimit with the folder's rel; the
// owner falls back to polling.
//
// Ownership: close() (or the destructor) stops the uv_poll before the fd is
// closed, as libuv requires. Loop thread only.

#include <uv.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/result.hpp"
#include "common/uv_handle.hpp"
#include "common/unique_fd.hpp"
#include "watcher/file_info.hpp"

namespace inboxd::watcher {

enum class EventKind {
  kWriting,     // IN_MODIFY on a file, or IN_CREATE of a regular file with one
                // link (created by open(): a writer holds it until IN_CLOSE_WRITE)
  kClosed,      // IN_CLOSE_WRITE / IN_MOVED_TO on a file, or IN_CREATE of
                // anything else (hard link, symlink, FIFO): settle clock starts
  kRemoved,     // IN_DELETE / IN_MOVED_FROM on a file
  kDirAdded,    // a new subfolder (already watched when recursive): scan it
  kOverflow,    // events were lost: rescan everything
  kWatchLimit,  // could not watch rel (ENOSPC/ENOMEM): poll it
  kRootGone,    // the inbox folder itself was deleted, moved or unmounted
};

struct Event {
  EventKind kind;
  std::string rel;  // file or folder relative to the root; "" for kOverflow/kRootGone
};

class InotifyWatcher {
 public:
  using Sink = std::function<void(const Event&)>;

  static Result<std::unique_ptr<InotifyWatcher>> start(uv_loop_t* loop,
                                                       const std::filesystem::path& root,
                                                       bool recursive, SkipDir skip_dir, Sink sink);
  ~InotifyWatcher();
  InotifyWatcher(const InotifyWatcher&) = delete;
  InotifyWatcher& operator=(const InotifyWatcher&) = delete;

  void close();
  std::size_t watch_count() const { return dirs_.size(); }

 private:
  InotifyWatcher(std::filesystem::path root, bool recursive, SkipDir skip_dir, Sink sink);
  void on_readable();
  // Adds a watch on root/rel and, when recursive, on every subfolder below it.
  void add_tree(const std::string& rel);

  std::filesystem::path root_;
  bool recursive_;
  SkipDir skip_dir_;
  Sink sink_;
  UniqueFd fd_;
  UvHandle<uv_poll_t> poll_;
  std::unordered_map<int, std::string> dirs_;  // watch descriptor -> rel of the folder
};

}  // namespace inboxd::watcher
