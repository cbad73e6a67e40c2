#include "daemon/inboxctl/admin_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/sys_error.hpp"

namespace inboxd::inboxctl {

std::string explain_connect_error(int err) {
  switch (err) {
    case ENOENT: return "the socket does not exist (is inboxd running? is --socket right?)";
    case ECONNREFUSED: return "connection refused (nobody listens there: inboxd is not running)";
    case EACCES:
    case EPERM: return "permission denied (you need access to the socket: its group and mode)";
    case ENOTDIR: return "a component of the socket path is not a directory";
    default: return {};
  }
}

Result<AdminClient> AdminClient::connect(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path) {
    return fail(fmt::format("socket path is empty or too long ({} bytes, at most {})",
                            socket_path.size(), sizeof addr.sun_path - 1));
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fail_errno("socket", "");
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    auto why = explain_connect_error(err);
    return fail(why.empty() ? errno_text(err) : why, err);
  }
  return AdminClient(std::move(fd), socket_path);
}

Result<void> AdminClient::send(const nlohmann::json& request) {
  auto line = request.dump() + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    auto n = ::send(fd_.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("send to", path_);
    sent += static_cast<std::size_t>(n);
  }
  return {};
}

bool AdminClient::read_available() {
  char chunk[65536];
  while (!eof_) {
    auto n = ::recv(fd_.get(), chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      buffer_.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) break;
    eof_ = true;  // 0, or ECONNRESET and the like: nothing more will come
  }
  return !eof_;
}

std::optional<std::string> AdminClient::take_line() {
  auto newline = buffer_.find('\n');
  if (newline == std::string::npos) return std::nullopt;
  auto line = buffer_.substr(0, newline);
  buffer_.erase(0, newline + 1);
  return line;
}

Result<std::string> AdminClient::read_line(Millis limit) {
  auto deadline = mono_now() + limit;
  while (true) {
    if (auto line = take_line()) return *line;
    if (eof_) return fail("inboxd closed the connection without answering");
    auto left = std::chrono::duration_cast<Millis>(deadline - mono_now()).count();
    if (left <= 0) {
      return fail(fmt::format("inboxd did not answer within {}", format_duration(limit)),
                  ETIMEDOUT);
    }
    pollfd p{fd_.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc < 0 && errno != EINTR) return fail_errno("poll", path_);
    if (rc > 0) read_available();
  }
}

Result<std::string> AdminClient::exchange(const nlohmann::json& request, Millis limit) {
  if (auto sent = send(request); !sent) return fail(sent.error());
  return read_line(limit);
}

}  // namespace inboxd::inboxctl
