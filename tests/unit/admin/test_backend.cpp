#include "tests/unit/admin/test_backend.hpp"

#include <algorithm>
#include <stdexcept>

#include "daemon/admin/metrics_text.hpp"

namespace inboxd::admin::test {

namespace {

constexpr EpochMs kCreated = 1795000000000;  // a fixed wall time: 2026-11-18

}  // namespace

TestBackend::TestBackend() {
  InboxStatus scans;
  scans.name = "scans";
  scans.path = "/srv/scans";
  scans.state = "active";
  scans.watch = "inotify";
  InboxStatus mail = scans;
  mail.name = "mail";
  mail.path = "/srv/mail";
  mail.watch = "poll";
  mail.watch_health = "degraded";
  mail.watch_note = "scan took 12s";
  inboxes_ = {scans, mail};
}

std::int64_t TestBackend::add_job(const std::string& name, queue::JobState state,
                                  const std::string& inbox) {
  JobDetail detail;
  auto& job = detail.job;
  job.id = static_cast<std::int64_t>(jobs_.size()) + 1;
  job.inbox = inbox;
  job.name = name;
  job.rel = name;
  job.state = state;
  job.size = 1234;
  job.created_at = kCreated;
  job.updated_at = kCreated + 1000;
  job.path = "/srv/" + inbox + "/.inboxd/" + std::to_string(job.id) + "-" + name;
  jobs_.push_back(detail);
  return job.id;
}

void TestBackend::add_attempt(std::int64_t id, const queue::Attempt& attempt) {
  auto& detail = find(id);
  detail.history.push_back(attempt);
  detail.job.attempts = attempt.attempt;
}

const queue::Job& TestBackend::job_state(std::int64_t id) const {
  return jobs_.at(static_cast<std::size_t>(id - 1)).job;
}

const std::string& TestBackend::inbox_state(const std::string& name) const {
  return const_cast<TestBackend*>(this)->find_inbox(name).state;
}

JobDetail& TestBackend::find(std::int64_t id) {
  if (id < 1 || id > static_cast<std::int64_t>(jobs_.size())) {
    throw AdminError(ErrorCode::kNotFound, "job " + std::to_string(id) + " does not exist");
  }
  return jobs_[static_cast<std::size_t>(id - 1)];
}

InboxStatus& TestBackend::find_inbox(const std::string& name) {
  auto found = std::find_if(inboxes_.begin(), inboxes_.end(),
                            [&](const InboxStatus& i) { return i.name == name; });
  if (found == inboxes_.end()) {
    throw AdminError(ErrorCode::kNotFound, "no inbox named \"" + name + "\"");
  }
  return *found;
}

std::vector<InboxStatus> TestBackend::status() {
  if (status_throws) throw std::runtime_error("status exploded");
  auto result = inboxes_;
  for (auto& inbox : result) {
    for (const auto& [job, history] : jobs_) {
      if (job.inbox != inbox.name) continue;
      if (job.state == queue::JobState::kQueued) ++inbox.counts.queued;
      if (job.state == queue::JobState::kDone) ++inbox.counts.done;
      if (job.state == queue::JobState::kFailed) ++inbox.counts.failed;
    }
  }
  return result;
}

std::vector<queue::Job> TestBackend::jobs(const queue::QueueStore::JobFilter& filter) {
  last_filter = filter;
  std::vector<queue::Job> result;
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
    const auto& job = it->job;
    if (filter.inbox && job.inbox != *filter.inbox) continue;
    if (filter.state && job.state != *filter.state) continue;
    if (filter.before_id && job.id >= *filter.before_id) continue;
    if (static_cast<int>(result.size()) == filter.limit) break;
    result.push_back(job);
  }
  return result;
}

JobDetail TestBackend::job(std::int64_t id) { return find(id); }

std::string TestBackend::metrics() {
  MetricsText text;
  text.gauge("inboxd_inbox_up", "1 when the inbox folder is available.", {{"inbox", "scans"}}, 1);
  return text.text();
}

void TestBackend::retry(std::int64_t id) {
  auto& job = find(id).job;
  if (job.state != queue::JobState::kFailed && job.state != queue::JobState::kCanceled) {
    throw AdminError(ErrorCode::kConflict, "job " + std::to_string(id) + " is " +
                                               std::string(queue::to_string(job.state)));
  }
  job.state = queue::JobState::kQueued;
}

std::vector<std::int64_t> TestBackend::retry_all(queue::JobState state,
                                                 const std::optional<std::string>& inbox) {
  if (inbox) find_inbox(*inbox);
  std::vector<std::int64_t> ids;
  for (auto& [job, history] : jobs_) {
    if (job.state != state || (inbox && job.inbox != *inbox)) continue;
    job.state = queue::JobState::kQueued;
    ids.push_back(job.id);
  }
  return ids;
}

void TestBackend::cancel(std::int64_t id) {
  auto& job = find(id).job;
  if (queue::is_terminal(job.state)) {
    throw AdminError(ErrorCode::kConflict, "job " + std::to_string(id) + " has already ended");
  }
  job.state = queue::JobState::kCanceled;
}

void TestBackend::set_inbox_state(const std::string& name, const std::string& state) {
  find_inbox(name).state = state;
  if (on_inbox_state) on_inbox_state(name, state);
}

void TestBackend::pause(const std::string& inbox) { set_inbox_state(inbox, "paused"); }

void TestBackend::resume(const std::string& inbox) { set_inbox_state(inbox, "active"); }

void TestBackend::reload() {
  if (reload_errors.empty()) return;
  std::string message;
  for (const auto& line : reload_errors) message += (message.empty() ? "" : "\n") + line;
  throw AdminError(ErrorCode::kInvalidConfig, message);
}

}  // namespace inboxd::admin::test
