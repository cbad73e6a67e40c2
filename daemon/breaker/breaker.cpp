#include "daemon/breaker/breaker.hpp"

namespace inboxd::breaker {

bool Breaker::record(bool success, MonoTime now) {
  if (!threshold_.enabled || state_ != State::kClosed) return false;
  window_.push_back(!success);
  if (!success) ++failures_;
  while (window_.size() > static_cast<std::size_t>(threshold_.window)) {
    if (window_.front()) --failures_;
    window_.pop_front();
  }
  if (window_.size() < static_cast<std::size_t>(threshold_.min_samples)) return false;
  if (failure_rate() < threshold_.max_failure_rate) return false;
  trip(now);
  return true;
}

bool Breaker::may_start(MonoTime now) const { return state_ == State::kClosed || probe_due(now); }

bool Breaker::probe_due(MonoTime now) const { return state_ == State::kOpen && now >= open_until_; }

void Breaker::start_probe() { state_ = State::kProbing; }

bool Breaker::probe_finished(bool success, MonoTime now) {
  if (state_ != State::kProbing) return false;
  if (success) {
    reset();
    return true;
  }
  trip(now);
  return false;
}

void Breaker::probe_abandoned() {
  if (state_ == State::kProbing) state_ = State::kOpen;
}

void Breaker::reset() {
  state_ = State::kClosed;
  window_.clear();
  failures_ = 0;
}

void Breaker::set_threshold(config::ErrorThreshold threshold) {
  threshold_ = threshold;
  if (!threshold_.enabled) reset();
  while (window_.size() > static_cast<std::size_t>(threshold_.window)) {
    if (window_.front()) --failures_;
    window_.pop_front();
  }
}

std::optional<MonoTime> Breaker::cooldown_ends() const {
  if (state_ != State::kOpen) return std::nullopt;
  return open_until_;
}

double Breaker::failure_rate() const {
  if (window_.empty()) return 0.0;
  return static_cast<double>(failures_) / static_cast<double>(window_.size());
}

void Breaker::trip(MonoTime now) {
  state_ = State::kOpen;
  open_until_ = now + threshold_.cooldown;
}

}  // namespace inboxd::breaker
