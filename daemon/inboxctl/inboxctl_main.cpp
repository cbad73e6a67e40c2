// inboxctl: the admin client. Sends one JSON request line to the daemon's
// Unix socket and prints the answer. Exit codes (PRODUCT.md): 0 ok, 1 the
// daemon answered with an error, 2 usage error, 69 the daemon cannot be
// reached (the message says why).

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/sys_error.hpp"
#include "common/unique_fd.hpp"
#include "common/version.hpp"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitDaemonError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnavailable = 69;

std::string default_socket() {
  const char* env = std::getenv("INBOXD_SOCKET");
  return env != nullptr && *env != '\0' ? env : "/run/inboxd/inboxd.sock";
}

// Connects, sends one request line and reads one response line. Returns the
// exit code to use when the daemon cannot be reached, 0 otherwise.
int exchange(const std::string& socket_path, const nlohmann::json& request, std::string* reply) {
  inboxd::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    std::cerr << "inboxctl: socket path too long: " << socket_path << "\n";
    return kExitUnavailable;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    const char* why = err == ENOENT         ? "the socket does not exist (is inboxd running?)"
                      : err == ECONNREFUSED ? "connection refused (inboxd is not running)"
                      : err == EACCES       ? "permission denied (check the socket's group and mode)"
                                            : nullptr;
    std::cerr << "inboxctl: cannot reach inboxd at " << socket_path << ": "
              << (why != nullptr ? why : inboxd::errno_text(err)) << "\n";
    return kExitUnavailable;
  }
  std::string line = request.dump() + "\n";
  if (::send(fd.get(), line.data(), line.size(), MSG_NOSIGNAL) < 0) {
    std::cerr << "inboxctl: send to " << socket_path << ": " << inboxd::errno_text(errno) << "\n";
    return kExitUnavailable;
  }
  char buf[65536];
  while (reply->find('\n') == std::string::npos) {
    auto n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    reply->append(buf, static_cast<std::size_t>(n));
  }
  if (reply->empty()) {
    std::cerr << "inboxctl: inboxd closed the connection without answering\n";
    return kExitUnavailable;
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"inboxctl: ask inboxd about its queue and change what it does"};
  std::string socket_path = default_socket();
  bool json = false;
  cli.add_option("--socket", socket_path, "admin socket of inboxd")->capture_default_str();
  cli.add_flag("--json", json, "print the daemon's JSON answer");
  cli.set_version_flag("--version", std::string("inboxctl ") + inboxd::kVersion);
  cli.require_subcommand(1);
  auto* status = cli.add_subcommand("status", "inboxes, their state and queue counts");
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = cli.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  nlohmann::json request;
  if (status->parsed()) request = {{"cmd", "status"}};
  std::string reply;
  if (int code = exchange(socket_path, request, &reply); code != 0) return code;
  auto answer = nlohmann::json::parse(reply.substr(0, reply.find('\n')), nullptr, false);
  if (answer.is_discarded()) {
    std::cerr << "inboxctl: the daemon's answer is not JSON\n";
    return kExitDaemonError;
  }
  std::cout << answer.dump(json ? -1 : 2) << "\n";
  return answer.value("ok", false) ? kExitOk : kExitDaemonError;
}
