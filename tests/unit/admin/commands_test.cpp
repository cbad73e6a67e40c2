// Every admin command through a real socket: routing to the Backend, the
// error replies, access control for changing commands and the audit log.

#include <unistd.h>

#include <fmt/format.h>
#include <catch2/catch.hpp>

#include "common/version.hpp"
#include "tests/unit/admin/admin_fixture.hpp"

using namespace inboxd::admin;
using namespace inboxd::admin::test;
using inboxd::queue::JobState;
using nlohmann::json;

namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;

Client start_and_connect(AdminFixture& f) {
  f.start();
  return f.connect();
}

// A fixture with a started server and one connected client.
struct Session {
  json ask(const json& request) { return client.request(request); }
  std::string error_code(const json& request) {
    auto reply = ask(request);
    return reply.contains("error") ? reply["error"]["code"].get<std::string>() : "none";
  }

  AdminFixture f;
  Client client = start_and_connect(f);
};

}  // namespace

TEST_CASE("status carries version, pid, uptime and one entry per inbox", "[admin]") {
  Session s;
  s.f.backend().add_job("a.pdf", JobState::kQueued);
  auto reply = s.ask({{"cmd", "status"}});
  CHECK(reply["version"] == std::string("inboxd ") + inboxd::kVersion);
  CHECK(reply["pid"] == ::getpid());
  CHECK(reply["uptime_s"].is_number_integer());
  REQUIRE(reply["inboxes"].size() == 2);
  auto scans = reply["inboxes"][0];
  CHECK(scans["name"] == "scans");
  CHECK(scans["counts"]["queued"] == 1);
  CHECK(scans["watch_note"].is_null());
  CHECK(scans["eta_s"].is_null());
  CHECK(reply["inboxes"][1]["watch_note"] == "scan took 12s");
}

TEST_CASE("jobs are listed newest first with the filter passed through", "[admin]") {
  Session s;
  s.f.backend().add_job("a.pdf", JobState::kDone);
  s.f.backend().add_job("b.pdf", JobState::kFailed);
  s.f.backend().add_job("c.pdf", JobState::kFailed, "mail");
  auto reply = s.ask({{"cmd", "jobs"}, {"inbox", "scans"}, {"state", "failed"}, {"before_id", 3}});
  REQUIRE(reply["jobs"].size() == 1);
  CHECK(reply["jobs"][0]["name"] == "b.pdf");
  auto all = s.ask({{"cmd", "jobs"}});
  CHECK(all["jobs"][0]["id"] == 3);
  CHECK(s.f.backend().last_filter->limit == 100);
}

TEST_CASE("a jobs limit above 1000 is clamped to 1000", "[admin]") {
  Session s;
  CHECK(s.ask({{"cmd", "jobs"}, {"limit", 5000}})["ok"] == true);
  CHECK(s.f.backend().last_filter->limit == 1000);
}

TEST_CASE("jobs refuses a zero limit, an unknown state and the internal claiming state",
          "[admin]") {
  Session s;
  CHECK(s.error_code({{"cmd", "jobs"}, {"limit", 0}}) == "bad_request");
  CHECK(s.error_code({{"cmd", "jobs"}, {"state", "sleeping"}}) == "bad_request");
  CHECK(s.error_code({{"cmd", "jobs"}, {"state", "claiming"}}) == "bad_request");
  CHECK(s.error_code({{"cmd", "jobs"}, {"limit", "ten"}}) == "bad_request");
}

TEST_CASE("job shows the job with its attempt history", "[admin]") {
  Session s;
  auto id = s.f.backend().add_job("a.pdf", JobState::kFailed);
  inboxd::queue::Attempt attempt;
  attempt.attempt = 1;
  attempt.signal = "SIGKILL";
  attempt.timed_out = true;
  s.f.backend().add_attempt(id, attempt);
  auto job = s.ask({{"cmd", "job"}, {"id", id}})["job"];
  CHECK(job["name"] == "a.pdf");
  REQUIRE(job["history"].size() == 1);
  CHECK(job["history"][0]["signal"] == "SIGKILL");
  CHECK(job["history"][0]["exit_code"].is_null());
}

TEST_CASE("job answers not_found for an unknown id and bad_request without one", "[admin]") {
  Session s;
  CHECK(s.error_code({{"cmd", "job"}, {"id", 99}}) == "not_found");
  CHECK(s.error_code({{"cmd", "job"}}) == "bad_request");
  CHECK(s.error_code({{"cmd", "job"}, {"id", "7"}}) == "bad_request");
  CHECK(s.error_code({{"cmd", "job"}, {"id", -1}}) == "bad_request");
}

TEST_CASE("retry of a failed job answers the retried id", "[admin]") {
  Session s;
  auto id = s.f.backend().add_job("a.pdf", JobState::kFailed);
  auto reply = s.ask({{"cmd", "retry"}, {"id", id}});
  CHECK(reply == json{{"ok", true}, {"retried", {id}}});
  CHECK(s.f.backend().job_state(id).state == JobState::kQueued);
}

TEST_CASE("retry of a job that has not failed answers conflict", "[admin]") {
  Session s;
  auto id = s.f.backend().add_job("a.pdf", JobState::kDone);
  CHECK(s.error_code({{"cmd", "retry"}, {"id", id}}) == "conflict");
}

TEST_CASE("retry of every failed job of an inbox answers their ids", "[admin]") {
  Session s;
  auto first = s.f.backend().add_job("a.pdf", JobState::kFailed);
  s.f.backend().add_job("b.pdf", JobState::kDone);
  auto third = s.f.backend().add_job("c.pdf", JobState::kFailed);
  s.f.backend().add_job("d.pdf", JobState::kFailed, "mail");
  auto reply = s.ask({{"cmd", "retry"}, {"inbox", "scans"}, {"state", "failed"}});
  CHECK(reply["retried"] == json{first, third});
}

TEST_CASE("retry needs either an id or a state, never both", "[admin]") {
  Session s;
  CHECK(s.error_code({{"cmd", "retry"}}) == "bad_request");
  CHECK(s.error_code({{"cmd", "retry"}, {"id", 1}, {"state", "failed"}}) == "bad_request");
  CHECK(s.error_code({{"cmd", "retry"}, {"state", "done"}}) == "bad_request");
  CHECK(s.error_code({{"cmd", "retry"}, {"state", "failed"}, {"inbox", "nope"}}) == "not_found");
}

TEST_CASE("cancel, pause and resume reach the backend", "[admin]") {
  Session s;
  auto id = s.f.backend().add_job("a.pdf", JobState::kQueued);
  CHECK(s.ask({{"cmd", "cancel"}, {"id", id}}) == json{{"ok", true}});
  CHECK(s.f.backend().job_state(id).state == JobState::kCanceled);
  CHECK(s.ask({{"cmd", "pause"}, {"inbox", "scans"}}) == json{{"ok", true}});
  CHECK(s.f.backend().inbox_state("scans") == "paused");
  CHECK(s.ask({{"cmd", "resume"}, {"inbox", "scans"}}) == json{{"ok", true}});
  CHECK(s.f.backend().inbox_state("scans") == "active");
}

TEST_CASE("pause of an unknown inbox answers not_found and without one bad_request", "[admin]") {
  Session s;
  CHECK(s.error_code({{"cmd", "pause"}, {"inbox", "nope"}}) == "not_found");
  CHECK(s.error_code({{"cmd", "pause"}}) == "bad_request");
  CHECK(s.error_code({{"cmd", "resume"}, {"inbox", ""}}) == "bad_request");
}

TEST_CASE("a refused reload answers invalid_config with the file:line:col messages", "[admin]") {
  Session s;
  CHECK(s.ask({{"cmd", "reload"}}) == json{{"ok", true}});
  s.f.backend().reload_errors = {"inboxd.yaml:3:5: inboxes[0].timeout: \"soon\" is not a duration",
                                 "inboxd.yaml:9:1: tyop: unknown key"};
  auto reply = s.ask({{"cmd", "reload"}});
  CHECK(reply["error"]["code"] == "invalid_config");
  CHECK(reply["error"]["message"].get<std::string>().find("inboxd.yaml:9:1: tyop") !=
        std::string::npos);
}

TEST_CASE("metrics answers the exposition text", "[admin]") {
  Session s;
  auto reply = s.ask({{"cmd", "metrics"}});
  CHECK(reply["text"].get<std::string>().find("inboxd_inbox_up{inbox=\"scans\"} 1\n") !=
        std::string::npos);
}

TEST_CASE(
    "invalid JSON, non-objects and unknown commands answer bad_request and the "
    "connection keeps serving",
    "[admin]") {
  Session s;
  for (const char* line : {"{not json", "[1,2]", "42", "{\"cmd\":7}", "{\"nocmd\":1}",
                           "{\"cmd\":\"explode\"}", "{\"cmd\":\"status\",\"extra\":1}"}) {
    s.client.send_raw(std::string(line) + "\n");
    auto reply = json::parse(s.client.read_line().value());
    INFO(line);
    CHECK(reply["ok"] == false);
    CHECK(reply["error"]["code"] == "bad_request");
    CHECK(reply["error"]["message"].is_string());
  }
  CHECK(s.ask({{"cmd", "status"}})["ok"] == true);
}

TEST_CASE("an unexpected backend exception answers internal and is logged", "[admin]") {
  Session s;
  s.f.backend().status_throws = true;
  CHECK(s.error_code({{"cmd", "status"}}) == "internal");
  CHECK(s.f.admin_log().find("status exploded") != std::string::npos);
  s.f.backend().status_throws = false;
  CHECK(s.ask({{"cmd", "status"}})["ok"] == true);
}

TEST_CASE("file names that are not valid UTF-8 come out with replacement characters", "[admin]") {
  Session s;
  auto id = s.f.backend().add_job("caf\xe9.pdf", JobState::kFailed);
  inboxd::queue::Attempt attempt;
  attempt.attempt = 1;
  attempt.exit_code = 2;
  attempt.stderr_tail = "bad byte \xff\n";
  s.f.backend().add_attempt(id, attempt);
  auto listed = s.ask({{"cmd", "jobs"}});
  CHECK(listed["jobs"][0]["name"] == "caf\xEF\xBF\xBD.pdf");
  auto shown = s.ask({{"cmd", "job"}, {"id", id}});
  CHECK(shown["job"]["history"][0]["stderr_tail"] == "bad byte \xEF\xBF\xBD\n");
}

TEST_CASE("changing commands are logged as audit lines with the peer's uid and pid", "[admin]") {
  Session s;
  s.ask({{"cmd", "pause"}, {"inbox", "scans"}});
  s.ask({{"cmd", "cancel"}, {"id", 42}});
  auto log = s.f.admin_log();
  CHECK(log.find(fmt::format("admin command=pause inbox=scans uid=0 pid={} result=ok",
                             ::getpid())) != std::string::npos);
  CHECK(log.find(fmt::format("admin command=cancel id=42 uid=0 pid={} result=not_found",
                             ::getpid())) != std::string::npos);
}

TEST_CASE("read-only commands leave no audit line", "[admin]") {
  Session s;
  s.ask({{"cmd", "status"}});
  s.ask({{"cmd", "jobs"}});
  CHECK(s.f.admin_log().find("admin command=") == std::string::npos);
}

TEST_CASE("a peer that is not an admin gets forbidden for changing commands", "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.mode = 0666;
  f.start(options);
  auto client = f.connect_as(kNobody, kNogroup);
  for (const char* cmd : {"pause", "resume"}) {
    auto reply = client.request({{"cmd", cmd}, {"inbox", "scans"}});
    CHECK(reply["error"]["code"] == "forbidden");
  }
  CHECK(client.request({{"cmd", "reload"}})["error"]["code"] == "forbidden");
  CHECK(client.request({{"cmd", "retry"}, {"id", 1}})["error"]["code"] == "forbidden");
  CHECK(client.request({{"cmd", "cancel"}, {"id", 1}})["error"]["code"] == "forbidden");
  CHECK(f.backend().inbox_state("scans") == "active");
  CHECK(f.admin_log().find(fmt::format("admin command=pause inbox=scans uid={} pid={} "
                                       "result=forbidden",
                                       kNobody, ::getpid())) != std::string::npos);
}

TEST_CASE("a peer that is not an admin may still run read-only commands", "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.mode = 0666;
  f.start(options);
  auto client = f.connect_as(kNobody, kNogroup);
  CHECK(client.request({{"cmd", "status"}})["ok"] == true);
  CHECK(client.request({{"cmd", "jobs"}})["ok"] == true);
}

TEST_CASE("a member of admin_groups may run changing commands", "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.mode = 0666;
  options.admin_groups = {"nogroup"};
  f.start(options);
  auto client = f.connect_as(kNobody, kNogroup);
  CHECK(client.request({{"cmd", "pause"}, {"inbox", "scans"}})["ok"] == true);
  CHECK(f.backend().inbox_state("scans") == "paused");
}

TEST_CASE("admin_groups applied on reload decide the next command", "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.mode = 0666;
  f.start(options);
  auto client = f.connect_as(kNobody, kNogroup);
  CHECK(client.request({{"cmd", "pause"}, {"inbox", "scans"}})["error"]["code"] == "forbidden");
  f.server().update_access({"nogroup"}, 0666);
  CHECK(client.request({{"cmd", "pause"}, {"inbox", "scans"}})["ok"] == true);
}

TEST_CASE("an admin group that does not exist is logged and admits nobody", "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.mode = 0666;
  options.admin_groups = {"no-such-group-inboxd"};
  f.start(options);
  CHECK(f.admin_log().find("admin group does not exist group=no-such-group-inboxd") !=
        std::string::npos);
  auto client = f.connect_as(kNobody, kNogroup);
  CHECK(client.request({{"cmd", "reload"}})["error"]["code"] == "forbidden");
}
