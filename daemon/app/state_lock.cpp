#include "daemon/app/state_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>

#include "common/sys_error.hpp"

namespace inboxd::app {

Result<StateLock> StateLock::acquire(const std::filesystem::path& state_dir, Failure* failure) {
  auto file = state_dir / "inboxd.lock";
  *failure = Failure::kIo;
  UniqueFd fd(::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return fail_errno("open", file.string());
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      *failure = Failure::kHeld;
      return fail("another inboxd holds " + file.string());
    }
    return fail_errno("flock", file.string());
  }
  // The pid is informational (for people); the lock is the flock itself.
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) == 0) {
    [[maybe_unused]] auto written = ::pwrite(fd.get(), pid.data(), pid.size(), 0);
  }
  return StateLock(std::move(fd));
}

}  // namespace inboxd::app
