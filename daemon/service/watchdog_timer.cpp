#include "daemon/service/watchdog_timer.hpp"

#include <exception>

#include "common/log.hpp"

namespace inboxd::service {

Result<void> WatchdogTimer::start() {
  if (started_) return {};
  auto interval = notifier_.watchdog_interval();
  if (!interval) return {};
  if (!timer_) return fail("start watchdog timer: already closed");
  int rc = uv_timer_init(loop_, timer_.get());
  if (rc != 0) return fail("uv_timer_init watchdog: " + uv_error_text(rc), rc);
  timer_->data = this;
  // No exception may cross into libuv: a failure to log is dropped.
  auto on_tick = [](uv_timer_t* timer) noexcept {
    try {
      static_cast<WatchdogTimer*>(timer->data)->notifier_.watchdog();
    } catch (const std::exception&) {
    }
  };
  auto period = static_cast<std::uint64_t>(interval->count());
  rc = uv_timer_start(timer_.get(), on_tick, period, period);
  if (rc != 0) return fail("uv_timer_start watchdog: " + uv_error_text(rc), rc);
  // The watchdog must never be the reason the loop keeps running.
  uv_unref(timer_.base());
  started_ = true;
  notifier_.watchdog();
  log::get("service")->debug("watchdog pings started interval={}", format_duration(*interval));
  return {};
}

}  // namespace inboxd::service
