#include "watcher/inotify_watcher.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <utility>

#include "common/log.hpp"
#include "common/sys_error.hpp"
#include "watcher/directory.hpp"

namespace inboxd::watcher {
namespace {

constexpr std::uint32_t kFolderMask = IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO |
                                      IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |
                                      IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;
// The root may be a symlink an administrator set up, so it is followed; it is
// the one folder whose unmounting matters.
constexpr std::uint32_t kRootMask = (kFolderMask & ~std::uint32_t{IN_DONT_FOLLOW}) | IN_UNMOUNT;
// Without subfolders to follow, a name moved out of the root needs no event:
// the next stat of it finds it gone (and a full scan, one still marked as
// being written). Every claim is such a move, so watching for it put one
// event per claimed file into the kernel's queue, and a backlog of some ten
// thousand files overflowed it.
constexpr std::uint32_t kFlatRootMask = kRootMask & ~std::uint32_t{IN_MOVED_FROM};

// Big enough for hundreds of records per read; a record is at most
// sizeof(inotify_event) + NAME_MAX + 1 bytes.
constexpr std::size_t kReadBufferSize = 64 * 1024;

const std::shared_ptr<spdlog::logger>& logger() {
  static const auto instance = log::get("watcher");
  return instance;
}

bool is_gone(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP; }

// A regular file with a single link was just created by open(): its writer
// holds it until IN_CLOSE_WRITE. Anything else that appears (a hard link, a
// symlink, a FIFO, or a name already gone again) has no writer to wait for.
EventKind created_kind(const std::string& path) {
  struct stat st {};
  if (::fstatat(AT_FDCWD, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return EventKind::kClosed;
  return S_ISREG(st.st_mode) && st.st_nlink == 1 ? EventKind::kWriting : EventKind::kClosed;
}

bool is_folder(int dir_fd, const DirEntry& entry) {
  if (entry.type == DT_DIR) return true;
  if (entry.type != DT_UNKNOWN) return false;
  struct stat st {};
  return ::fstatat(dir_fd, entry.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         S_ISDIR(st.st_mode);
}

bool in_tree(const std::string& rel, const std::string& top) {
  return rel.size() >= top.size() && rel.compare(0, top.size(), top) == 0 &&
         (rel.size() == top.size() || rel[top.size()] == '/');
}

}  // namespace

std::string_view to_string(EventKind kind) {
  switch (kind) {
    case EventKind::kWriting: return "writing";
    case EventKind::kClosed: return "closed";
    case EventKind::kRemoved: return "removed";
    case EventKind::kDirAdded: return "dir_added";
    case EventKind::kOverflow: return "overflow";
    case EventKind::kWatchLimit: return "watch_limit";
    case EventKind::kRootGone: return "root_gone";
  }
  return "unknown";
}

InotifyWatcher::InotifyWatcher(std::filesystem::path root, bool recursive, SkipDir skip_dir,
                               Sink sink)
    : root_(std::move(root)),
      recursive_(recursive),
      skip_dir_(std::move(skip_dir)),
      sink_(std::make_shared<const Sink>(std::move(sink))),
      alive_(std::make_shared<bool>(true)) {}

InotifyWatcher::~InotifyWatcher() {
  *alive_ = false;
  close();
}

Result<std::unique_ptr<InotifyWatcher>> InotifyWatcher::start(uv_loop_t* loop,
                                                              const std::filesystem::path& root,
                                                              bool recursive, SkipDir skip_dir,
                                                              Sink sink) {
  std::unique_ptr<InotifyWatcher> watcher(
      new InotifyWatcher(root, recursive, std::move(skip_dir), std::move(sink)));
  auto opened = watcher->open(loop);
  if (!opened) return fail(opened.error());
  return watcher;
}

void InotifyWatcher::close() {
  // uv_close takes the fd out of epoll at once, so the fd may be closed right
  // after; the handle memory is freed later, in the close callback.
  poll_.close();
  start_events_.close();
  fd_.reset();
  dirs_.clear();
  queued_.clear();
  unsettled_creates_.clear();
}

Result<void> InotifyWatcher::open(uv_loop_t* loop) {
  fd_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd_.valid()) return fail_errno("inotify_init1", root_.string());
  root_wd_ = ::inotify_add_watch(fd_.get(), root_.c_str(), recursive_ ? kRootMask : kFlatRootMask);
  if (root_wd_ < 0) return fail_errno("inotify_add_watch", root_.string());
  dirs_[root_wd_] = "";
  if (recursive_) {
    std::vector<std::string> subfolders;
    push_subfolders("", subfolders);
    for (const auto& rel : subfolders) add_tree(rel);
  }
  return start_polling(loop);
}

Result<void> InotifyWatcher::start_polling(uv_loop_t* loop) {
  int rc = uv_poll_init(loop, poll_.get(), fd_.get());
  if (rc < 0) return fail("uv_poll_init " + root_.string() + ": " + uv_error_text(rc), rc);
  poll_->data = this;
  rc = uv_poll_start(poll_.get(), UV_READABLE, [](uv_poll_t* handle, int status, int) noexcept {
    try {
      auto* self = static_cast<InotifyWatcher*>(handle->data);
      if (status < 0) {
        self->on_read_failure(status);
        self->deliver();
      } else {
        self->on_readable();
      }
    } catch (const std::exception& e) {
      logger()->error("inotify callback failed error={}", log::quote(e.what()));
    } catch (...) {
      logger()->error("inotify callback failed error=unknown");
    }
  });
  if (rc < 0) return fail("uv_poll_start " + root_.string() + ": " + uv_error_text(rc), rc);
  return queued_.empty() ? Result<void>{} : schedule_start_events(loop);
}

Result<void> InotifyWatcher::schedule_start_events(uv_loop_t* loop) {
  // Events found while walking the tree reach the sink from the loop, once
  // start() has returned and the owner holds the watcher.
  const int rc = uv_timer_init(loop, start_events_.get());
  if (rc < 0) return fail("uv_timer_init " + root_.string() + ": " + uv_error_text(rc), rc);
  start_events_->data = this;
  uv_timer_start(
      start_events_.get(),
      [](uv_timer_t* handle) noexcept {
        try {
          auto* self = static_cast<InotifyWatcher*>(handle->data);
          if (self->deliver()) self->start_events_.close();
        } catch (const std::exception& e) {
          logger()->error("inotify callback failed error={}", log::quote(e.what()));
        } catch (...) {
          logger()->error("inotify callback failed error=unknown");
        }
      },
      0, 0);
  return {};
}

void InotifyWatcher::on_readable() {
  alignas(struct inotify_event) char buffer[kReadBufferSize];
  while (fd_.valid()) {
    const ssize_t n = ::read(fd_.get(), buffer, sizeof buffer);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN) on_read_failure(-errno);
      if (overflowed_) {
        overflowed_ = false;
        queued_.push_back(Event{EventKind::kOverflow, ""});
      }
      deliver();
      return;
    }
    const auto total = static_cast<std::size_t>(n);
    std::size_t offset = 0;
    while (offset + sizeof(inotify_event) <= total) {
      // Copied out rather than cast, so no record is ever read misaligned.
      inotify_event header{};
      std::memcpy(&header, buffer + offset, sizeof header);
      const char* name = buffer + offset + sizeof header;
      const std::size_t room = std::min<std::size_t>(header.len, total - offset - sizeof header);
      handle(header.wd, header.mask, std::string_view(name, ::strnlen(name, room)));
      offset += sizeof header + header.len;
    }
    if (!deliver()) return;
  }
}

void InotifyWatcher::on_read_failure(int err) {
  // Cannot happen with a valid fd; if it does, stop polling (a level-triggered
  // error would spin the loop) and let the owner poll the whole inbox.
  logger()->error("inotify read failed path={} error={}", log::quote(root_.string()),
                  log::quote(uv_error_text(err)));
  if (poll_) uv_poll_stop(poll_.get());
  queued_.push_back(Event{EventKind::kWatchLimit, ""});
}

void InotifyWatcher::handle(int wd, std::uint32_t mask, std::string_view name) {
  if ((mask & IN_Q_OVERFLOW) != 0) {
    // Reported once the queue is drained, not here: the kernel keeps one
    // overflow record per instance, and while it still waits in the queue,
    // further drops add no new one. Events read after it may therefore
    // describe files whose later events were lost (a create without its
    // close); the owner's rescan and reset must come after all of them.
    if (root_gone_) return;
    if (recursive_) rewatch_tree();
    overflowed_ = true;
    return;
  }
  const auto it = dirs_.find(wd);
  if (it == dirs_.end()) return;  // a dropped watch: its late events describe nothing of ours
  const std::string dir_rel = it->second;
  if ((mask & IN_IGNORED) != 0) {
    dirs_.erase(it);
    if (wd == root_wd_) report_root_gone();
    return;
  }
  if (root_gone_) return;
  if ((mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) != 0) {
    if (wd == root_wd_) {
      report_root_gone();
    } else {
      drop_tree(dir_rel);
    }
    return;
  }
  if (name.empty()) return;
  const std::string rel = join_rel(dir_rel, name);
  if ((mask & IN_ISDIR) != 0) {
    handle_folder(mask, rel);
  } else {
    handle_file(mask, rel);
  }
}

void InotifyWatcher::handle_file(std::uint32_t mask, const std::string& rel) {
  EventKind kind;
  if ((mask & IN_CREATE) != 0) {
    unsettled_creates_[rel] = queued_.size();
    kind = EventKind::kWriting;
  } else if ((mask & IN_MODIFY) != 0) {
    kind = EventKind::kWriting;
  } else if ((mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0) {
    // Created and closed: the create marked a writer that is done now,
    // whatever the name holds (a FIFO's writer closes it too).
    unsettled_creates_.erase(rel);
    kind = EventKind::kClosed;
  } else if ((mask & (IN_DELETE | IN_MOVED_FROM)) != 0) {
    kind = EventKind::kRemoved;
  } else {
    return;
  }
  queued_.push_back(Event{kind, rel});
}

void InotifyWatcher::handle_folder(std::uint32_t mask, const std::string& rel) {
  if (!recursive_) return;
  if ((mask & (IN_CREATE | IN_MOVED_TO)) != 0) {
    if (skip_dir_ && skip_dir_(rel)) return;
    // Watch first, report second: whatever was written into the folder before
    // its watch existed is found by the owner's scan of rel, anything later
    // arrives as events.
    add_tree(rel);
    queued_.push_back(Event{EventKind::kDirAdded, rel});
  } else if ((mask & (IN_DELETE | IN_MOVED_FROM)) != 0) {
    // A folder moved elsewhere keeps its watches (they follow the inode); they
    // must stop reporting under the old rel. Moved within the inbox, the
    // folder arrives again through IN_MOVED_TO and is watched anew.
    drop_tree(rel);
  }
}

void InotifyWatcher::rewatch_tree() {
  std::unordered_map<int, std::string> before = std::exchange(dirs_, {});
  dirs_[root_wd_] = "";
  std::vector<std::string> subfolders;
  push_subfolders("", subfolders);
  for (const auto& rel : subfolders) add_tree(rel);
  // A folder watched again keeps its wd (watches belong to inodes) and gets
  // its current rel; a wd not seen in the walk belongs to a folder that is
  // gone or was moved out while events were lost.
  for (const auto& [wd, rel] : before) {
    if (!dirs_.contains(wd)) ::inotify_rm_watch(fd_.get(), wd);
  }
}

void InotifyWatcher::add_tree(const std::string& rel) {
  std::vector<std::string> todo{rel};
  while (!todo.empty()) {
    const std::string next = std::move(todo.back());
    todo.pop_back();
    // The watch comes before the listing, so a subfolder created in between
    // is reported by the new watch instead of being missed.
    if (add_watch(next)) push_subfolders(next, todo);
  }
}

bool InotifyWatcher::add_watch(const std::string& rel) {
  const std::string path = join_path(root_, rel);
  const int wd = ::inotify_add_watch(fd_.get(), path.c_str(), kFolderMask);
  if (wd >= 0) {
    dirs_[wd] = rel;
    return true;
  }
  const int err = errno;
  if (err == ENOSPC || err == ENOMEM) {
    logger()->debug("watch limit reached rel={}", log::quote(rel));
    queued_.push_back(Event{EventKind::kWatchLimit, rel});
  } else if (!is_gone(err)) {
    logger()->warn("folder not watched error={}",
                   log::quote(sys_error("inotify_add_watch", path, err).message));
  }
  return false;
}

void InotifyWatcher::push_subfolders(const std::string& rel, std::vector<std::string>& todo) const {
  auto dir = open_folder(root_, rel, DirAccess::kList);
  if (!dir) {
    logger()->warn("subfolders not watched error={}", log::quote(dir.error().message));
    return;
  }
  if (!dir->valid()) return;  // removed meanwhile; its events say so
  auto entries = read_entries(dir->get(), join_path(root_, rel));
  if (!entries) {
    logger()->warn("subfolders not watched error={}", log::quote(entries.error().message));
    return;
  }
  for (const DirEntry& entry : *entries) {
    if (!is_folder(dir->get(), entry)) continue;
    std::string child = join_rel(rel, entry.name);
    if (skip_dir_ && skip_dir_(child)) continue;
    todo.push_back(std::move(child));
  }
}

void InotifyWatcher::drop_tree(const std::string& rel) {
  for (auto it = dirs_.begin(); it != dirs_.end();) {
    if (it->first != root_wd_ && in_tree(it->second, rel)) {
      // Fails harmlessly (EINVAL) when the kernel already dropped the watch.
      ::inotify_rm_watch(fd_.get(), it->first);
      it = dirs_.erase(it);
    } else {
      ++it;
    }
  }
}

void InotifyWatcher::report_root_gone() {
  if (root_gone_) return;
  root_gone_ = true;
  queued_.push_back(Event{EventKind::kRootGone, ""});
}

void InotifyWatcher::classify_creates() {
  for (const auto& [rel, index] : unsettled_creates_) {
    queued_[index].kind = created_kind(join_path(root_, rel));
  }
  unsettled_creates_.clear();
}

bool InotifyWatcher::deliver() {
  classify_creates();
  if (queued_.empty()) return fd_.valid();
  // Locals keep the sink and the liveness flag valid even if the sink
  // destroys this watcher; after that no member may be touched.
  const std::shared_ptr<bool> alive = alive_;
  const std::shared_ptr<const Sink> sink = sink_;
  const std::vector<Event> batch = std::exchange(queued_, {});
  for (const Event& event : batch) {
    try {
      (*sink)(event);
    } catch (const std::exception& e) {
      logger()->error("event handler failed kind={} rel={} error={}", to_string(event.kind),
                      log::quote(event.rel), log::quote(e.what()));
    } catch (...) {
      logger()->error("event handler failed kind={} rel={} error=unknown", to_string(event.kind),
                      log::quote(event.rel));
    }
    if (!*alive || !fd_.valid()) return false;
  }
  return true;
}

}  // namespace inboxd::watcher
