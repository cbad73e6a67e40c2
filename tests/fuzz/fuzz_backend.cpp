#include "tests/fuzz/fuzz_backend.hpp"

#include <algorithm>

#include "tests/fuzz/fuzz_check.hpp"

namespace inboxd::fuzz {
namespace {

using admin::AdminError;
using admin::ErrorCode;
using queue::JobState;

constexpr EpochMs kCreated = 1795000000000;  // a fixed wall time: 2026-11-18

admin::JobDetail make_job(std::int64_t id, const std::string& inbox, const std::string& name,
                          JobState state) {
  admin::JobDetail detail;
  queue::Job& job = detail.job;
  job.id = id;
  job.inbox = inbox;
  job.name = name;
  job.rel = "sub/" + name;
  job.state = state;
  job.size = 1234 * id;
  job.created_at = kCreated + id;
  job.updated_at = kCreated + 1000 * id;
  if (state == JobState::kRetryWait) job.next_attempt_at = kCreated + 60000;
  if (state != JobState::kDone) job.path = "/srv/" + inbox + "/.inboxd/" + std::to_string(id);
  if (state == JobState::kFailed) job.last_error = "exit 1: \xff\xfe not UTF-8";
  if (state != JobState::kQueued) {
    queue::Attempt attempt;
    attempt.job_id = id;
    attempt.attempt = 1;
    attempt.started_at = kCreated + 2000;
    if (state != JobState::kRunning) attempt.finished_at = kCreated + 3000;
    attempt.duration_ms = 1000;
    attempt.exit_code = state == JobState::kDone ? 0 : 1;
    attempt.stdout_tail = "ok\n";
    attempt.stderr_tail = "half a character: \xe2\x82";
    detail.history.push_back(attempt);
    job.attempts = 1;
  }
  return detail;
}

}  // namespace

FuzzBackend::FuzzBackend() {
  admin::InboxStatus scans;
  scans.name = "scans";
  scans.path = "/srv/scans";
  scans.state = "active";
  scans.watch = "inotify";
  scans.counts.queued = 1;
  scans.oldest_queued_age_s = 12;
  scans.rate_per_min = 2.5;
  scans.eta_s = 30;
  admin::InboxStatus mail = scans;
  mail.name = "mail";
  mail.path = "/srv/mail";
  mail.watch = "poll";
  mail.watch_health = "degraded";
  mail.watch_note = "scan took 12s";
  mail.oldest_queued_age_s.reset();
  mail.eta_s.reset();
  inboxes_ = {scans, mail};
  for (JobState state : {JobState::kQueued, JobState::kRunning, JobState::kRetryWait,
                         JobState::kDone, JobState::kFailed, JobState::kCanceled}) {
    const auto id = static_cast<std::int64_t>(jobs_.size()) + 1;
    jobs_.push_back(make_job(id, "scans", "scan " + std::to_string(id) + ".pdf", state));
    jobs_.push_back(
        make_job(id + 1, "mail", "m\xc3\xa9l\xff" + std::to_string(id + 1) + ".eml", state));
  }
}

admin::JobDetail& FuzzBackend::find(std::int64_t id) {
  require(id > 0, "the dispatcher passes positive job ids");
  auto found = std::find_if(jobs_.begin(), jobs_.end(),
                            [id](const admin::JobDetail& d) { return d.job.id == id; });
  if (found == jobs_.end()) {
    throw AdminError(ErrorCode::kNotFound, "job " + std::to_string(id) + " does not exist");
  }
  return *found;
}

admin::InboxStatus& FuzzBackend::find_inbox(const std::string& name) {
  auto found = std::find_if(inboxes_.begin(), inboxes_.end(),
                            [&name](const admin::InboxStatus& i) { return i.name == name; });
  if (found == inboxes_.end()) {
    throw AdminError(ErrorCode::kNotFound, "no inbox named \"" + name + "\"");
  }
  return *found;
}

std::vector<admin::InboxStatus> FuzzBackend::status() { return inboxes_; }

std::vector<queue::Job> FuzzBackend::jobs(const queue::QueueStore::JobFilter& filter) {
  require(filter.limit >= 1 && filter.limit <= 1000, "the dispatcher bounds jobs limit to 1..1000");
  require(filter.state != JobState::kClaiming, "the dispatcher never asks for claiming jobs");
  require(!filter.before_id || *filter.before_id > 0, "before_id is positive");
  if (filter.inbox) find_inbox(*filter.inbox);
  std::vector<queue::Job> out;
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
    const queue::Job& job = it->job;
    if (filter.inbox && job.inbox != *filter.inbox) continue;
    if (filter.state && job.state != *filter.state) continue;
    if (filter.before_id && job.id >= *filter.before_id) continue;
    if (static_cast<int>(out.size()) >= filter.limit) break;
    out.push_back(job);
  }
  return out;
}

admin::JobDetail FuzzBackend::job(std::int64_t id) { return find(id); }

std::string FuzzBackend::metrics() {
  return "# TYPE inboxd_jobs_total counter\ninboxd_jobs_total{inbox=\"scans\"} 12\n";
}

void FuzzBackend::retry(std::int64_t id) {
  queue::Job& job = find(id).job;
  if (job.state != JobState::kFailed && job.state != JobState::kCanceled) {
    throw AdminError(ErrorCode::kConflict, "job " + std::to_string(id) + " is " +
                                               std::string(queue::to_string(job.state)));
  }
  job.state = JobState::kQueued;
}

std::vector<std::int64_t> FuzzBackend::retry_all(JobState state,
                                                 const std::optional<std::string>& inbox) {
  require(state == JobState::kFailed || state == JobState::kCanceled,
          "retry_all is asked only for failed or canceled jobs");
  if (inbox) find_inbox(*inbox);
  std::vector<std::int64_t> ids;
  for (admin::JobDetail& detail : jobs_) {
    if (detail.job.state != state || (inbox && detail.job.inbox != *inbox)) continue;
    detail.job.state = JobState::kQueued;
    ids.push_back(detail.job.id);
  }
  return ids;
}

void FuzzBackend::cancel(std::int64_t id) {
  queue::Job& job = find(id).job;
  if (queue::is_terminal(job.state)) {
    throw AdminError(ErrorCode::kConflict, "job " + std::to_string(id) + " has already ended");
  }
  job.state = JobState::kCanceled;
}

void FuzzBackend::pause(const std::string& inbox) { find_inbox(inbox).state = "paused"; }

void FuzzBackend::resume(const std::string& inbox) { find_inbox(inbox).state = "active"; }

void FuzzBackend::reload() {
  // Refuses while an inbox is paused, so an input of several lines reaches
  // the invalid_config reply as well as the ok one.
  const bool paused = std::any_of(inboxes_.begin(), inboxes_.end(),
                                  [](const admin::InboxStatus& i) { return i.state == "paused"; });
  if (!paused) return;
  throw AdminError(ErrorCode::kInvalidConfig,
                   "/etc/inboxd/inboxd.yaml:3:5: inboxes[0].timeout: \"5 minutes\" is not a "
                   "duration (try 5m)\n/etc/inboxd/inboxd.yaml:9:1: inboxes[1]: unknown key");
}

}  // namespace inboxd::fuzz
