// Several inboxd instances, each with its own state directory, watching one
// shared folder (as daemons on several hosts watch one network share): the
// rename into each instance's own spool decides who gets a file, so every
// file is processed exactly once in total, and each instance recovers only
// its own claims.

#include <catch2/catch.hpp>
#include <map>
#include <sstream>
#include <thread>

#include "tests/integration/daemon_fixture.hpp"

using inboxd::testing::DaemonFixture;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Points `second` at the inbox folder of `first`; both handlers record into
// first's records folder.
void share_inbox(DaemonFixture& first, DaemonFixture& second, const std::string& extra) {
  auto handler = DaemonFixture::fixture("count-handler");
  first.configure({handler}, extra);
  std::ostringstream yaml;
  yaml << "state_dir: state\nsocket: state/inboxd.sock\nlog_level: debug\nshutdown_grace: 5s\n"
       << "inboxes:\n  - name: in\n    path: \"" << first.inbox().string() << "\"\n"
       << "    command: [\"" << handler << "\"]\n"
       << "    env: {RECORD_DIR: \"" << first.records().string() << "\"}\n";
  std::istringstream lines(extra);
  for (std::string line; std::getline(lines, line);) yaml << "    " << line << "\n";
  second.write_config(yaml.str());
}

// Handler runs per file name.
std::map<std::string, int> runs_per_file(const DaemonFixture& d) {
  std::map<std::string, int> runs;
  for (const auto& run : d.handler_runs()) ++runs[run.name];
  return runs;
}

std::string numbered(int i) { return "file" + std::to_string(1000 + i) + ".txt"; }

}  // namespace

TEST_CASE("two instances on one folder process every file exactly once between them", "[shared]") {
  constexpr int kFiles = 300;
  DaemonFixture a, b;
  share_inbox(a, b, "settle: 0\nconcurrency: 2");
  a.start();
  b.start();
  for (int i = 0; i < kFiles; ++i) a.drop(numbered(i), "x");
  REQUIRE(a.wait_until([&] { return a.files_in(a.done()).size() == kFiles; }, 180s));
  auto runs = runs_per_file(a);
  CHECK(runs.size() == kFiles);
  int twice = 0;
  for (const auto& [name, count] : runs) twice += count > 1 ? 1 : 0;
  CHECK(twice == 0);
  auto claimed_by_b = b.log().find("job claimed") != std::string::npos;
  auto claimed_by_a = a.log().find("job claimed") != std::string::npos;
  WARN("both instances claimed files: a=" << claimed_by_a << " b=" << claimed_by_b);
  CHECK(a.stop() == 0);
  CHECK(b.stop() == 0);
  CHECK(fs::exists(a.inbox() / ".inboxd"));
  int spools = 0;
  for (const auto& instance : fs::directory_iterator(a.inbox() / ".inboxd")) {
    spools += fs::exists(instance.path() / "spool") ? 1 : 0;
  }
  CHECK(spools == 2);  // one spool per instance
}

TEST_CASE(
    "an instance that crashes keeps its claims: the other never takes them, its restart "
    "finishes them",
    "[shared]") {
  constexpr int kFiles = 40;
  DaemonFixture a, b;
  share_inbox(a, b, "settle: 0\nconcurrency: 1");
  for (int i = 0; i < kFiles; ++i) a.drop(numbered(i), "x");
  b.start();  // its start-up scan claims all of them at once
  REQUIRE(b.wait_until([&] { return a.files_in(a.inbox()).empty(); }));
  b.kill_hard();
  auto done_by_b = a.files_in(a.done()).size();
  a.start();
  std::this_thread::sleep_for(1s);
  CHECK(a.log().find("job claimed") == std::string::npos);
  CHECK(a.files_in(a.done()).size() == done_by_b);  // b's spool is not a's business
  b.start();
  REQUIRE(a.wait_until([&] { return a.files_in(a.done()).size() == kFiles; }, 120s));
  WARN("done by b before its crash: " << done_by_b << " of " << kFiles);
  auto runs = runs_per_file(a);
  CHECK(runs.size() == kFiles);
  int extra = 0;
  for (const auto& [name, count] : runs) extra += count - 1;
  CHECK(extra <= 1);  // only what b was running at its crash may run again
}

TEST_CASE("an unmounted share's empty mountpoint is not taken for an inbox whose files are gone",
          "[shared][unmounted]") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"},
              "settle: 0\nconcurrency: 1\npoll_interval: 500ms");
  d.block_handlers();
  d.start();
  d.drop("a.pdf", "a");
  d.drop("b.pdf", "b");
  REQUIRE(d.wait_until([&] { return d.files_in(d.inbox()).empty(); }));  // both claimed
  d.kill_hard();
  // The share goes away: what is left at its path is the empty mountpoint.
  auto share = d.root() / "share-contents";
  fs::rename(d.inbox(), share);
  fs::create_directory(d.inbox());
  d.unblock_handlers();
  d.start();
  REQUIRE(d.wait_until([&] { return d.log().find("is the share mounted") != std::string::npos; }));
  std::this_thread::sleep_for(1500ms);  // three retries of the folder
  CHECK(d.log().find("file missing from the spool") == std::string::npos);
  CHECK_FALSE(fs::exists(d.inbox() / ".inboxd"));  // nothing created on the mountpoint
  // The share is mounted again: both files are handled, none was failed.
  fs::remove(d.inbox());
  fs::rename(share, d.inbox());
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 2; }));
  CHECK(d.files_in(d.failed()).empty());
  CHECK(d.stop() == 0);
}
