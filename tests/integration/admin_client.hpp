#pragma once
// AdminClient: one connection to a test daemon's admin socket, speaking the
// newline-delimited JSON protocol directly (no inboxctl process in between,
// so a reply's timing is the daemon's). Reads and writes give up after
// `limit`, so a daemon that stopped answering fails a test instead of
// hanging it. No Catch2 macros: tests use it from other threads too.

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/unique_fd.hpp"
#include "tests/integration/daemon_fixture.hpp"

namespace inboxd::testing {

class AdminClient {
 public:
  explicit AdminClient(const DaemonFixture& d,
                       std::chrono::milliseconds limit = std::chrono::seconds(10));
  bool connected() const { return connected_; }

  // Writes every byte, or stops once the daemon closed its end (it stops
  // reading an oversized request).
  void send(std::string_view bytes);
  // The next line, without its newline; nullopt at the end of the stream or
  // past the limit.
  std::optional<std::string> read_line();
  // Sends `request` as one line and parses the reply line; nullopt without a
  // reply, a discarded json for a reply that is not JSON.
  std::optional<nlohmann::json> ask(const std::string& request);

 private:
  UniqueFd fd_;
  bool connected_ = false;
  std::string buffer_;
};

}  // namespace inboxd::testing
