// End-to-end tests of the "nothing lost" promise under real damage: the
// daemon SIGKILLed again and again mid-run, a handler that kills the daemon,
// a state directory that fills up, a corrupt database, and a spool that
// disagrees with the queue.

#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/integration/daemon_fixture.hpp"

using inboxd::testing::DaemonFixture;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string count_handler() { return DaemonFixture::fixture("count-handler"); }

// A recorded handler is still alive only if its pid now runs the handler
// script (a pid may have been reused by something else meanwhile).
bool handler_alive(pid_t pid) {
  auto cmdline = DaemonFixture::read_file("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline.find("count-handler") != std::string::npos;
}

// Rows per job state, read straight from the database file.
std::map<std::string, int> job_states(const fs::path& db_file, std::string* integrity = nullptr) {
  sqlite3* db = nullptr;
  std::map<std::string, int> states;
  REQUIRE(sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  auto each_row = [](void* out, int, char** values, char**) {
    (*static_cast<std::map<std::string, int>*>(out))[values[0]] = std::atoi(values[1]);
    return 0;
  };
  REQUIRE(sqlite3_exec(db, "SELECT state, count(*) FROM jobs GROUP BY state", each_row, &states,
                       nullptr) == SQLITE_OK);
  if (integrity != nullptr) {
    auto first = [](void* out, int, char** values, char**) {
      *static_cast<std::string*>(out) = values[0];
      return 0;
    };
    REQUIRE(sqlite3_exec(db, "PRAGMA integrity_check", first, integrity, nullptr) == SQLITE_OK);
  }
  sqlite3_close(db);
  return states;
}

// Starts and stops the daemon once, so that it makes its spool, leaves
// files there in `folder` as if a power loss took their jobs' rows, and
// starts the daemon again. `files`: name, content. Returns the spool.
fs::path start_with_orphans(DaemonFixture& d, const std::string& folder,
                            const std::map<std::string, std::string>& files) {
  d.start();
  REQUIRE(d.wait_until([&] { return fs::exists(d.inbox() / ".inboxd"); }));
  REQUIRE(d.stop() == 0);
  fs::path spool;
  for (const auto& instance : fs::directory_iterator(d.inbox() / ".inboxd")) {
    spool = instance.path() / "spool";
  }
  REQUIRE(!spool.empty());
  fs::create_directories(spool / folder);
  for (const auto& [name, content] : files) std::ofstream(spool / folder / name) << content;
  d.start();
  return spool;
}

// A one-slot inbox whose first job (first.txt) runs and blocks, so that
// files dropped next stay queued.
void start_with_first_job_blocked(DaemonFixture& d) {
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0\nconcurrency: 1");
  d.block_handlers();
  d.start();
  d.drop("first.txt", "1");
  REQUIRE(d.wait_until([&] { return fs::exists(d.records() / "1.1.args"); }));
}

// Removes, behind the daemon's back, the spooled files whose names start
// with `prefix`, once all `count` of them are in the spool.
void remove_spooled(const DaemonFixture& d, const std::string& prefix, std::size_t count) {
  std::vector<fs::path> spooled;
  REQUIRE(d.wait_until([&] {
    spooled.clear();
    for (const auto& entry : fs::recursive_directory_iterator(d.inbox() / ".inboxd")) {
      if (entry.path().filename().string().starts_with(prefix)) spooled.push_back(entry.path());
    }
    return spooled.size() == count;
  }));
  for (const auto& file : spooled) fs::remove(file);
}

std::string name_of_file(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "f%04d.txt", i);
  return name;
}

}  // namespace

TEST_CASE("a run of 500 files survives ten SIGKILLs: each file done once, no leftover handler",
          "[crash][slow]") {
  constexpr int kFiles = 500;
  constexpr int kKills = 10;
  constexpr int kConcurrency = 2;
  DaemonFixture d;
  d.configure({count_handler()}, "settle: 0\nconcurrency: 2\nretries: 50\nretry_backoff: 0");
  auto seed = std::random_device{}();
  std::mt19937 rng(seed);
  for (int i = 0; i < kFiles / 2; ++i) d.drop(name_of_file(i), "x");
  d.start();
  for (int i = kFiles / 2; i < kFiles; ++i) d.drop(name_of_file(i), "x");
  int kills = 0;
  while (kills < kKills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 400));
    d.kill_hard();
    ++kills;
    d.start();
  }
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == kFiles; }, 300s));
  REQUIRE(d.stop() == 0);

  auto all = d.handler_runs();
  std::map<std::string, int> per_file;
  int alive = 0;
  for (const auto& run : all) {
    ++per_file[run.name];
    alive += handler_alive(run.pid) ? 1 : 0;
  }
  auto states = job_states(d.root() / "state" / "queue.db");
  auto extra = static_cast<int>(all.size()) - kFiles;
  WARN("seed=" << seed << " files=" << kFiles << " kills=" << kills
               << " handler_runs=" << all.size() << " extra_runs=" << extra
               << " done_jobs=" << states["done"] << " leftover_handlers=" << alive);
  CHECK(d.files_in(d.done()).size() == kFiles);
  CHECK(d.files_in(d.inbox()).empty());
  CHECK(per_file.size() == kFiles);
  std::ostringstream counts;
  for (const auto& [state, count] : states) counts << state << "=" << count << " ";
  INFO("job states: " << counts.str());
  CHECK(states == std::map<std::string, int>{{"done", kFiles}});
  CHECK(alive == 0);
  CHECK(extra <= kills * kConcurrency);
}

TEST_CASE("a handler that kills the daemon ends failed and the daemon stays healthy", "[crash]") {
  DaemonFixture d;
  d.configure({count_handler()}, "settle: 0\nretries: 1");
  d.start();
  d.drop("kill-daemon.bin", "x");
  int restarts = 0;
  REQUIRE(d.wait_until(
      [&] {
        if (fs::exists(d.failed() / "kill-daemon.bin.error.txt")) return true;
        if (!d.running() || d.exited()) {
          ++restarts;
          try {
            d.start();
          } catch (const std::runtime_error&) {
            // Killed again before it was ready: the next round restarts it.
          }
        }
        return false;
      },
      60s));
  CHECK(restarts == 2);  // retries: 1 allows two attempts, each one a crash
  auto report = DaemonFixture::read_file(d.failed() / "kill-daemon.bin.error.txt");
  CHECK(report.find("interrupted") != std::string::npos);
  d.drop("after.txt", "y");
  REQUIRE(
      d.wait_until([&] { return d.files_in(d.done()) == std::vector<std::string>{"after.txt"}; }));
  CHECK_FALSE(d.exited().has_value());
  CHECK(d.stop() == 0);
}

TEST_CASE("an adopted spooled file over max_file_size fails as too large, never reaching a handler",
          "[crash][recovery]") {
  DaemonFixture d;
  d.configure({count_handler()}, "settle: 0\nmax_file_size: 1KiB");
  start_with_orphans(d, "9999", {{"big.pdf", std::string(2048, 'x')}});
  REQUIRE(d.wait_until([&] { return d.files_in(d.failed()).size() == 2; }));
  CHECK(d.stop() == 0);
  CHECK(d.handler_runs().empty());
  CHECK(DaemonFixture::read_file(d.failed() / "big.pdf.error.txt").find("too large") !=
        std::string::npos);
}

TEST_CASE("a corrupt database is refused with exit 73 and left as it was", "[crash][startup]") {
  DaemonFixture d;
  d.configure({count_handler()}, "settle: 0");
  d.start();
  REQUIRE(d.stop() == 0);
  auto db = d.root() / "state" / "queue.db";
  fs::remove(d.root() / "state" / "queue.db-wal");
  {
    std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4096);  // the second page: the schema's tables, no longer readable
    file << std::string(4096, '\x5a');
  }
  auto before = DaemonFixture::read_file(db);
  std::string output;
  CHECK(d.run_inboxd({"--config", d.config_file().string()}, &output) == 73);
  CHECK(output.find("queue.db") != std::string::npos);
  CHECK(DaemonFixture::read_file(db) == before);
}

TEST_CASE("a spooled file without a job gets one, and a job whose file vanished fails with why",
          "[crash][recovery]") {
  DaemonFixture d;
  d.configure({count_handler()}, "settle: 0\nconcurrency: 1");
  auto spool = start_with_orphans(d, "9999", {{"orphan.pdf", "left behind"}});
  REQUIRE(
      d.wait_until([&] { return d.files_in(d.done()) == std::vector<std::string>{"orphan.pdf"}; }));
  CHECK(DaemonFixture::read_file(d.done() / "orphan.pdf") == "left behind");
  CHECK_FALSE(fs::exists(spool / "9999"));
}

// The spool's numbered folders (those of jobs) and the files in each.
std::map<fs::path, std::vector<std::string>> spool_folders(const DaemonFixture& d) {
  std::map<fs::path, std::vector<std::string>> folders;
  for (const auto& instance : fs::directory_iterator(d.inbox() / ".inboxd")) {
    for (const auto& folder : fs::directory_iterator(instance.path() / "spool")) {
      auto name = folder.path().filename().string();
      if (name.find_first_not_of("0123456789") == std::string::npos) {
        folders[folder.path()] = DaemonFixture::files_in(folder.path());
      }
    }
  }
  return folders;
}

TEST_CASE(
    "files claimed together share a spool folder, and after a crash only its file without a job "
    "is adopted",
    "[crash][recovery]") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0\nconcurrency: 1");
  d.block_handlers();
  for (const std::string name : {"a.txt", "b.txt", "c.txt"}) d.drop(name, name);
  d.start();
  std::map<fs::path, std::vector<std::string>> folders;
  REQUIRE(d.wait_until([&] {
    folders = spool_folders(d);
    return folders.size() == 1 && folders.begin()->second.size() == 3;
  }));
  auto one_run = [&] {
    auto records = DaemonFixture::files_in(d.records());
    return std::any_of(records.begin(), records.end(),
                       [](const auto& r) { return r.ends_with(".args"); });
  };
  REQUIRE(d.wait_until(one_run));
  d.kill_hard();
  // As if a power loss took this file's job row but not its rename.
  std::ofstream(folders.begin()->first / "lost.txt") << "lost";
  d.start();
  d.unblock_handlers();
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 4; }));
  CHECK(d.files_in(d.done()) == std::vector<std::string>{"a.txt", "b.txt", "c.txt", "lost.txt"});
  std::set<std::string> jobs;
  for (const auto& record : DaemonFixture::files_in(d.records())) {
    if (record.ends_with(".args")) jobs.insert(record.substr(0, record.find('.')));
  }
  CHECK(jobs.size() == 4);  // the interrupted job ran again; none ran as two jobs
  CHECK(job_states(d.root() / "state" / "queue.db") == std::map<std::string, int>{{"done", 4}});
  REQUIRE(d.stop() == 0);
  CHECK(spool_folders(d).empty());
}

TEST_CASE("files claimed one after another share a spool folder until a file leaves it",
          "[recovery]") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0\nconcurrency: 1");
  d.block_handlers();
  d.start();
  for (const std::string name : {"a.txt", "b.txt", "c.txt"}) {
    d.drop(name, name);
    REQUIRE(d.wait_until([&] { return !fs::exists(d.inbox() / name); }));  // claimed on its own
  }
  auto folders = spool_folders(d);
  REQUIRE(folders.size() == 1);
  CHECK(folders.begin()->second == std::vector<std::string>{"a.txt", "b.txt", "c.txt"});
  d.unblock_handlers();
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 3; }));
  d.drop("d.txt", "d");  // claims go on once the shared folder is closed
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 4; }));
  REQUIRE(d.stop() == 0);
  CHECK(spool_folders(d).empty());
  CHECK(DaemonFixture::read_file(d.done() / "c.txt") == "c.txt");
}

// The crashed process had handed out ids 1 and 2 and recorded neither; the
// next ones it hands out are those again, unless it looks at the spool.
TEST_CASE("every file of a claim batch that was never recorded is adopted, none left in its folder",
          "[crash][recovery]") {
  DaemonFixture d;
  d.configure({count_handler()}, "settle: 0\nconcurrency: 1");
  auto spool = start_with_orphans(d, "1", {{"a.txt", "a"}, {"b.txt", "b"}});
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 2; }));
  CHECK(d.files_in(d.done()) == std::vector<std::string>{"a.txt", "b.txt"});
  CHECK(DaemonFixture::read_file(d.done() / "a.txt") == "a");
  CHECK(d.handler_runs().size() == 2);
  REQUIRE(d.stop() == 0);
  CHECK_FALSE(fs::exists(spool / "1"));
}

TEST_CASE("a queued job whose spooled file was removed fails with the reason",
          "[crash][recovery]") {
  DaemonFixture d;
  start_with_first_job_blocked(d);
  d.drop("doomed.txt", "2");
  remove_spooled(d, "doomed.txt", 1);
  d.unblock_handlers();
  REQUIRE(d.wait_until(
      [&] { return d.log().find("file missing from the spool") != std::string::npos; }));
  // A job's state may show a moment before its file lands.
  CHECK(
      d.wait_until([&] { return d.files_in(d.done()) == std::vector<std::string>{"first.txt"}; }));
  CHECK_FALSE(fs::exists(d.records() / "2.1.args"));
  CHECK(job_states(d.root() / "state" / "queue.db") ==
        std::map<std::string, int>{{"done", 1}, {"failed", 1}});
}

// Such jobs fail one per turn of the event loop (a spool emptied behind the
// daemon's back must not hold it through the whole queue); every one of
// them still ends.
TEST_CASE("every queued job whose spooled file was removed fails, however many there are",
          "[crash][recovery]") {
  DaemonFixture d;
  start_with_first_job_blocked(d);
  constexpr int kRemoved = 300;
  for (int i = 0; i < kRemoved; ++i) d.drop("gone-" + std::to_string(i) + ".txt", "x");
  remove_spooled(d, "gone-", kRemoved);
  d.unblock_handlers();
  REQUIRE(d.wait_until([&] {
    return job_states(d.root() / "state" / "queue.db") ==
           std::map<std::string, int>{{"done", 1}, {"failed", kRemoved}};
  }));
  CHECK(d.stop() == 0);
}

namespace {

// A small tmpfs mounted over a folder for one test (root only), detached at
// the end even if the daemon still has files open there.
class SmallDisk {
 public:
  SmallDisk(const fs::path& dir, const std::string& size) : dir_(dir) {
    fs::create_directories(dir_);
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;
  bool mounted() const { return mounted_; }

  // Writes a filler file until the disk is full; returns its path.
  fs::path fill() const {
    auto filler = dir_ / "filler";
    std::ofstream out(filler, std::ios::binary);
    std::string chunk(64 * 1024, 'f');
    while (out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()))) out.flush();
    return filler;
  }

 private:
  fs::path dir_;
  bool mounted_ = false;
};

// Mounting a small tmpfs for the state directory needs root; elsewhere the
// test says it is skipped.
bool can_mount_state_disk() {
  if (::geteuid() == 0) return true;
  WARN("skipped: mounting a small tmpfs for the state directory needs root");
  return false;
}

// Starts the daemon with its state on `disk`, fills the disk, and drops
// `files` files of `size` bytes until the daemon says it cannot write.
// Returns the filler, whose removal gives the room back.
fs::path drop_onto_full_state_disk(DaemonFixture& d, SmallDisk& disk, const std::string& extra,
                                   int files, std::size_t size) {
  REQUIRE(disk.mounted());
  d.configure({count_handler()}, extra);
  d.start();
  auto filler = disk.fill();
  for (int i = 0; i < files; ++i) d.drop(name_of_file(i), std::string(size, 'x'));
  REQUIRE(d.wait_until(
      [&] { return d.log().find("state directory cannot be written") != std::string::npos; }));
  return filler;
}

}  // namespace

TEST_CASE(
    "a full state disk pauses claiming without losing anything, and work resumes when "
    "space returns",
    "[crash][disk]") {
  if (!can_mount_state_disk()) return;
  DaemonFixture d;
  SmallDisk disk(d.root() / "state", "16m");
  constexpr int kFiles = 300;
  auto filler = drop_onto_full_state_disk(d, disk, "settle: 0\nconcurrency: 2", kFiles, 100);
  std::this_thread::sleep_for(1s);  // a crash-looping daemon would be gone by now
  REQUIRE_FALSE(d.exited().has_value());
  auto done_while_full = d.files_in(d.done()).size();
  fs::remove(filler);
  bool all_done = d.wait_until([&] { return d.files_in(d.done()).size() == kFiles; }, 120s);
  auto log = d.log();
  INFO(log.substr(log.size() > 4000 ? log.size() - 4000 : 0));
  REQUIRE(all_done);
  CHECK(d.log().find("state directory writable again") != std::string::npos);
  CHECK(d.stop() == 0);
  std::string integrity;
  auto states = job_states(d.root() / "state" / "queue.db", &integrity);
  WARN("files=" << kFiles << " done_before_space_returned=" << done_while_full);
  CHECK(integrity == "ok");
  CHECK(states == std::map<std::string, int>{{"done", kFiles}});
  CHECK(d.files_in(d.inbox()).empty());
}

TEST_CASE(
    "files claimed while the state disk is full still fail as too large, never reaching a "
    "handler",
    "[crash][disk]") {
  if (!can_mount_state_disk()) return;
  DaemonFixture d;
  SmallDisk disk(d.root() / "state", "16m");
  constexpr int kFiles = 20;
  auto filler = drop_onto_full_state_disk(d, disk, "settle: 0\nmax_file_size: 1KiB", kFiles, 2048);
  fs::remove(filler);
  REQUIRE(d.wait_until([&] { return d.files_in(d.failed()).size() == 2 * kFiles; }, 60s));
  CHECK(d.stop() == 0);
  CHECK(d.handler_runs().empty());
  CHECK(job_states(d.root() / "state" / "queue.db") ==
        std::map<std::string, int>{{"failed", kFiles}});
  auto log = d.log();
  std::size_t claimed = 0;
  for (auto at = log.find("job claimed"); at != std::string::npos;
       at = log.find("job claimed", at + 1)) {
    ++claimed;
  }
  CHECK(claimed == kFiles);
}

TEST_CASE(
    "a job that ends while the state disk is full starts no next handler until both are "
    "recorded, and each job runs once",
    "[crash][disk]") {
  if (!can_mount_state_disk()) return;
  DaemonFixture d;
  SmallDisk disk(d.root() / "state", "16m");
  REQUIRE(disk.mounted());
  start_with_first_job_blocked(d);
  d.drop("second.txt", "2");
  d.drop("third.txt", "3");
  REQUIRE(d.wait_until([&] { return d.files_in(d.inbox()).empty(); }));  // both queued
  auto filler = disk.fill();
  // The first job's outcome and the second job's start share one commit,
  // which the full disk refuses.
  d.unblock_handlers();
  REQUIRE(d.wait_until(
      [&] { return d.log().find("state directory cannot be written") != std::string::npos; }));
  auto runs = [&] {
    std::vector<std::string> args;
    for (const auto& record : DaemonFixture::files_in(d.records())) {
      if (record.ends_with(".args")) args.push_back(record);
    }
    return args;
  };
  std::this_thread::sleep_for(300ms);
  CHECK(runs() == std::vector<std::string>{"1.1.args"});
  fs::remove(filler);
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 3; }, 60s));
  REQUIRE(d.stop() == 0);
  CHECK(runs().size() == 3);  // every job once, each in its first attempt
  for (const auto& run : runs()) CHECK(run.ends_with(".1.args"));
  std::string integrity;
  CHECK(job_states(d.root() / "state" / "queue.db", &integrity) ==
        std::map<std::string, int>{{"done", 3}});
  CHECK(integrity == "ok");
}
