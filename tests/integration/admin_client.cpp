#include "tests/integration/admin_client.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

namespace inboxd::testing {

AdminClient::AdminClient(const DaemonFixture& d, std::chrono::milliseconds limit)
    : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = (d.root() / "state/inboxd.sock").string();
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(limit).count();
  timeval timeout{static_cast<time_t>(micros / 1'000'000),
                  static_cast<suseconds_t>(micros % 1'000'000)};
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
}

void AdminClient::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::optional<std::string> AdminClient::read_line() {
  for (;;) {
    if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    char chunk[4096];
    const ssize_t n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
    if (n <= 0) return std::nullopt;
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::optional<nlohmann::json> AdminClient::ask(const std::string& request) {
  send(request + "\n");
  auto line = read_line();
  if (!line) return std::nullopt;
  return nlohmann::json::parse(*line, nullptr, false);
}

}  // namespace inboxd::testing
