#include "watcher/directory.hpp"

#include <dirent.h>
#include <fcntl.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "common/sys_error.hpp"

namespace inboxd::watcher {
namespace {

int open_flags(DirAccess access) {
  return (access == DirAccess::kList ? O_RDONLY : O_PATH) | O_DIRECTORY | O_CLOEXEC;
}

// ENOENT/ENOTDIR/ELOOP while walking down: the folder was removed or replaced
// (by a file or a symlink) since it was listed.
bool is_gone(int err) { return err == ENOENT || err == ENOTDIR || err == ELOOP; }

// "a/b" -> {"a", "b"}; "" -> {}. Empty parts are kept so they can be refused.
std::vector<std::string> split_rel(std::string_view rel) {
  std::vector<std::string> parts;
  if (rel.empty()) return parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = rel.find('/', start);
    if (slash == std::string_view::npos) {
      parts.emplace_back(rel.substr(start));
      return parts;
    }
    parts.emplace_back(rel.substr(start, slash - start));
    start = slash + 1;
  }
}

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

}  // namespace

std::string join_path(const std::filesystem::path& root, std::string_view rel) {
  std::string out = root.string();
  if (rel.empty()) return out;
  if (out.empty() || out.back() != '/') out += '/';
  out.append(rel);
  return out;
}

std::string join_rel(std::string_view dir_rel, std::string_view name) {
  std::string out(dir_rel);
  if (!out.empty()) out += '/';
  out.append(name);
  return out;
}

Result<UniqueFd> open_folder(const std::filesystem::path& root, std::string_view rel_dir,
                             DirAccess access) {
  const std::vector<std::string> parts = split_rel(rel_dir);
  for (const auto& part : parts) {
    if (part.empty() || part == "." || part == "..") {
      return fail("opendir " + join_path(root, rel_dir) + ": invalid folder name", EINVAL);
    }
  }
  UniqueFd current(::open(root.c_str(), open_flags(parts.empty() ? access : DirAccess::kLookup)));
  if (!current.valid()) return fail_errno("opendir", root.string());

  std::string walked;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    walked = join_rel(walked, parts[i]);
    const bool last = i + 1 == parts.size();
    const int flags = open_flags(last ? access : DirAccess::kLookup) | O_NOFOLLOW;
    UniqueFd next(::openat(current.get(), parts[i].c_str(), flags));
    if (!next.valid()) {
      if (is_gone(errno)) return UniqueFd{};
      return fail_errno("opendir", join_path(root, walked));
    }
    current = std::move(next);
  }
  return current;
}

Result<std::vector<DirEntry>> read_entries(int dir_fd, const std::string& display_path) {
  // fdopendir takes ownership of its fd; a duplicate leaves dir_fd to the caller.
  const int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return fail_errno("opendir", display_path);
  std::unique_ptr<DIR, DirCloser> dir(::fdopendir(dup_fd));
  if (!dir) {
    const int err = errno;
    ::close(dup_fd);
    return fail_errno("opendir", display_path, err);
  }
  std::vector<DirEntry> entries;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) {
      if (errno != 0) return fail_errno("readdir", display_path);
      break;
    }
    const std::string_view name(entry->d_name);
    if (name == "." || name == "..") continue;
    entries.push_back(DirEntry{std::string(name), entry->d_type});
  }
  return entries;
}

}  // namespace inboxd::watcher
