#include "daemon/runner/inherited_fds.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace inboxd::runner {
namespace {

// An fd opened without O_CLOEXEC, as one inherited from the daemon's parent.
class InheritedFd {
 public:
  InheritedFd() : fd_(::open("/dev/null", O_RDONLY)) {}  // NOLINT(android-cloexec-open)
  ~InheritedFd() { ::close(fd_); }
  InheritedFd(const InheritedFd&) = delete;
  InheritedFd& operator=(const InheritedFd&) = delete;
  bool cloexec() const { return (::fcntl(fd_, F_GETFD) & FD_CLOEXEC) != 0; }

 private:
  int fd_;
};

}  // namespace

TEST_CASE("inherited fds are marked close-on-exec", "[inherited_fds]") {
  InheritedFd fd;
  REQUIRE_FALSE(fd.cloexec());
  mark_inherited_fds_cloexec();
  CHECK(fd.cloexec());
}

TEST_CASE("the /proc/self/fd fallback marks inherited fds close-on-exec", "[inherited_fds]") {
  InheritedFd fd;
  REQUIRE_FALSE(fd.cloexec());
  REQUIRE(mark_fds_cloexec_by_scan(3));
  CHECK(fd.cloexec());
}

TEST_CASE("marking leaves stdin, stdout and stderr inheritable", "[inherited_fds]") {
  mark_inherited_fds_cloexec();
  for (int fd = 0; fd < 3; ++fd) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) CHECK((flags & FD_CLOEXEC) == 0);
  }
}

}  // namespace inboxd::runner
