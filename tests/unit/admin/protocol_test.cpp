// The JSON shapes of the admin protocol, built from typed values.

#include <catch2/catch.hpp>

#include "common/clock.hpp"
#include "daemon/admin/protocol.hpp"

using namespace inboxd::admin;
using inboxd::queue::JobState;
using nlohmann::json;

namespace {

constexpr inboxd::EpochMs kTime = 1795000000123;  // 2026-11-18T11:06:40.123Z

inboxd::queue::Job sample_job() {
  inboxd::queue::Job job;
  job.id = 42;
  job.inbox = "scans";
  job.name = "report.pdf";
  job.rel = "2026/report.pdf";
  job.state = JobState::kRetryWait;
  job.size = 5;
  job.attempts = 2;
  job.created_at = kTime;
  job.updated_at = kTime + 1000;
  job.next_attempt_at = kTime + 60000;
  job.path = "/srv/scans/.inboxd/42-report.pdf";
  job.last_error = "exit 3";
  return job;
}

}  // namespace

TEST_CASE("a job has exactly the fields PRODUCT.md lists, times in RFC 3339 UTC",
          "[admin][protocol]") {
  auto j = to_json(sample_job());
  CHECK(j == json{{"id", 42},
                  {"inbox", "scans"},
                  {"name", "report.pdf"},
                  {"rel", "2026/report.pdf"},
                  {"state", "retry_wait"},
                  {"size", 5},
                  {"attempts", 2},
                  {"created_at", "2026-11-18T11:06:40.123Z"},
                  {"updated_at", "2026-11-18T11:06:41.123Z"},
                  {"next_attempt_at", "2026-11-18T11:07:40.123Z"},
                  {"path", "/srv/scans/.inboxd/42-report.pdf"},
                  {"last_error", "exit 3"}});
}

TEST_CASE("a deleted job's path, an absent retry time and no error are null", "[admin][protocol]") {
  auto job = sample_job();
  job.state = JobState::kDone;
  job.path.reset();
  job.next_attempt_at.reset();
  job.last_error.clear();
  auto j = to_json(job);
  CHECK(j["path"].is_null());
  CHECK(j["next_attempt_at"].is_null());
  CHECK(j["last_error"].is_null());
}

TEST_CASE("an attempt ended by a signal has a null exit code and the signal's name",
          "[admin][protocol]") {
  inboxd::queue::Attempt attempt;
  attempt.attempt = 3;
  attempt.started_at = kTime;
  attempt.finished_at = kTime + 250;
  attempt.duration_ms = 250;
  attempt.signal = "SIGKILL";
  attempt.timed_out = true;
  attempt.stdout_tail = "out";
  attempt.stderr_tail = "err";
  CHECK(to_json(attempt) == json{{"attempt", 3},
                                 {"started_at", "2026-11-18T11:06:40.123Z"},
                                 {"finished_at", "2026-11-18T11:06:40.373Z"},
                                 {"duration_ms", 250},
                                 {"exit_code", nullptr},
                                 {"signal", "SIGKILL"},
                                 {"timed_out", true},
                                 {"stdout_tail", "out"},
                                 {"stderr_tail", "err"}});
}

TEST_CASE("an attempt that exited has its exit code and a null signal", "[admin][protocol]") {
  inboxd::queue::Attempt attempt;
  attempt.attempt = 1;
  attempt.exit_code = 0;
  auto j = to_json(attempt);
  CHECK(j["exit_code"] == 0);
  CHECK(j["signal"].is_null());
  CHECK(j["finished_at"].is_null());
}

TEST_CASE("an error reply names its code and message", "[admin][protocol]") {
  CHECK(error_reply(ErrorCode::kConflict, "job 3 is running") ==
        json{{"ok", false}, {"error", {{"code", "conflict"}, {"message", "job 3 is running"}}}});
  CHECK(to_string(ErrorCode::kInvalidConfig) == "invalid_config");
  CHECK(to_string(ErrorCode::kBadRequest) == "bad_request");
}

TEST_CASE("a wire line is compact JSON with invalid UTF-8 replaced, ending in a newline",
          "[admin][protocol]") {
  auto line = encode_line(json{{"name", "a\xff\xfe.txt"}, {"n", 1}});
  CHECK(line == "{\"n\":1,\"name\":\"a\xEF\xBF\xBD\xEF\xBF\xBD.txt\"}\n");
}

TEST_CASE("a job event carries id, inbox, name, state and attempt", "[admin][protocol]") {
  CHECK(job_event(sample_job()) == json{{"event", "job"},
                                        {"id", 42},
                                        {"inbox", "scans"},
                                        {"name", "report.pdf"},
                                        {"state", "retry_wait"},
                                        {"attempt", 2}});
}

TEST_CASE("times keep their milliseconds across a second's end and before the epoch",
          "[admin][protocol][clock]") {
  using inboxd::format_rfc3339;
  CHECK(format_rfc3339(kTime) == "2026-11-18T11:06:40.123Z");
  CHECK(format_rfc3339(kTime + 876) == "2026-11-18T11:06:40.999Z");
  CHECK(format_rfc3339(kTime + 877) == "2026-11-18T11:06:41.000Z");
  CHECK(format_rfc3339(kTime - 124) == "2026-11-18T11:06:39.999Z");
  CHECK(format_rfc3339(kTime + 5) == "2026-11-18T11:06:40.128Z");
  CHECK(format_rfc3339(0) == "1970-01-01T00:00:00.000Z");
  CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(format_rfc3339(-1000) == "1969-12-31T23:59:59.000Z");
  CHECK(format_rfc3339(kTime) == "2026-11-18T11:06:40.123Z");
}
