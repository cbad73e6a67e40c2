#include "daemon/admin/protocol.hpp"

#include "common/clock.hpp"

namespace inboxd::admin {
namespace {

nlohmann::json optional_time(const std::optional<EpochMs>& ms) {
  return ms ? nlohmann::json(format_rfc3339(*ms)) : nlohmann::json(nullptr);
}

template <class T>
nlohmann::json optional_value(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json counts_json(const queue::Counts& c) {
  return {{"queued", c.queued}, {"running", c.running}, {"retry_wait", c.retry_wait},
          {"done", c.done},     {"failed", c.failed},   {"canceled", c.canceled}};
}

}  // namespace

nlohmann::json to_json(const queue::Job& job) {
  return {{"id", job.id},
          {"inbox", job.inbox},
          {"name", job.name},
          {"rel", job.rel},
          {"state", queue::to_string(job.state)},
          {"size", job.size},
          {"attempts", job.attempts},
          {"created_at", format_rfc3339(job.created_at)},
          {"updated_at", format_rfc3339(job.updated_at)},
          {"next_attempt_at", optional_time(job.next_attempt_at)},
          {"path", optional_value(job.path)},
          {"last_error",
           job.last_error.empty() ? nlohmann::json(nullptr) : nlohmann::json(job.last_error)}};
}

nlohmann::json to_json(const queue::Attempt& attempt) {
  return {{"attempt", attempt.attempt},
          {"started_at", format_rfc3339(attempt.started_at)},
          {"finished_at", optional_time(attempt.finished_at)},
          {"duration_ms", attempt.duration_ms},
          {"exit_code", optional_value(attempt.exit_code)},
          {"signal", optional_value(attempt.signal)},
          {"timed_out", attempt.timed_out},
          {"stdout_tail", attempt.stdout_tail},
          {"stderr_tail", attempt.stderr_tail}};
}

nlohmann::json to_json(const InboxStatus& inbox) {
  return {{"name", inbox.name},
          {"path", inbox.path},
          {"state", inbox.state},
          {"watch", inbox.watch},
          {"watch_health", inbox.watch_health},
          {"watch_note",
           inbox.watch_note.empty() ? nlohmann::json(nullptr) : nlohmann::json(inbox.watch_note)},
          {"counts", counts_json(inbox.counts)},
          {"oldest_queued_age_s", optional_value(inbox.oldest_queued_age_s)},
          {"failure_rate", inbox.failure_rate},
          {"rate_per_min", inbox.rate_per_min},
          {"eta_s", optional_value(inbox.eta_s)}};
}

nlohmann::json error_reply(ErrorCode code, std::string_view message) {
  return {{"ok", false}, {"error", {{"code", to_string(code)}, {"message", message}}}};
}

nlohmann::json job_event(const queue::Job& job) {
  return job_event(job.id, job.inbox, job.name, job.state, job.attempts);
}

nlohmann::json job_event(std::int64_t id, std::string_view inbox, std::string_view name,
                         queue::JobState state, int attempt) {
  return {{"event", "job"},
          {"id", id},
          {"inbox", inbox},
          {"name", name},
          {"state", queue::to_string(state)},
          {"attempt", attempt}};
}

nlohmann::json inbox_event(std::string_view inbox, std::string_view state) {
  return {{"event", "inbox"}, {"inbox", inbox}, {"state", state}};
}

nlohmann::json watching_event() { return {{"event", "watching"}, {"ok", true}}; }

std::string encode_line(const nlohmann::json& message) {
  auto line = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  return line;
}

}  // namespace inboxd::admin
