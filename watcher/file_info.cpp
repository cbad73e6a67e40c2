#include "watcher/file_info.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <numeric>
#include <optional>
#include <string>
#include <utility>

#include "common/log.hpp"
#include "common/sys_error.hpp"
#include "common/unique_fd.hpp"
#include "watcher/directory.hpp"

namespace inboxd::watcher {
namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static const auto instance = log::get("watcher");
  return instance;
}

FileInfo to_file_info(std::string rel, const struct stat& st) {
  FileInfo info;
  info.rel = std::move(rel);
  info.size = static_cast<std::uint64_t>(st.st_size);
  info.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  info.dev = st.st_dev;
  info.ino = st.st_ino;
  info.nlink = st.st_nlink;
  return info;
}

// One scan of one folder and, when recursive, everything below it. Only the
// starting folder's failures are errors; a subfolder that vanishes is skipped
// silently and one that cannot be read is skipped with a warning, so a single
// bad subfolder never hides the rest of the inbox.
class FolderScan {
 public:
  FolderScan(const std::filesystem::path& root, bool recursive, const SkipDir& skip_dir)
      : root_(root), recursive_(recursive), skip_dir_(skip_dir) {}

  Result<void> folder(int dir_fd, const std::string& rel);
  std::vector<FileInfo> take() { return std::move(files_); }

 private:
  void descend(int parent_fd, const std::string& rel, const std::string& name);
  bool too_long(const std::string& rel) const;

  const std::filesystem::path& root_;
  bool recursive_;
  const SkipDir& skip_dir_;
  std::vector<FileInfo> files_;
};

Result<void> FolderScan::folder(int dir_fd, const std::string& rel) {
  auto entries = read_entries(dir_fd, join_path(root_, rel));
  if (!entries) return fail(entries.error());
  // Room for every entry at once (keeping the vector's geometric growth across
  // folders): no re-allocation and copying of the files found so far.
  const std::size_t room = files_.size() + entries->size();
  if (files_.capacity() < room) files_.reserve(std::max(room, 2 * files_.capacity()));
  std::vector<std::string> subfolders;
  for (DirEntry& entry : *entries) {
    if (entry.type == DT_DIR) {
      if (recursive_) subfolders.push_back(std::move(entry.name));
      continue;
    }
    // Symlinks, FIFOs, sockets and devices are recognised from readdir alone
    // and never touched; only regular files and unknown types are stat'ed.
    if (entry.type != DT_REG && entry.type != DT_UNKNOWN) continue;
    struct stat st {};
    if (::fstatat(dir_fd, entry.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return fail_errno("lstat", join_path(root_, join_rel(rel, entry.name)));
    }
    if (S_ISREG(st.st_mode)) {
      // In the inbox's root the rel is the name: take it rather than copy it.
      std::string file = rel.empty() ? std::move(entry.name) : join_rel(rel, entry.name);
      if (!too_long(file)) files_.push_back(to_file_info(std::move(file), st));
    } else if (S_ISDIR(st.st_mode) && recursive_) {
      subfolders.push_back(std::move(entry.name));
    }
  }
  for (const auto& name : subfolders) descend(dir_fd, rel, name);
  return {};
}

// Whatever the daemon does with a file after the scan goes through its full
// path (the claim's rename, a handler's {path}), which the kernel refuses past
// PATH_MAX. A file that deep could never be claimed, so it is not listed, and
// a folder that deep is not entered: this also bounds how deep a hostile tree
// can drive the scan's recursion.
bool FolderScan::too_long(const std::string& rel) const {
  return root_.native().size() + 1 + rel.size() >= PATH_MAX;
}

void FolderScan::descend(int parent_fd, const std::string& rel, const std::string& name) {
  const std::string child = join_rel(rel, name);
  if (skip_dir_ && skip_dir_(child)) return;
  if (too_long(child)) {
    // The first bytes name the branch well enough; the full path may be 4 KiB.
    const std::string shown = join_path(root_, child).substr(0, 160) + "...";
    logger()->warn("subfolder skipped in scan error={}",
                   log::quote(sys_error("opendir", shown, ENAMETOOLONG).message));
    return;
  }
  UniqueFd fd(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    // Gone, or replaced by a file or a symlink since readdir: nothing to list.
    if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return;
    logger()->warn("subfolder skipped in scan error={}",
                   log::quote(sys_error("opendir", join_path(root_, child)).message));
    return;
  }
  auto scanned = folder(fd.get(), child);
  if (!scanned) {
    logger()->warn("subfolder skipped in scan error={}", log::quote(scanned.error().message));
  }
}

// Sorts by rel. std::string compares as unsigned char: bytewise order, names
// with high bytes last. The order is worked out on indices, which the sort
// moves around cheaply, and then each FileInfo is moved once into its place
// (following the permutation's cycles), instead of the sort swapping whole
// FileInfos (72 bytes each) some n log n times.
void sort_by_rel(std::vector<FileInfo>& files) {
  std::vector<std::size_t> order(files.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&files](std::size_t a, std::size_t b) { return files[a].rel < files[b].rel; });
  // files[i] must receive the FileInfo now at files[order[i]].
  for (std::size_t start = 0; start < order.size(); ++start) {
    if (order[start] == start) continue;
    FileInfo held = std::move(files[start]);
    std::size_t at = start;
    while (order[at] != start) {
      const std::size_t from = order[at];
      files[at] = std::move(files[from]);
      order[at] = at;
      at = from;
    }
    files[at] = std::move(held);
    order[at] = at;
  }
}

}  // namespace

std::string_view name_of(std::string_view rel) {
  const auto slash = rel.rfind('/');
  return slash == std::string_view::npos ? rel : rel.substr(slash + 1);
}

std::string_view FileInfo::name() const { return name_of(rel); }

Result<std::vector<FileInfo>> scan_directory(const std::filesystem::path& root,
                                             std::string_view rel_dir, bool recursive,
                                             const SkipDir& skip_dir) {
  auto dir = open_folder(root, rel_dir, DirAccess::kList);
  if (!dir) return fail(dir.error());
  if (!dir->valid()) return std::vector<FileInfo>{};  // rel_dir vanished: nothing in it
  FolderScan scan(root, recursive, skip_dir);
  auto scanned = scan.folder(dir->get(), std::string(rel_dir));
  if (!scanned) return fail(scanned.error());
  std::vector<FileInfo> files = scan.take();
  sort_by_rel(files);
  return files;
}

namespace {

// A rel split into its folder and its name; nullopt when the name is not one.
std::optional<std::pair<std::string_view, std::string>> split_rel(std::string_view rel) {
  const auto slash = rel.rfind('/');
  const std::string_view parent = slash == std::string_view::npos ? "" : rel.substr(0, slash);
  std::string name(slash == std::string_view::npos ? rel : rel.substr(slash + 1));
  if (name.empty() || name == "." || name == "..") return std::nullopt;
  return std::pair(parent, std::move(name));
}

// The lstat of `name` in the open folder `dir` (invalid: the folder is gone).
Result<std::optional<FileInfo>> stat_in(const UniqueFd& dir, const std::filesystem::path& root,
                                        std::string_view rel, const std::string& name) {
  if (!dir.valid()) return std::optional<FileInfo>{};
  struct stat st {};
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<FileInfo>{};
    return fail_errno("lstat", join_path(root, rel));
  }
  if (!S_ISREG(st.st_mode)) return std::optional<FileInfo>{};
  return std::optional<FileInfo>{to_file_info(std::string(rel), st)};
}

}  // namespace

Result<std::optional<FileInfo>> stat_entry(const std::filesystem::path& root,
                                           std::string_view rel) {
  return std::move(stat_entries(root, {std::string(rel)}).front());
}

std::vector<Result<std::optional<FileInfo>>> stat_entries(const std::filesystem::path& root,
                                                          const std::vector<std::string>& rels) {
  std::vector<Result<std::optional<FileInfo>>> results;
  results.reserve(rels.size());
  std::optional<std::string> open_parent;
  Result<UniqueFd> dir = UniqueFd();
  for (const auto& rel : rels) {
    auto split = split_rel(rel);
    if (!split) {
      results.emplace_back(fail("lstat " + join_path(root, rel) + ": invalid file name", EINVAL));
      continue;
    }
    if (open_parent != split->first) {
      open_parent = std::string(split->first);
      dir = open_folder(root, split->first, DirAccess::kLookup);
    }
    if (!dir) {
      results.emplace_back(fail(dir.error()));
      continue;
    }
    results.push_back(stat_in(*dir, root, rel, split->second));
  }
  return results;
}

}  // namespace inboxd::watcher
