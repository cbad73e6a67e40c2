#pragma once
// FileInfo and directory scanning.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace inboxd::watcher {

struct FileInfo {
  std::string rel;  // relative to the inbox root, '/'-separated bytes
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;  // st_mtim as nanoseconds since the epoch (file server's clock)
  dev_t dev = 0;
  ino_t ino = 0;
  nlink_t nlink = 0;

  std::string_view name() const;  // last component of rel
  // Same content as far as settle can tell: size and mtime unchanged.
  bool same_version(const FileInfo& other) const {
    return size == other.size && mtime_ns == other.mtime_ns;
  }
};

// The last component of a rel ("a/b/c.pdf" -> "c.pdf").
std::string_view name_of(std::string_view rel);

// Says whether a directory (rel, "" for the root never asked) must be skipped:
// the inbox's spool, done and failed folders are never watched or scanned.
// An empty SkipDir skips nothing.
using SkipDir = std::function<bool(std::string_view rel_dir)>;

// Lists the regular files directly in root/rel_dir (and below it when
// recursive), using fstatat(AT_SYMLINK_NOFOLLOW): symlinks, FIFOs, sockets and
// devices are skipped and never opened, and symlinked folders are never
// entered. Results are sorted by rel (bytewise), so a start-up scan claims in
// name order.
// Errors name the operation and the path ("opendir /srv/in: Permission
// denied"): a missing or unreadable root, or an unreadable rel_dir. A rel_dir
// that does not exist (any more) yields no files. Below rel_dir, a subfolder
// vanishing mid-scan is skipped silently and an unreadable one is skipped
// with a warning in the log, so one bad subfolder never hides the rest.
// Files and folders whose full path would reach PATH_MAX are left out (a
// folder with a warning): nothing that deep could be claimed by path, and a
// hostile tree cannot drive the walk deeper than that.
// The root may itself be a symlink to a folder (an administrator's choice).
Result<std::vector<FileInfo>> scan_directory(const std::filesystem::path& root,
                                             std::string_view rel_dir, bool recursive,
                                             const SkipDir& skip_dir);

// lstat of one entry: nullopt when it is gone or not a regular file (a
// symlinked folder on the way counts as gone). Errors when the root cannot be
// opened or the lstat fails for another reason than absence.
Result<std::optional<FileInfo>> stat_entry(const std::filesystem::path& root, std::string_view rel);
// stat_entry for each of `rels`, in order; a folder that consecutive rels
// share is opened once for all of them.
std::vector<Result<std::optional<FileInfo>>> stat_entries(const std::filesystem::path& root,
                                                          const std::vector<std::string>& rels);

}  // namespace inboxd::watcher
