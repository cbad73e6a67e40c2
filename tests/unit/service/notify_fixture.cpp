#include "tests/unit/service/notify_fixture.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

namespace inboxd::service::testing {

ServiceTempDir::ServiceTempDir() {
  char pattern[] = "/tmp/inboxd-service-XXXXXX";
  REQUIRE(::mkdtemp(pattern) != nullptr);
  root_ = pattern;
}

ServiceTempDir::~ServiceTempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(root_, ignored);
}

std::optional<std::string> Notification::field(const std::string& key) const {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.compare(0, key.size() + 1, key + "=") == 0) return line.substr(key.size() + 1);
  }
  return std::nullopt;
}

NotifyListener::NotifyListener(std::string address) : address_(std::move(address)) {
  fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  REQUIRE(fd_.valid());
  // systemd learns the sender's pid the same way: the kernel attaches it.
  int on = 1;
  REQUIRE(::setsockopt(fd_.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(address_.size() < sizeof addr.sun_path);
  std::memcpy(addr.sun_path, address_.c_str(), address_.size() + 1);
  bool abstract = address_.front() == '@';
  if (abstract) addr.sun_path[0] = '\0';
  auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                     (abstract ? 0 : 1));
  REQUIRE(::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), size) == 0);
}

std::optional<Notification> NotifyListener::next(std::chrono::milliseconds timeout) {
  pollfd pfd{fd_.get(), POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  char buffer[4096];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  iovec iov{buffer, sizeof buffer};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  auto n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC);
  if (n < 0) return std::nullopt;
  Notification notification{std::string(buffer, static_cast<std::size_t>(n)), 0};
  for (auto* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      ucred cred{};
      std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
      notification.sender = cred.pid;
    }
  }
  history_.push_back(notification);
  return notification;
}

std::optional<Notification> NotifyListener::next_with(const std::string& line,
                                                      std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) return std::nullopt;
    auto message = next(left);
    if (!message) return std::nullopt;
    if (("\n" + message->text + "\n").find("\n" + line + "\n") != std::string::npos) {
      return message;
    }
  }
}

std::vector<Notification> NotifyListener::drain() {
  std::vector<Notification> all;
  while (auto message = next(0ms)) all.push_back(*message);
  return all;
}

ScopedEnv::~ScopedEnv() {
  for (const auto& [key, value] : saved_) {
    if (value) {
      ::setenv(key.c_str(), value->c_str(), 1);
    } else {
      ::unsetenv(key.c_str());
    }
  }
}

void ScopedEnv::remember(const std::string& key) {
  if (saved_.count(key) != 0) return;
  const char* old = std::getenv(key.c_str());
  saved_[key] = old != nullptr ? std::optional<std::string>(old) : std::nullopt;
}

void ScopedEnv::set(const std::string& key, const std::string& value) {
  remember(key);
  ::setenv(key.c_str(), value.c_str(), 1);
}

void ScopedEnv::unset(const std::string& key) {
  remember(key);
  ::unsetenv(key.c_str());
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return condition();
}

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace inboxd::service::testing
