#pragma once
// Internal to the watcher: opening folders inside an inbox without following
// symlinks, and listing their entries. scan_directory, stat_entry and the
// inotify watcher's subtree walk share these, so all three agree on what
// "inside the inbox" means.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace inboxd::watcher {

// kList opens a folder to read its entries; kLookup only to reach the entries
// inside it with *at() calls (O_PATH: search permission is enough).
enum class DirAccess { kList, kLookup };

// Opens root/rel_dir as a folder, O_CLOEXEC. The root is opened as configured
// (an administrator may point an inbox at a symlink); every component of
// rel_dir is opened with O_NOFOLLOW relative to its parent's fd, so a symlink
// inside the inbox never leads a walk out of it.
// Returns an invalid UniqueFd when a component of rel_dir is gone or is not a
// folder (a walk racing with a removal); an error when the root cannot be
// opened, a component cannot be opened for another reason, or rel_dir holds an
// empty, "." or ".." component.
Result<UniqueFd> open_folder(const std::filesystem::path& root, std::string_view rel_dir,
                             DirAccess access);

struct DirEntry {
  std::string name;
  unsigned char type;  // DT_* from readdir; DT_UNKNOWN on filesystems that do not say
};

// Every entry of the folder open at dir_fd except "." and "..", in readdir
// order. dir_fd stays open and owned by the caller. display_path names the
// folder in error messages.
Result<std::vector<DirEntry>> read_entries(int dir_fd, const std::string& display_path);

// "root/rel" for messages and path-based calls; the root alone when rel is "".
std::string join_path(const std::filesystem::path& root, std::string_view rel);

// "dir_rel/name", or name alone when dir_rel is "" (the inbox root).
std::string join_rel(std::string_view dir_rel, std::string_view name);

}  // namespace inboxd::watcher
