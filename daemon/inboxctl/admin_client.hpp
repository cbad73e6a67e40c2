#pragma once
// AdminClient: one connection to inboxd's admin socket. Sends request lines
// and reads reply or event lines. Connection failures come back with the
// reason a person can act on: the socket does not exist, the connection was
// refused (nobody listens: inboxd is not running), or permission denied.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace inboxd::inboxctl {

class AdminClient {
 public:
  static Result<AdminClient> connect(const std::string& socket_path);

  Result<void> send(const nlohmann::json& request);
  // The next line without its newline. Fails when the daemon closes the
  // connection or nothing complete arrives within `limit`.
  Result<std::string> read_line(Millis limit);
  // send() then read_line().
  Result<std::string> exchange(const nlohmann::json& request, Millis limit);

  // For poll() loops: reads what is available now (never blocks); false at
  // the end of the stream.
  bool read_available();
  // A complete line already read, if any.
  std::optional<std::string> take_line();
  bool has_line() const { return buffer_.find('\n') != std::string::npos; }

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  AdminClient(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  UniqueFd fd_;
  std::string path_;
  std::string buffer_;
  bool eof_ = false;
};

// "the socket does not exist (is inboxd running?)" and friends, for errno
// values of connect(); empty for errors without a better explanation.
std::string explain_connect_error(int err);

}  // namespace inboxd::inboxctl
