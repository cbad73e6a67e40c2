#pragma once
// WatchdogTimer pings the service manager's watchdog from the event loop every
// Notifier::watchdog_interval() (half of $WATCHDOG_USEC). Because the ping is
// a timer callback on the loop, a loop stuck in some callback stops the pings
// and systemd restarts the daemon (WatchdogSec= in inboxd.service).
//
// start() is a no-op when the notifier expects no watchdog. The timer does not
// keep the loop alive (it is unref'd), but it is a handle: close() it, or
// destroy this object, before the final uv_run that precedes uv_loop_close.
//
// Ownership: `notifier` must outlive this object. Not movable, because the
// timer's callback refers to it. Loop thread only.

#include <uv.h>

#include "common/result.hpp"
#include "common/uv_handle.hpp"
#include "daemon/service/notifier.hpp"

namespace inboxd::service {

class WatchdogTimer {
 public:
  WatchdogTimer(uv_loop_t* loop, Notifier& notifier) : loop_(loop), notifier_(notifier) {}
  WatchdogTimer(const WatchdogTimer&) = delete;
  WatchdogTimer& operator=(const WatchdogTimer&) = delete;

  // Sends one ping now, then one every interval. Calling it again is a no-op.
  Result<void> start();
  void close() { timer_.close(); }
  // True while pings are scheduled.
  bool active() const { return started_ && static_cast<bool>(timer_); }

 private:
  uv_loop_t* loop_;
  Notifier& notifier_;
  UvHandle<uv_timer_t> timer_;
  bool started_ = false;
};

}  // namespace inboxd::service
