#pragma once
// InboxdProcess: the real inboxd binary in a temporary directory, with one
// inbox running /bin/true, started with a chosen service-manager environment
// (NOTIFY_SOCKET, WATCHDOG_USEC, JOURNAL_STREAM...). Its stdout and stderr go
// to log_file(). The process is killed by pid when the object ends, and the
// directory is removed.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <string>

#include "tests/unit/service/notify_fixture.hpp"

namespace inboxd::service::testing {

class InboxdProcess {
 public:
  InboxdProcess();
  ~InboxdProcess();
  InboxdProcess(const InboxdProcess&) = delete;
  InboxdProcess& operator=(const InboxdProcess&) = delete;

  // Starts inboxd with the test's environment less any service-manager
  // variables, plus `env`. Does not wait for anything.
  void start(const std::map<std::string, std::string>& env);
  // Waits until the log says "inboxd ready" (false if it exits first).
  bool wait_ready(std::chrono::milliseconds timeout = 20s);
  void signal(int signum) const;
  // SIGTERM and the exit status (128+signal if killed, -1 on timeout).
  int stop(std::chrono::milliseconds timeout = 20s);
  // True if a client can connect to the admin socket right now.
  bool admin_socket_accepts() const;
  // Makes the configuration invalid, so the next reload is refused.
  void break_config() const;

  pid_t pid() const { return pid_; }
  std::filesystem::path path(const std::string& rel) const { return dir_.path(rel); }
  std::filesystem::path log_file() const { return dir_.path("inboxd.log"); }
  std::string log() const { return read_file(log_file()); }

 private:
  ServiceTempDir dir_;
  pid_t pid_ = -1;
};

}  // namespace inboxd::service::testing
