// End-to-end tests of the core pipeline: the real inboxd binary watching a
// real folder, running real handler processes.

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <set>
#include <thread>

#include "tests/integration/admin_client.hpp"
#include "tests/integration/daemon_fixture.hpp"

using inboxd::testing::AdminClient;
using inboxd::testing::DaemonFixture;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string record_handler() { return DaemonFixture::fixture("record-handler"); }

// The argv a record-handler call received, split at its NUL separators.
std::vector<std::string> recorded_args(const fs::path& file) {
  auto bytes = DaemonFixture::read_file(file);
  std::vector<std::string> args;
  std::string current;
  for (char c : bytes) {
    if (c == '\0') {
      args.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  return args;
}

std::vector<fs::path> records_with(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    auto name = entry.path().filename().string();
    if (name.size() > suffix.size() && name.ends_with(suffix)) found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

bool process_gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace

TEST_CASE("a dropped file is handled once and lands in done", "[pipeline]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 200ms");
  d.start();
  d.drop("report.pdf", "hello");
  REQUIRE(
      d.wait_until([&] { return d.files_in(d.done()) == std::vector<std::string>{"report.pdf"}; }));
  CHECK(DaemonFixture::read_file(d.done() / "report.pdf") == "hello");
  auto calls = records_with(d.records(), ".args");
  REQUIRE(calls.size() == 1);
  CHECK(DaemonFixture::read_file(d.records() / "1.1.content") == "hello");
  CHECK(d.files_in(d.inbox()).empty());
  CHECK(d.stop() == 0);
  CHECK(d.log().find("inboxd stopped") != std::string::npos);
}

TEST_CASE("files present before start are handled in name order", "[pipeline]") {
  DaemonFixture d;
  d.configure({record_handler(), "{name}"}, "settle: 0");
  d.drop("b.txt", "2");
  d.drop("a.txt", "1");
  d.drop("c.txt", "3");
  d.start();
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 3; }));
  CHECK(recorded_args(d.records() / "1.1.args") == std::vector<std::string>{"a.txt"});
  CHECK(recorded_args(d.records() / "2.1.args") == std::vector<std::string>{"b.txt"});
  CHECK(recorded_args(d.records() / "3.1.args") == std::vector<std::string>{"c.txt"});
}

TEST_CASE("a writer that appends for several seconds is handled once, after it finished",
          "[pipeline]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 500ms");
  d.start();
  std::string expected;
  {
    std::ofstream out(d.inbox() / "slow.csv", std::ios::binary);
    for (int i = 0; i < 10; ++i) {
      std::string chunk = "line " + std::to_string(i) + "\n";
      out << chunk << std::flush;
      expected += chunk;
      std::this_thread::sleep_for(300ms);  // the writer itself is slow; not a wait for the daemon
    }
  }
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 1; }));
  CHECK(records_with(d.records(), ".args").size() == 1);
  CHECK(DaemonFixture::read_file(d.records() / "1.1.content") == expected);
}

TEST_CASE("a handler that forks a grandchild and hangs is killed with it at the timeout",
          "[pipeline]") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("hang-with-grandchild")},
              "settle: 0\ntimeout: 1s\nkill_grace: 500ms\nretries: 0");
  d.start();
  d.drop("stuck.bin", "x");
  REQUIRE(d.wait_until([&] { return fs::exists(d.records() / "1.grandchild"); }));
  auto grandchild = std::stoi(DaemonFixture::read_file(d.records() / "1.grandchild"));
  REQUIRE(d.wait_until([&] { return d.files_in(d.failed()).size() == 2; }));
  CHECK(d.wait_until([&] { return process_gone(grandchild); }, 5s));
  auto report = DaemonFixture::read_file(d.failed() / "stuck.bin.error.txt");
  CHECK(report.find("timed out") != std::string::npos);
  CHECK(report.find("hanging on purpose") != std::string::npos);
}

TEST_CASE("failures are retried and end in failed with a readable report", "[pipeline]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0\nretries: 2\nretry_backoff: 100ms",
              {{"EXIT_CODE", "3"}});
  d.start();
  d.drop("bad.txt", "data");
  REQUIRE(d.wait_until([&] { return d.files_in(d.failed()).size() == 2; }));
  CHECK(records_with(d.records(), ".args").size() == 3);
  auto report = DaemonFixture::read_file(d.failed() / "bad.txt.error.txt");
  CHECK(report.find("exit code 3") != std::string::npos);
  CHECK(report.find("attempt 3") != std::string::npos);
  CHECK(report.find("failing on purpose") != std::string::npos);
}

TEST_CASE("hostile file names reach the handler byte-exactly as one argument", "[pipeline]") {
  DaemonFixture d;
  d.configure({record_handler(), "{name}", "--", "{rel}"}, "settle: 0");
  const std::vector<std::string> names = {"with space.txt",
                                          "quote\"s and 'single'.txt",
                                          "new\nline.txt",
                                          "-rf",
                                          "--help",
                                          "$(touch INJECTED)",
                                          "semi;colon",
                                          "tab\there",
                                          std::string("bad\xff\xfe utf8"),
                                          std::string(255, 'n')};
  for (const auto& name : names) d.drop(name, name);
  d.start();
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == names.size(); }));
  std::set<std::string> seen;
  for (const auto& file : records_with(d.records(), ".args")) {
    auto args = recorded_args(file);
    REQUIRE(args.size() == 3);
    CHECK(args[1] == "--");
    CHECK(args[0] == args[2]);
    seen.insert(args[0]);
  }
  CHECK(seen == std::set<std::string>(names.begin(), names.end()));
  CHECK_FALSE(fs::exists(d.records() / "INJECTED"));
  CHECK_FALSE(fs::exists(d.root() / "INJECTED"));
}

TEST_CASE("the handler sees only fds 0-2, its work dir and the documented environment",
          "[pipeline]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0");
  d.start();
  d.drop("env.txt", "x");
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 1; }));
  auto fds = DaemonFixture::read_file(d.records() / "1.1.fds");
  // ls itself opens one directory fd (3) to list /proc/self/fd.
  CHECK((fds == "0\n1\n2\n3\n" || fds == "0\n1\n2\n"));
  auto env = DaemonFixture::read_file(d.records() / "1.1.env");
  std::set<std::string> keys;
  for (std::size_t start = 0; start < env.size();) {
    auto end = env.find('\0', start);
    auto entry = env.substr(start, end - start);
    keys.insert(entry.substr(0, entry.find('=')));
    start = end + 1;
  }
  std::set<std::string> allowed = {"PATH",           "HOME",
                                   "LANG",           "TZ",
                                   "INBOXD_JOB",     "INBOXD_INBOX",
                                   "INBOXD_ATTEMPT", "INBOXD_FILE",
                                   "INBOXD_NAME",    "INBOXD_WORK_DIR",
                                   "RECORD_DIR",     "PWD",
                                   "SHLVL",          "_"};
  for (const auto& key : keys) CHECK(allowed.count(key) == 1);
  CHECK(keys.count("INBOXD_JOB") == 1);
  auto cwd = DaemonFixture::read_file(d.records() / "1.1.cwd");
  CHECK(cwd.find("/state/work/") != std::string::npos);
}

TEST_CASE("every attempt starts in an empty work folder, also after a crash left files there",
          "[pipeline]") {
  DaemonFixture d;
  // Lists its folder, then leaves a file and a folder with a file behind.
  d.configure(
      {"/bin/sh", "-c",
       "ls -A > \\\"$RECORD_DIR/$INBOXD_JOB.ls\\\"; touch junk; mkdir sub; touch sub/x", "sh"},
      "settle: 0");
  // What a daemon killed during a handler leaves in the first slot.
  auto slot = d.root() / "state" / "work" / "in" / "0";
  fs::create_directories(slot / "old");
  std::ofstream(slot / "old" / "left.txt") << "x";
  d.start();
  for (int i = 0; i < 3; ++i) {
    d.drop("f" + std::to_string(i) + ".txt", "x");
    REQUIRE(d.wait_until(
        [&] { return d.files_in(d.done()).size() == static_cast<std::size_t>(i + 1); }));
  }
  for (int job = 1; job <= 3; ++job) {
    INFO("job " << job);
    CHECK(DaemonFixture::read_file(d.records() / (std::to_string(job) + ".ls")).empty());
  }
  CHECK(d.stop() == 0);
}

TEST_CASE("a 2000-file burst is handled exactly once each", "[pipeline][burst]") {
  DaemonFixture d;
  // One small process per file: each call appends its argument and a NUL to
  // one log (O_APPEND writes this small never interleave).
  d.configure({"/bin/sh", "-c", "printf '%s\\\\0' \\\"$1\\\" >> \\\"$RECORD_DIR/burst.log\\\"",
               "sh", "{name}"},
              "settle: 0\nconcurrency: 4");
  d.start();
  constexpr int kFiles = 2000;
  for (int i = 0; i < kFiles; ++i) d.drop("f" + std::to_string(i) + ".dat", std::to_string(i));
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == kFiles; }, 500s));
  auto handled = recorded_args(d.records() / "burst.log");
  CHECK(handled.size() == kFiles);
  CHECK(std::set<std::string>(handled.begin(), handled.end()).size() == kFiles);
  // The moves out of the spool are recorded in batches: every job's path
  // names its file in done, once the last batch is in.
  AdminClient client(d);
  auto landed_in_done = [&] {
    std::size_t seen = 0;
    std::string before;
    for (;;) {
      auto reply = client.ask(R"({"cmd":"jobs","state":"done","limit":1000)" + before + "}");
      if (!reply || !(*reply)["ok"].get<bool>() || (*reply)["jobs"].empty()) break;
      for (const auto& job : (*reply)["jobs"]) {
        auto expected = (d.done() / job["name"].get<std::string>()).string();
        if (!job["path"].is_string() || job["path"].get<std::string>() != expected) return false;
        ++seen;
      }
      before =
          ",\"before_id\":" + std::to_string((*reply)["jobs"].back()["id"].get<std::int64_t>());
    }
    return seen == kFiles;
  };
  CHECK(d.wait_until(landed_in_done, 20s));
  CHECK(d.stop() == 0);
}

// Claims wait for a fast writer to pause (a claim's rename needs the lock a
// writer holds for every file it creates), but not while handler slots stand
// idle: files written two a millisecond for a little less than the longest
// such wait are being handled before the writer stops, and every one of
// them exactly once. (Where the writer stalls for longer than the quiet
// time, claims also go on in its pauses.)
TEST_CASE("handlers run while a writer is still filling the folder", "[pipeline][burst]") {
  DaemonFixture d;
  d.configure({"/bin/sh", "-c", "printf '%s\\\\0' \\\"$1\\\" >> \\\"$RECORD_DIR/burst.log\\\"",
               "sh", "{name}"},
              "settle: 0\nconcurrency: 2");
  d.start();
  std::size_t written = 0;
  auto stop_at = std::chrono::steady_clock::now() + 900ms;
  while (std::chrono::steady_clock::now() < stop_at) {
    d.drop("f" + std::to_string(written++) + ".dat", "x");
    if (written % 2 == 0) std::this_thread::sleep_for(1ms);
  }
  auto handled_meanwhile = recorded_args(d.records() / "burst.log").size();
  INFO(written << " files written, " << handled_meanwhile << " handled meanwhile");
  // More than the few files claimed before the burst was recognised.
  CHECK(handled_meanwhile > 10);

  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == written; }, 300s));
  CHECK(recorded_args(d.records() / "burst.log").size() == written);
  CHECK(d.stop() == 0);
}

// Each claim renames a file out of the drop folder; a watch that reported
// those would overflow the kernel's event queue with a backlog this size.
TEST_CASE("a backlog larger than the inotify queue is claimed without an overflow",
          "[pipeline][burst]") {
  auto limit = std::stoul(DaemonFixture::read_file("/proc/sys/fs/inotify/max_queued_events"));
  if (limit > 20000) {
    WARN("not run: fs.inotify.max_queued_events is " << limit);
    return;
  }
  const std::size_t files = limit + 1000;
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  for (std::size_t i = 0; i < files; ++i) d.drop("f" + std::to_string(i) + ".dat", "x");
  d.start();
  AdminClient client(d);
  REQUIRE((*client.ask(R"({"cmd":"pause","inbox":"in"})"))["ok"].get<bool>());
  auto all_claimed = [&] {
    auto reply = client.ask(R"({"cmd":"status"})");
    if (!reply) return false;
    const auto& counts = (*reply)["inboxes"][0]["counts"];
    std::size_t n = 0;
    for (const auto* state : {"queued", "running", "done", "failed"}) {
      n += counts[state].get<std::size_t>();
    }
    return n == files;
  };
  CHECK(d.wait_until(all_claimed, 60s));
  CHECK(d.files_in(d.inbox()).empty());
  CHECK(d.log().find("overflow") == std::string::npos);
  auto status = client.ask(R"({"cmd":"status"})");
  REQUIRE(status);
  CHECK((*status)["inboxes"][0]["watch_health"] == "ok");
  CHECK(d.stop() == 0);
}

TEST_CASE("a burst written into a paused inbox is claimed in full once the writer stops",
          "[pipeline][burst]") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  d.start();
  AdminClient client(d);
  REQUIRE((*client.ask(R"({"cmd":"pause","inbox":"in"})"))["ok"].get<bool>());
  constexpr std::size_t kFiles = 1500;
  for (std::size_t i = 0; i < kFiles; ++i) d.drop("f" + std::to_string(i) + ".dat", "x");
  auto queued = [&] {
    auto reply = client.ask(R"({"cmd":"status"})");
    return reply && (*reply)["inboxes"][0]["counts"]["queued"].get<std::size_t>() == kFiles;
  };
  // Nothing waits for a rescan: claims resume as soon as the burst is over.
  CHECK(d.wait_until(queued, 20s));
  CHECK(d.files_in(d.inbox()).empty());
  CHECK(d.handler_runs().empty());
  CHECK(d.stop() == 0);
}
