// The real inboxctl binary against the real admin server (with the in-test
// backend): what people see, what --json prints and the exit codes.

#include <signal.h>

#include <catch2/catch.hpp>

#include "daemon/admin/protocol.hpp"
#include "tests/unit/admin/admin_fixture.hpp"

using namespace inboxd::admin;
using namespace inboxd::admin::test;
using inboxd::queue::JobState;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("inboxctl status prints one table row per inbox and the degraded note", "[inboxctl]") {
  AdminFixture f;
  f.start();
  f.backend().add_job("a.pdf", JobState::kQueued);
  auto run = f.inboxctl({"status"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.out, "INBOX"));
  CHECK(contains(run.out, "QUEUED"));
  CHECK(contains(run.out, "scans  active"));
  CHECK(contains(run.out, "mail: watching degraded: scan took 12s"));
}

TEST_CASE("inboxctl --json prints the daemon's line as it came", "[inboxctl]") {
  AdminFixture f;
  f.start();
  auto run = f.inboxctl({"status", "--json"});
  CHECK(run.exit_code == 0);
  auto reply = nlohmann::json::parse(run.out);
  CHECK(reply["inboxes"][0]["name"] == "scans");
  CHECK(std::count(run.out.begin(), run.out.end(), '\n') == 1);
}

TEST_CASE("inboxctl jobs passes its filters and lists newest first", "[inboxctl]") {
  AdminFixture f;
  f.start();
  f.backend().add_job("old.pdf", JobState::kFailed);
  f.backend().add_job("new.pdf", JobState::kFailed);
  f.backend().add_job("done.pdf", JobState::kDone);
  auto run = f.inboxctl({"jobs", "--inbox", "scans", "--state", "failed", "--limit", "5"});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("new.pdf") < run.out.find("old.pdf"));
  CHECK_FALSE(contains(run.out, "done.pdf"));
  CHECK(f.backend().last_filter->limit == 5);
}

TEST_CASE("inboxctl show prints every attempt with its outcome and stderr tail", "[inboxctl]") {
  AdminFixture f;
  f.start();
  auto id = f.backend().add_job("report.pdf", JobState::kFailed);
  inboxd::queue::Attempt first;
  first.attempt = 1;
  first.finished_at = 1795000001000;
  first.exit_code = 3;
  first.duration_ms = 1200;
  first.stderr_tail = "cannot parse page 2\n";
  inboxd::queue::Attempt second = first;
  second.attempt = 2;
  second.exit_code.reset();
  second.signal = "SIGKILL";
  second.timed_out = true;
  second.stderr_tail = "escape \x1b[31m in output\n";
  f.backend().add_attempt(id, first);
  f.backend().add_attempt(id, second);
  auto run = f.inboxctl({"show", std::to_string(id)});
  INFO(run.out << run.err);
  CHECK(run.exit_code == 0);
  CHECK(contains(run.out, "attempt 1: exit 3 after 1.2s"));
  CHECK(contains(run.out, "| cannot parse page 2"));
  CHECK(contains(run.out, "attempt 2: timed out, killed by SIGKILL"));
  CHECK(contains(run.out, "escape ?[31m in output"));
}

TEST_CASE("inboxctl exits 1 and says why when the daemon answers an error", "[inboxctl]") {
  AdminFixture f;
  f.start();
  auto run = f.inboxctl({"show", "99"});
  CHECK(run.exit_code == 1);
  CHECK(contains(run.err, "not_found: job 99 does not exist"));
}

TEST_CASE("inboxctl prints a refused reload's messages one per line", "[inboxctl]") {
  AdminFixture f;
  f.start();
  f.backend().reload_errors = {"inboxd.yaml:3:5: a", "inboxd.yaml:4:5: b"};
  auto run = f.inboxctl({"reload"});
  CHECK(run.exit_code == 1);
  CHECK(contains(run.err, "invalid_config:\n  inboxd.yaml:3:5: a\n  inboxd.yaml:4:5: b\n"));
}

TEST_CASE("inboxctl retry, cancel, pause and resume confirm what they did", "[inboxctl]") {
  AdminFixture f;
  f.start();
  f.backend().add_job("a.pdf", JobState::kFailed);
  f.backend().add_job("b.pdf", JobState::kFailed);
  f.backend().add_job("c.pdf", JobState::kQueued);
  CHECK(f.inboxctl({"retry", "1"}).out == "retried 1 job: 1\n");
  CHECK(f.inboxctl({"retry", "--failed", "--inbox", "scans"}).out == "retried 1 job: 2\n");
  CHECK(f.inboxctl({"retry", "--failed"}).out == "nothing to retry\n");
  CHECK(f.inboxctl({"cancel", "3"}).out == "canceled job 3\n");
  CHECK(f.inboxctl({"pause", "scans"}).out == "paused inbox scans\n");
  CHECK(f.backend().inbox_state("scans") == "paused");
  CHECK(f.inboxctl({"resume", "scans"}).out == "resumed inbox scans\n");
}

TEST_CASE("inboxctl metrics prints the exposition text", "[inboxctl]") {
  AdminFixture f;
  f.start();
  auto run = f.inboxctl({"metrics"});
  CHECK(run.exit_code == 0);
  CHECK(contains(run.out, "# TYPE inboxd_inbox_up gauge\ninboxd_inbox_up{inbox=\"scans\"} 1\n"));
}

TEST_CASE("inboxctl watch into a pipe prints one line per event until the daemon closes",
          "[inboxctl]") {
  AdminFixture f;
  f.start();
  bool published = false;
  auto run = f.inboxctl_while({"watch"}, [&](pid_t, const CtlRun&) {
    if (published || f.server().watchers() != 1) return;
    inboxd::queue::Job job;
    job.id = 5;
    job.inbox = "scans";
    job.name = "a.pdf";
    job.state = JobState::kDone;
    job.attempts = 1;
    f.server().publish(job_event(job));
    f.server().publish(inbox_event("scans", "paused"));
    f.pump();
    f.stop_server();  // the daemon goes away: the client can no longer reach it
    published = true;
  });
  INFO(run.out << run.err);
  CHECK(run.exit_code == 69);
  CHECK(contains(run.out, "job 5 scans done attempt=1 a.pdf\n"));
  CHECK(contains(run.out, "inbox scans paused\n"));
  CHECK(contains(run.err, "inboxd closed the connection"));
}

TEST_CASE("inboxctl watch --json prints the daemon's lines and ends cleanly on Ctrl-C",
          "[inboxctl]") {
  AdminFixture f;
  f.start();
  bool published = false;
  auto run = f.inboxctl_while({"--json", "watch"}, [&](pid_t pid, const CtlRun& so_far) {
    if (!published && f.server().watchers() == 1) {
      f.server().publish(inbox_event("scans", "tripped"));
      published = true;
    }
    if (published && contains(so_far.out, "tripped")) ::kill(pid, SIGINT);
  });
  CHECK(run.exit_code == 0);
  CHECK(run.out ==
        "{\"event\":\"watching\",\"ok\":true}\n"
        "{\"event\":\"inbox\",\"inbox\":\"scans\",\"state\":\"tripped\"}\n");
}
