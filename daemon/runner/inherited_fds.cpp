#include "daemon/runner/inherited_fds.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <memory>
#include <string_view>

#include "common/log.hpp"
#include "common/sys_error.hpp"

namespace inboxd::runner {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

void set_cloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  // EBADF: the fd was closed since the directory was read; nothing to do.
  if (flags >= 0 && (flags & FD_CLOEXEC) == 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

}  // namespace

Result<void> mark_fds_cloexec_by_scan(int first_fd) {
  std::unique_ptr<DIR, DirCloser> dir(::opendir("/proc/self/fd"));  // O_CLOEXEC in glibc
  if (!dir) return fail_errno("opendir", "/proc/self/fd");
  int own_fd = ::dirfd(dir.get());
  while (const dirent* entry = ::readdir(dir.get())) {
    std::string_view name(entry->d_name);
    int fd = -1;
    auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
    if (ec != std::errc() || end != name.data() + name.size()) continue;
    if (fd >= first_fd && fd != own_fd) set_cloexec(fd);
  }
  return {};
}

void mark_inherited_fds_cloexec() {
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  // ENOSYS or EINVAL: a kernel older than 5.11 (or a seccomp filter).
  if (auto ok = mark_fds_cloexec_by_scan(3); !ok) {
    log::get("runner")->error("inherited fds not marked close-on-exec error={}",
                              log::quote(ok.error().message));
  }
}

}  // namespace inboxd::runner
