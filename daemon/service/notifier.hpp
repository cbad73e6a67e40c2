#pragma once
// service: what inboxd tells its service manager, using systemd's documented
// notification protocol (sd_notify(3)) without linking libsystemd: one
// datagram per notification, "KEY=VALUE" lines, sent to the AF_UNIX socket
// named by $NOTIFY_SOCKET ("/path", or "@name" for the abstract namespace).
//
// Without $NOTIFY_SOCKET (run by hand, by a test, by another supervisor) a
// Notifier is disabled and every call is a no-op, so the application calls it
// unconditionally.
//
// What the application sends, and when (PRODUCT.md "systemd"):
//   ready()      once the queue is open, recovery is done, the inboxes are set
//                up and the admin socket accepts connections; again after a
//                reload has finished (accepted or refused)
//   reloading()  when a reload starts (RELOADING=1 with MONOTONIC_USEC)
//   stopping()   when a graceful stop starts
//   status()     a one-line summary, whenever it may have changed (repeated
//                lines are not re-sent, so calling it often is cheap)
//   watchdog()   from the event loop, by WatchdogTimer
//
// Notification failures never stop the daemon: the caller could do nothing
// about them, so the Notifier logs them itself (warn once, then debug until a
// send works again) and the verbs return nothing. systemd notices what is
// missing on its own (a start timeout, a missed watchdog ping).
//
// The module also holds WatchdogTimer (watchdog_timer.hpp), which pings from
// the event loop, and format_status (status_line.hpp), the STATUS= line.
//
// Threading: loop thread only; a Notifier must not move while a WatchdogTimer
// refers to it.

#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace inboxd::service {

class Notifier {
 public:
  // A disabled notifier.
  Notifier() = default;

  // Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID. The watchdog is
  // enabled only when WATCHDOG_USEC is a positive number and WATCHDOG_PID is
  // unset or equals getpid() (a forked child must not ping for its parent).
  // An unusable NOTIFY_SOCKET is logged and gives a disabled notifier.
  static Notifier from_environment();

  // A notifier for `socket_address` ("/path" or "@abstract") whose watchdog
  // timeout is `watchdog_timeout` (none: no watchdog).
  static Result<Notifier> to_socket(std::string_view socket_address,
                                    std::optional<std::chrono::microseconds> watchdog_timeout);

  bool enabled() const { return fd_.valid(); }

  // READY=1: start-up, or a reload, has finished.
  void ready();
  // RELOADING=1 with MONOTONIC_USEC=<CLOCK_MONOTONIC now>; ready() must follow
  // when the reload has finished, whatever its outcome.
  void reloading();
  // STOPPING=1: a graceful stop has begun.
  void stopping();
  // Sends STATUS=<line> unless it equals the last line sent. Control
  // characters (a newline would end the field) are replaced by spaces.
  void status(std::string_view line);
  // WATCHDOG=1, only when a watchdog is expected; WatchdogTimer calls it.
  void watchdog();

  // Half of the service manager's watchdog timeout, at least 1 ms: how often
  // watchdog() must be called. Empty when no watchdog is expected.
  std::optional<Millis> watchdog_interval() const;

  // Sends one notification datagram, e.g. "READY=1\nSTATUS=idle". No-op when
  // disabled. Errors name the operation and the socket.
  Result<void> notify(std::string_view message);

 private:
  // Sends and logs a failure; true when the datagram went out.
  bool send_logged(std::string_view message);

  UniqueFd fd_;
  sockaddr_un address_{};
  socklen_t address_size_ = 0;
  std::string address_text_;
  std::optional<std::chrono::microseconds> watchdog_timeout_;
  std::optional<std::string> last_status_;
  bool failing_ = false;
  std::shared_ptr<spdlog::logger> log_ = log::get("service");
};

}  // namespace inboxd::service
