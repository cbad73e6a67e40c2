// End-to-end tests of what inboxd promises when things go wrong: crashes,
// stops, reloads, a broken handler, limits, a missing folder, a second
// instance, a bad configuration.

#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "tests/integration/daemon_fixture.hpp"

using inboxd::testing::DaemonFixture;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string record_handler() { return DaemonFixture::fixture("record-handler"); }

bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

pid_t recorded_pid(const DaemonFixture& d, const std::string& job_attempt) {
  return std::stoi(DaemonFixture::read_file(d.records() / (job_attempt + ".pid")));
}

bool log_has(const DaemonFixture& d, const std::string& text) {
  return d.log().find(text) != std::string::npos;
}

}  // namespace

TEST_CASE("a job running at a crash runs again after a restart, its old handler killed first",
          "[guarantees][crash]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0\nretries: 1");
  d.block_handlers();
  d.start();
  d.drop("a.txt", "A");
  REQUIRE(d.wait_until([&] { return fs::exists(d.records() / "1.1.args"); }));
  auto first_handler = recorded_pid(d, "1.1");
  d.kill_hard();
  REQUIRE_FALSE(process_gone(first_handler));  // orphaned, still blocked
  d.unblock_handlers();
  d.block_handlers();
  d.start();
  REQUIRE(d.wait_until([&] { return fs::exists(d.records() / "1.2.args"); }));
  CHECK(d.wait_until([&] { return process_gone(first_handler); }, 5s));
  d.unblock_handlers();
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()) == std::vector<std::string>{"a.txt"}; }));
}

TEST_CASE("an attempt interrupted by a crash counts, so a crashing file cannot loop",
          "[guarantees][crash]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0\nretries: 0");
  d.block_handlers();
  d.start();
  d.drop("poison.bin", "x");
  REQUIRE(d.wait_until([&] { return fs::exists(d.records() / "1.1.args"); }));
  d.kill_hard();
  d.unblock_handlers();
  d.start();
  REQUIRE(d.wait_until([&] { return d.files_in(d.failed()).size() == 2; }));
  CHECK_FALSE(fs::exists(d.records() / "1.2.args"));
  auto report = DaemonFixture::read_file(d.failed() / "poison.bin.error.txt");
  CHECK(report.find("interrupted") != std::string::npos);
}

TEST_CASE("a graceful stop lets a running handler finish and records it", "[guarantees][stop]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0");
  d.block_handlers();
  d.start();
  d.drop("a.txt", "A");
  REQUIRE(d.wait_until([&] { return fs::exists(d.records() / "1.1.args"); }));
  std::thread unblock([&] {
    std::this_thread::sleep_for(500ms);  // the handler works a while after the stop signal
    d.unblock_handlers();
  });
  CHECK(d.stop() == 0);
  unblock.join();
  CHECK(d.files_in(d.done()) == std::vector<std::string>{"a.txt"});
}

TEST_CASE("handlers still running after shutdown_grace are stopped and their attempt not counted",
          "[guarantees][stop]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0\nretries: 0\nkill_grace: 500ms");
  auto yaml = DaemonFixture::read_file(d.config_file());
  yaml.replace(yaml.find("shutdown_grace: 5s"), 18, "shutdown_grace: 1s");
  d.write_config(yaml);
  d.block_handlers();
  d.start();
  d.drop("a.txt", "A");
  REQUIRE(d.wait_until([&] { return fs::exists(d.records() / "1.1.args"); }));
  auto handler = recorded_pid(d, "1.1");
  CHECK(d.stop() == 0);
  CHECK(process_gone(handler));
  d.unblock_handlers();
  d.start();
  // With retries: 0 a counted attempt would have failed the job.
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()) == std::vector<std::string>{"a.txt"}; }));
}

TEST_CASE("a failing handler trips the breaker; new files are claimed but not run",
          "[guarantees][breaker]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"},
              "settle: 0\nretries: 0\n"
              "error_threshold: {window: 4, min_samples: 2, max_failure_rate: 0.5, cooldown: 1h}",
              {{"EXIT_CODE", "3"}});
  d.start();
  d.drop("1.txt", "1");
  REQUIRE(d.wait_until([&] { return d.files_in(d.failed()).size() == 2; }));
  d.drop("2.txt", "2");
  REQUIRE(d.wait_until([&] { return log_has(d, "breaker tripped inbox=in"); }));
  d.drop("3.txt", "3");
  REQUIRE(d.wait_until([&] { return log_has(d, "job claimed id=3"); }));
  CHECK(d.files_in(d.inbox()).empty());  // claimed, not left waiting unseen
  std::this_thread::sleep_for(500ms);    // give a wrongly started handler time to show
  CHECK_FALSE(fs::exists(d.records() / "3.1.args"));
}

TEST_CASE("a reload adds an inbox without disturbing a running job", "[guarantees][reload]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0");
  d.block_handlers();
  d.start();
  d.drop("slow.txt", "S");
  REQUIRE(d.wait_until([&] { return fs::exists(d.records() / "1.1.args"); }));
  fs::create_directories(d.root() / "in2");
  auto yaml = DaemonFixture::read_file(d.config_file());
  yaml += "  - name: second\n    path: in2\n    settle: 0\n    command: [\"/bin/true\"]\n";
  d.write_config(yaml);
  d.reload();
  REQUIRE(d.wait_until([&] { return log_has(d, "reload: configuration applied"); }));
  std::ofstream(d.root() / "in2" / "new.txt") << "N";
  REQUIRE(d.wait_until([&] { return fs::exists(d.root() / "in2" / "done" / "new.txt"); }));
  d.unblock_handlers();
  REQUIRE(
      d.wait_until([&] { return d.files_in(d.done()) == std::vector<std::string>{"slow.txt"}; }));
  CHECK(DaemonFixture::files_in(d.records()).size() >= 1);
  CHECK_FALSE(fs::exists(d.records() / "1.2.args"));  // not restarted
}

TEST_CASE("a bad configuration on reload keeps the running one", "[guarantees][reload]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0");
  d.start();
  auto good = DaemonFixture::read_file(d.config_file());
  d.write_config(good + "    timeout: 5 minutes\n");
  d.reload();
  REQUIRE(d.wait_until([&] { return log_has(d, "reload refused"); }));
  CHECK(log_has(d, "inboxes[0].timeout"));
  d.drop("still.txt", "x");
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 1; }));
}

TEST_CASE("a file over max_file_size fails at once without running the handler",
          "[guarantees][limits]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0\nmax_file_size: 10");
  d.start();
  d.drop("big.bin", std::string(11, 'x'));
  d.drop("small.bin", std::string(10, 'x'));
  REQUIRE(d.wait_until(
      [&] { return d.files_in(d.failed()).size() == 2 && d.files_in(d.done()).size() == 1; }));
  auto report = DaemonFixture::read_file(d.failed() / "big.bin.error.txt");
  CHECK(report.find("too large (11 bytes, limit 10)") != std::string::npos);
  CHECK(report.find("The handler was not run.") != std::string::npos);
  CHECK(d.files_in(d.records()).size() >= 1);
  CHECK_FALSE(fs::exists(d.records() / "1.1.args"));
}

TEST_CASE("an inbox whose folder is missing waits for it without being created",
          "[guarantees][unavailable]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0\npoll_interval: 300ms");
  fs::remove_all(d.inbox());
  d.start();
  REQUIRE(d.wait_until([&] { return log_has(d, "inbox unavailable inbox=in"); }));
  CHECK_FALSE(fs::exists(d.inbox()));
  fs::create_directories(d.inbox());
  d.drop("late.txt", "L");
  REQUIRE(
      d.wait_until([&] { return d.files_in(d.done()) == std::vector<std::string>{"late.txt"}; }));
}

TEST_CASE("a second instance on the same state directory exits 75", "[guarantees][startup]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"});
  d.start();
  std::string output;
  CHECK(d.run_inboxd({"--config", d.config_file().string()}, &output) == 75);
  CHECK(output.find("another inboxd") != std::string::npos);
}

TEST_CASE("a bad configuration exits 78 naming file, line and column", "[guarantees][startup]") {
  DaemonFixture d;
  d.write_config(
      "inboxes:\n  - name: in\n    path: in\n    command: [\"/bin/true\"]\n    timeout: \"5 "
      "minutes\"\n");
  std::string output;
  CHECK(d.run_inboxd({"--check", "--config", d.config_file().string()}, &output) == 78);
  CHECK(output.find("inboxd.yaml:5:5: inboxes[0].timeout:") != std::string::npos);
  output.clear();
  CHECK(d.run_inboxd({"--config", (d.root() / "missing.yaml").string()}, &output) == 78);
}
