// The admin socket's commands, answered by the Application (admin::Backend).
// Refusals are typed admin::AdminError values; the admin module's dispatcher
// turns them into {"ok":false,...} replies and logs the audit line.

#include <fmt/format.h>

#include <algorithm>

#include "common/log.hpp"
#include "daemon/admin/admin_error.hpp"
#include "daemon/app/application.hpp"
#include "daemon/service/status_line.hpp"

namespace inboxd::app {
namespace {

using admin::AdminError;
using admin::ErrorCode;

template <class T>
T checked(Result<T> result) {
  if (!result) throw AdminError(ErrorCode::kInternal, result.error().message);
  return std::move(*result);
}

}  // namespace

Inbox& Application::inbox_named(const std::string& name) {
  for (const auto& inbox : inboxes_) {
    if (inbox->config().name == name) return *inbox;
  }
  throw AdminError(ErrorCode::kNotFound, "no inbox named " + log::quote(name));
}

Inbox* Application::inbox_of(const queue::Job& job) {
  for (auto& inbox : inboxes_) {
    if (inbox->config().name == job.inbox) return inbox.get();
  }
  for (auto& inbox : retiring_) {
    if (inbox->config().name == job.inbox) return inbox.get();
  }
  return nullptr;
}

queue::Job Application::existing_job(std::int64_t id) {
  auto job = checked(store_->job(id));
  if (!job) throw AdminError(ErrorCode::kNotFound, fmt::format("no job {}", id));
  return *job;
}

std::vector<admin::InboxStatus> Application::status() {
  std::vector<admin::InboxStatus> result;
  auto now = wall_now_ms();
  for (auto& inbox : inboxes_) {
    const auto& c = inbox->config();
    admin::InboxStatus s;
    s.name = c.name;
    s.path = c.path.string();
    s.state = std::string(to_string(inbox->state()));
    s.watch = std::string(inbox->watch_mode());
    s.watch_health = std::string(inbox->watch_health());
    s.watch_note = inbox->watch_note();
    s.counts = checked(store_->counts(c.name));
    if (auto oldest = checked(store_->oldest_queued_at(c.name))) {
      s.oldest_queued_age_s = std::max<std::int64_t>(0, (now - *oldest) / 1000);
    }
    s.failure_rate = inbox->breaker().failure_rate();
    s.rate_per_min = inbox->rate_per_min();
    auto pending = s.counts.queued + s.counts.retry_wait + s.counts.running;
    if (s.rate_per_min > 0.0) {
      s.eta_s = static_cast<std::int64_t>(static_cast<double>(pending) * 60.0 / s.rate_per_min);
    }
    result.push_back(std::move(s));
  }
  return result;
}

std::vector<queue::Job> Application::jobs(const queue::QueueStore::JobFilter& filter) {
  return checked(store_->jobs(filter));
}

admin::JobDetail Application::job(std::int64_t id) {
  auto found = existing_job(id);
  return {found, checked(store_->attempts(id))};
}

void Application::retry(std::int64_t id) {
  auto found = existing_job(id);
  if (found.state != queue::JobState::kFailed && found.state != queue::JobState::kCanceled) {
    throw AdminError(ErrorCode::kConflict,
                     fmt::format("job {} is {}: only failed or canceled jobs can be retried", id,
                                 queue::to_string(found.state)));
  }
  auto* inbox = inbox_of(found);
  if (inbox == nullptr) {
    throw AdminError(
        ErrorCode::kConflict,
        fmt::format("job {} belongs to inbox {} which is not configured", id, found.inbox));
  }
  if (auto ok = inbox->requeue(found); !ok)
    throw AdminError(ErrorCode::kConflict, ok.error().message);
}

std::vector<std::int64_t> Application::retry_all(queue::JobState state,
                                                 const std::optional<std::string>& inbox) {
  if (inbox) (void)inbox_named(*inbox);
  std::vector<std::int64_t> retried;
  std::optional<std::int64_t> before;
  for (;;) {
    queue::QueueStore::JobFilter filter;
    filter.inbox = inbox;
    filter.state = state;
    filter.limit = 1000;
    filter.before_id = before;
    auto batch = checked(store_->jobs(filter));
    if (batch.empty()) break;
    for (const auto& found : batch) {
      auto* owner = inbox_of(found);
      if (owner != nullptr && owner->requeue(found)) retried.push_back(found.id);
    }
    before = batch.back().id;
  }
  return retried;
}

void Application::cancel(std::int64_t id) {
  auto found = existing_job(id);
  auto* inbox = inbox_of(found);
  switch (found.state) {
    case queue::JobState::kRunning:
      if (inbox != nullptr && inbox->cancel_running(id)) return;
      break;
    case queue::JobState::kQueued:
    case queue::JobState::kRetryWait:
      if (inbox != nullptr) {
        inbox->cancel_waiting(found);
        return;
      }
      break;
    default: break;
  }
  throw AdminError(ErrorCode::kConflict,
                   fmt::format("job {} is {}: only queued, waiting or running jobs can be canceled",
                               id, queue::to_string(found.state)));
}

void Application::pause(const std::string& inbox) { inbox_named(inbox).pause(); }

void Application::resume(const std::string& inbox) { inbox_named(inbox).resume(); }

void Application::reload() {
  auto errors = reload_config();
  if (errors.empty()) return;
  std::string text;
  for (const auto& e : errors) text += (text.empty() ? "" : "\n") + e;
  throw AdminError(ErrorCode::kInvalidConfig, text);
}

std::string Application::metrics() {
  admin::MetricsText m;
  for (auto& inbox : inboxes_) {
    const auto& name = inbox->config().name;
    admin::MetricsText::Labels labels = {{"inbox", name}};
    auto& stats = inbox->metrics();
    auto counts = checked(store_->counts(name));
    auto outcome = [&](const char* o) {
      return admin::MetricsText::Labels{{"inbox", name}, {"outcome", o}};
    };
    m.counter("inboxd_jobs_total", "Jobs finished since start, by outcome.", outcome("done"),
              static_cast<double>(stats.done));
    m.counter("inboxd_jobs_total", "Jobs finished since start, by outcome.", outcome("failed"),
              static_cast<double>(stats.failed));
    m.counter("inboxd_jobs_total", "Jobs finished since start, by outcome.", outcome("canceled"),
              static_cast<double>(stats.canceled));
    m.counter("inboxd_files_claimed_total", "Files claimed into the queue since start.", labels,
              static_cast<double>(stats.claimed));
    m.counter("inboxd_attempts_total", "Handler attempts finished since start.", labels,
              static_cast<double>(stats.attempts));
    m.counter("inboxd_retries_total", "Failed attempts scheduled for a retry since start.", labels,
              static_cast<double>(stats.retried));
    m.counter("inboxd_timeouts_total", "Attempts stopped at their timeout since start.", labels,
              static_cast<double>(stats.timeouts));
    m.counter("inboxd_watch_rescans_total", "Full scans of the inbox since start.", labels,
              static_cast<double>(stats.rescans));
    m.counter("inboxd_watch_overflows_total", "inotify queue overflows since start.", labels,
              static_cast<double>(stats.overflows));
    const std::pair<const char*, std::int64_t> states[] = {
        {"queued", counts.queued}, {"running", counts.running}, {"retry_wait", counts.retry_wait},
        {"done", counts.done},     {"failed", counts.failed},   {"canceled", counts.canceled}};
    for (const auto& [state, n] : states) {
      m.gauge("inboxd_queue_jobs", "Jobs in the queue by state.",
              {{"inbox", name}, {"state", state}}, static_cast<double>(n));
    }
    m.gauge("inboxd_running_handlers", "Handlers running now.", labels,
            static_cast<double>(inbox->running()));
    double oldest = 0;
    if (auto at = checked(store_->oldest_queued_at(name))) {
      oldest = static_cast<double>(std::max<std::int64_t>(0, wall_now_ms() - *at)) / 1000.0;
    }
    m.gauge("inboxd_oldest_queued_age_seconds", "Age of the oldest queued job.", labels, oldest);
    m.gauge("inboxd_breaker_open", "1 when the error-rate breaker is open.", labels,
            inbox->breaker().open() ? 1 : 0);
    m.gauge("inboxd_inbox_up", "1 when the inbox folder is available.", labels,
            inbox->state() == InboxState::kUnavailable ? 0 : 1);
    m.histogram("inboxd_handler_duration_seconds", "Handler attempt durations.", labels,
                stats.durations);
    m.gauge("inboxd_watch_degraded", "1 when watching the inbox is degraded (see status).", labels,
            inbox->watch_health() == "ok" ? 0 : 1);
  }
  m.gauge("inboxd_state_writable", "0 while the state directory cannot be written.", {},
          state_disk_.failing() ? 0 : 1);
  return m.text();
}

void Application::update_status_line() {
  service::StatusCounts c;
  for (const auto& inbox : inboxes_) {
    ++c.inboxes;
    auto state = inbox->state();
    c.paused += state == InboxState::kPaused;
    c.tripped += state == InboxState::kTripped;
    c.unavailable += state == InboxState::kUnavailable;
    if (auto counts = store_->counts(inbox->config().name)) {
      c.queued += counts->queued;
      c.running += counts->running;
      c.retry_wait += counts->retry_wait;
      c.failed += counts->failed;
    }
  }
  notifier_.status(service::format_status(c));
}

}  // namespace inboxd::app
