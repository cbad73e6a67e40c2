#pragma once
// Test helpers for the service module, all real: NotifyListener is the
// service manager's end of the notification protocol (a datagram socket that
// records each message and the pid the kernel says sent it, as systemd does
// for NotifyAccess=main); ScopedEnv sets environment variables and restores
// them; ServiceTempDir is a folder under /tmp removed at the end.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"

namespace inboxd::service::testing {

using namespace std::chrono_literals;

class ServiceTempDir {
 public:
  ServiceTempDir();
  ~ServiceTempDir();
  ServiceTempDir(const ServiceTempDir&) = delete;
  ServiceTempDir& operator=(const ServiceTempDir&) = delete;

  std::filesystem::path path(const std::string& rel) const { return root_ / rel; }
  const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

struct Notification {
  std::string text;
  pid_t sender = 0;

  // The value of KEY=VALUE in this message, if the key is there.
  std::optional<std::string> field(const std::string& key) const;
};

class NotifyListener {
 public:
  // Binds a datagram socket at `address`: a path, or "@name" for the abstract
  // namespace.
  explicit NotifyListener(std::string address);

  const std::string& address() const { return address_; }
  // The socket, non-blocking, for a test that watches it from a uv loop.
  int fd() const { return fd_.get(); }

  // The next message, waiting at most `timeout`.
  std::optional<Notification> next(std::chrono::milliseconds timeout = 5s);
  // Skips messages until one contains `line` as a whole line.
  std::optional<Notification> next_with(const std::string& line,
                                        std::chrono::milliseconds timeout = 5s);
  // Every message already queued, without waiting.
  std::vector<Notification> drain();
  // Every message received so far, in order.
  const std::vector<Notification>& history() const { return history_; }

 private:
  std::string address_;
  std::vector<Notification> history_;
  UniqueFd fd_;
};

class ScopedEnv {
 public:
  ScopedEnv() = default;
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

  void set(const std::string& key, const std::string& value);
  void unset(const std::string& key);

 private:
  void remember(const std::string& key);
  std::map<std::string, std::optional<std::string>> saved_;
};

// Polls `condition` every 10 ms until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s);

std::string read_file(const std::filesystem::path& file);

}  // namespace inboxd::service::testing
