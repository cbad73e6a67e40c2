#pragma once
// breaker: the per-inbox error-rate threshold (PRODUCT.md "Error-rate
// threshold"). Over the last `window` finished attempts, once at least
// `min_samples` are present and the failure fraction reaches
// `max_failure_rate`, the breaker opens: the inbox starts no new handlers
// (running ones finish; files are still claimed). After `cooldown` exactly one
// probe may start: its success closes the breaker, its failure opens it again
// for another cooldown. reset() (`inboxctl resume`) closes it at once. The
// window is cleared whenever the breaker closes.
//
// Attempts cut short by a graceful stop are not results and must not be
// recorded. Results of attempts that were already running when the breaker
// opened are ignored until it closes again: they say nothing new about the
// handler that the trip did not already say.
//
// Pure logic on the monotonic clock: no I/O, no libuv. Not thread-safe.

#include <deque>
#include <optional>

#include "common/clock.hpp"
#include "daemon/config/config.hpp"

namespace inboxd::breaker {

class Breaker {
 public:
  enum class State { kClosed, kOpen, kProbing };

  explicit Breaker(config::ErrorThreshold threshold) : threshold_(threshold) {}

  // A finished attempt that was not the probe. Returns true when this result
  // tripped the breaker.
  bool record(bool success, MonoTime now);

  // May a handler start now? Closed: yes. Open: only once the cooldown is
  // over and no probe is running, and then the caller must call start_probe().
  bool may_start(MonoTime now) const;
  bool probe_due(MonoTime now) const;
  void start_probe();
  // The probe's result. Returns true when it closed the breaker.
  bool probe_finished(bool success, MonoTime now);
  // A probe that ended without a result (shutdown, cancel): another may run.
  void probe_abandoned();

  void reset();
  void set_threshold(config::ErrorThreshold threshold);

  State state() const { return state_; }
  bool open() const { return state_ != State::kClosed; }
  // When the cooldown ends (open and not probing only).
  std::optional<MonoTime> cooldown_ends() const;
  // Failure fraction over the current window, 0 when empty.
  double failure_rate() const;
  std::size_t samples() const { return window_.size(); }

 private:
  void trip(MonoTime now);

  config::ErrorThreshold threshold_;
  State state_ = State::kClosed;
  std::deque<bool> window_;  // true = failure; newest at the back
  std::size_t failures_ = 0;
  MonoTime open_until_{};
};

}  // namespace inboxd::breaker
