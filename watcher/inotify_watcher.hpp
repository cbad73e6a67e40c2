#pragma once
// InotifyWatcher: raw inotify on a non-blocking IN_CLOEXEC fd, driven by
// uv_poll (uv_fs_event hides IN_CLOSE_WRITE and IN_Q_OVERFLOW). The fd is
// drained until EAGAIN on every wake-up. With `recursive`, every subfolder gets
// a watch (except those skip_dir names); a folder created later is watched
// first and then reported as kDirAdded so the owner scans it (files created
// before the watch was added are found that way).
//
// Events are hints: an overflow (IN_Q_OVERFLOW) is reported as kOverflow once
// the queue has been read to its end (events after the overflow record may
// also have lost their successors) and the owner rescans everything; with `recursive` the watches
// are first brought back in line with the folders on disk (folder events may have been among those
// lost). Running out of watches (ENOSPC from inotify_add_watch) is reported as kWatchLimit with the
// folder's rel; the owner falls back to polling. The folder's own subfolders are then not watched
// either, so polling must cover rel recursively.
//
// Symlinks are never followed below the root; the root itself may be a
// symlink to a folder (an administrator's choice, as in scan_directory).
//
// The sink is called from the loop only, never from inside start(): events
// found while start() walks the tree (kWatchLimit) arrive on the next loop
// iteration. The sink may call close() or destroy the watcher; no further
// events are delivered after that. An exception thrown by the sink is logged
// and does not cross the libuv callback.
//
// Ownership: close() (or the destructor) stops the uv_poll before the fd is
// closed, as libuv requires; the loop must run afterwards so libuv can free
// the handles. Loop thread only.

#include <uv.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"
#include "common/uv_handle.hpp"
#include "watcher/file_info.hpp"

namespace inboxd::watcher {

enum class EventKind {
  kWriting,     // IN_MODIFY on a file, or IN_CREATE of a regular file with one
                // link (created by open(): a writer holds it until IN_CLOSE_WRITE)
  kClosed,      // IN_CLOSE_WRITE / IN_MOVED_TO on a file, or IN_CREATE of
                // anything else (hard link, symlink, FIFO): settle clock starts
  kRemoved,     // IN_DELETE on a file; IN_MOVED_FROM too when recursive (the
                // daemon's own claims move every file out of the root)
  kDirAdded,    // a new subfolder (already watched when recursive): scan it
  kOverflow,    // events were lost: rescan everything
  kWatchLimit,  // could not watch rel (ENOSPC/ENOMEM): poll it and everything
                // below it; rel "" means the inotify fd itself failed
  kRootGone,    // the inbox folder itself was deleted, moved or unmounted
};

// "writing", "closed", ...: for log lines.
std::string_view to_string(EventKind kind);

struct Event {
  EventKind kind;
  std::string rel;  // file or folder relative to the root; "" for kOverflow/kRootGone
};

class InotifyWatcher {
 public:
  using Sink = std::function<void(const Event&)>;

  // Watches root (and, when recursive, its subfolders except those skip_dir
  // names). Fails when inotify_init1 or the root's own watch fails; the
  // error's code is the errno (EMFILE: too many inotify instances, ENOSPC:
  // no watches left), after which the owner polls instead.
  static Result<std::unique_ptr<InotifyWatcher>> start(uv_loop_t* loop,
                                                       const std::filesystem::path& root,
                                                       bool recursive, SkipDir skip_dir, Sink sink);
  ~InotifyWatcher();
  InotifyWatcher(const InotifyWatcher&) = delete;
  InotifyWatcher& operator=(const InotifyWatcher&) = delete;

  // Stops watching. Safe to call more than once, and from inside the sink;
  // nothing is delivered after it.
  void close();
  // Folders currently watched, the root included.
  std::size_t watch_count() const { return dirs_.size(); }

 private:
  InotifyWatcher(std::filesystem::path root, bool recursive, SkipDir skip_dir, Sink sink);
  Result<void> open(uv_loop_t* loop);
  Result<void> start_polling(uv_loop_t* loop);
  Result<void> schedule_start_events(uv_loop_t* loop);
  void on_readable();
  void on_read_failure(int err);
  // Maps one inotify record to state changes and queued events.
  void handle(int wd, std::uint32_t mask, std::string_view name);
  void handle_file(std::uint32_t mask, const std::string& rel);
  void handle_folder(std::uint32_t mask, const std::string& rel);
  // Adds a watch on root/rel and, when recursive, on every subfolder below it.
  void add_tree(const std::string& rel);
  bool add_watch(const std::string& rel);
  void push_subfolders(const std::string& rel, std::vector<std::string>& todo) const;
  // After an overflow: watches every folder of the tree as it is now (folders
  // created while events were lost included) and drops watches of folders
  // that are gone, so the table matches the disk again.
  void rewatch_tree();
  // Forgets (and removes from the kernel) the watches on rel and below it.
  void drop_tree(const std::string& rel);
  void report_root_gone();
  // Hands queued_ to the sink. False when the sink closed or destroyed the
  // watcher: the caller must then return without touching any member.
  bool deliver();
  // Settles the kind of each create in unsettled_creates_ with a stat.
  void classify_creates();

  std::filesystem::path root_;
  bool recursive_;
  SkipDir skip_dir_;
  // Shared so that a sink that destroys this watcher can finish its own call.
  std::shared_ptr<const Sink> sink_;
  // Set to false by the destructor; callbacks hold a copy to notice it.
  std::shared_ptr<bool> alive_;
  UniqueFd fd_;
  UvHandle<uv_poll_t> poll_;
  // Delivers the events found during start() on the first loop iteration.
  UvHandle<uv_timer_t> start_events_;
  std::vector<Event> queued_;
  // Files created in what was read since the last delivery, with where
  // their event waits in queued_: whether a writer holds one (kWriting) or
  // not (kClosed, see created_kind) is looked up only if no close of it
  // follows before the delivery. In a burst the close nearly always does,
  // and the create then costs no stat.
  std::unordered_map<std::string, std::size_t> unsettled_creates_;
  int root_wd_ = -1;
  bool root_gone_ = false;
  bool overflowed_ = false;  // an overflow was read; reported when the queue is drained
  std::unordered_map<int, std::string> dirs_;  // watch descriptor -> rel of the folder
};

}  // namespace inboxd::watcher
