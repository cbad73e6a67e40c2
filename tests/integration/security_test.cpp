// Hostile input against the real daemon: drop folders are written by many
// people, some careless, some hostile, and the admin socket is reachable by
// local users. Each test names what cannot happen. docs/security.md is the
// threat model these tests stand behind.

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "common/unique_fd.hpp"
#include "tests/integration/admin_client.hpp"
#include "tests/integration/daemon_fixture.hpp"

using inboxd::UniqueFd;
using inboxd::testing::AdminClient;
using inboxd::testing::DaemonFixture;
using nlohmann::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t kGiB = 1024ULL * 1024 * 1024;
const std::string kSecretText = "top secret: never to be handed to a handler";

std::string record_handler() { return DaemonFixture::fixture("record-handler"); }

// The words of a record file written with printf '%s\0' (a handler's argv).
std::vector<std::string> nul_split(const std::string& bytes) {
  std::vector<std::string> words;
  std::size_t start = 0;
  for (std::size_t end; (end = bytes.find('\0', start)) != std::string::npos; start = end + 1) {
    words.push_back(bytes.substr(start, end - start));
  }
  return words;
}

std::vector<fs::path> records_with(const DaemonFixture& d, const std::string& suffix) {
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(d.records())) {
    if (entry.path().filename().string().ends_with(suffix)) found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

// What the handlers read from their files, one entry per call.
std::multiset<std::string> handled_contents(const DaemonFixture& d) {
  std::multiset<std::string> contents;
  for (const auto& file : records_with(d, ".content")) {
    contents.insert(DaemonFixture::read_file(file));
  }
  return contents;
}

// "KEY=value" lines, so a failed comparison shows what differs.
std::vector<std::string> as_lines(const std::map<std::string, std::string>& env) {
  std::vector<std::string> lines;
  for (const auto& [key, value] : env) lines.push_back(key + "=" + value);
  return lines;
}

// Waits until done/ holds exactly these names.
bool done_holds(const DaemonFixture& d, std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return d.wait_until([&] { return d.files_in(d.done()) == names; });
}

bool is_link(const fs::path& p) { return fs::is_symlink(fs::symlink_status(p)); }

std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

// A file outside the inbox that hostile entries point at: no handler may
// ever read it, and nothing may change it.
struct Secret {
  explicit Secret(const DaemonFixture& d) : path(d.root() / "secret.txt") {
    std::ofstream(path) << kSecretText;
    mtime = fs::last_write_time(path);
  }
  bool untouched() const {
    return DaemonFixture::read_file(path) == kSecretText && fs::last_write_time(path) == mtime;
  }
  fs::path path;
  fs::file_time_type mtime;
};

json ask(const DaemonFixture& d, const std::string& request) {
  AdminClient client(d);
  REQUIRE(client.connected());
  auto reply = client.ask(request);
  REQUIRE(reply);
  REQUIRE_FALSE(reply->is_discarded());
  return *reply;
}

bool serves_status(const DaemonFixture& d) {
  AdminClient client(d);
  auto reply = client.ask(R"({"cmd":"status"})");
  return reply && !reply->is_discarded() && reply->value("ok", false);
}

// Completed full rescans of the inbox, from the daemon's metrics.
int rescans(const DaemonFixture& d) {
  const std::string text = ask(d, R"({"cmd":"metrics"})")["text"];
  const std::string key = "inboxd_watch_rescans_total{inbox=\"in\"} ";
  auto at = text.find(key);
  return at == std::string::npos ? -1 : std::stoi(text.substr(at + key.size()));
}

// Runs inboxctl --socket <the daemon's> args; returns its stdout.
std::string inboxctl(const DaemonFixture& d, const std::vector<std::string>& args) {
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  std::vector<std::string> words = {std::string(INBOXD_BIN_DIR) + "/inboxctl", "--socket",
                                    (d.root() / "state/inboxd.sock").string()};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  UniqueFd reader(out[0]);
  REQUIRE(rc == 0);
  std::string text;
  char chunk[4096];
  for (ssize_t n; (n = ::read(reader.get(), chunk, sizeof chunk)) > 0;) {
    text.append(chunk, static_cast<std::size_t>(n));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  return text;
}

// A field of /proc/<pid>/status in KiB ("VmHWM", "VmRSS").
long proc_status_kib(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  FAIL("no " << field << " in /proc/" << pid << "/status");
  return -1;
}

// A sparse file: its size costs no disk and no time.
void drop_sparse(const fs::path& file, std::uint64_t size) {
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  REQUIRE(fd.valid());
  REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(size)) == 0);
}

// The entry a hostile writer puts in place of a file it dropped, in one
// atomic exchange (the dropped file leaves the inbox in its place).
enum class Swap { kSymlink, kFifo, kFolder };

void swap_in(const DaemonFixture& d, const std::string& name, Swap kind, const Secret& secret) {
  const fs::path staged = d.root() / "staged";
  switch (kind) {
    case Swap::kSymlink: fs::create_symlink(secret.path, staged); break;
    case Swap::kFifo: REQUIRE(::mkfifo(staged.c_str(), 0644) == 0); break;
    case Swap::kFolder:
      fs::create_directory(staged);
      fs::create_symlink(secret.path, staged / "inner.txt");
      break;
  }
  REQUIRE(::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, (d.inbox() / name).c_str(),
                      RENAME_EXCHANGE) == 0);
}

json job(const DaemonFixture& d, int id) {
  return ask(d, R"({"cmd":"job","id":)" + std::to_string(id) + "}")["job"];
}

}  // namespace

// --- File names -------------------------------------------------------------

TEST_CASE(
    "hostile file names arrive as one byte-exact argument, run nothing and land in done "
    "under their exact name",
    "[security][names]") {
  DaemonFixture d;
  // "cd;touch X" would create X in HOME: point it where the test can look.
  fs::create_directories(d.root() / "home");
  d.set_daemon_env("HOME", (d.root() / "home").string());
  d.configure({record_handler(), "{name}", "{path}"}, "settle: 0");
  const std::vector<std::string> names = {"-rf",
                                          "--help",
                                          "$(touch X)",
                                          "$(cd;touch X)",
                                          "`touch X`",
                                          "a;b",
                                          "\"quoted'",
                                          "new\nline",
                                          "tab\there",
                                          std::string("not utf-8 \xff"),
                                          std::string(255, 'n')};
  d.start();
  for (const auto& name : names) d.drop(name, name);
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()) == sorted(names); }));
  std::set<std::string> seen;
  for (const auto& record : records_with(d, ".args")) {
    auto args = nul_split(DaemonFixture::read_file(record));
    REQUIRE(args.size() == 2);
    CHECK(args[1].front() == '/');
    CHECK(args[1].ends_with("/" + args[0]));
    seen.insert(args[0]);
  }
  CHECK(seen == std::set<std::string>(names.begin(), names.end()));
  CHECK(handled_contents(d) == std::multiset<std::string>(names.begin(), names.end()));
  CHECK(d.stop() == 0);  // nothing changes the tree while it is searched
  for (const auto& entry : fs::recursive_directory_iterator(d.root())) {
    CHECK(entry.path().filename() != "X");
  }
  CHECK_FALSE(fs::exists(fs::symlink_status("X")));
}

TEST_CASE("a name that is not UTF-8 shows with a replacement character in valid JSON",
          "[security][names]") {
  DaemonFixture d;
  d.configure({record_handler(), "{name}"}, "settle: 0");
  d.start();
  d.drop("scan \xff\xfe.pdf", "x");
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 1; }));
  auto reply = json::parse(inboxctl(d, {"--json", "jobs"}));  // throws on invalid UTF-8
  CHECK(reply["jobs"][0]["name"] == "scan \xEF\xBF\xBD\xEF\xBF\xBD.pdf");
  CHECK(nul_split(DaemonFixture::read_file(d.records() / "1.1.args")) ==
        std::vector<std::string>{"scan \xff\xfe.pdf"});
  CHECK(d.files_in(d.done()) == std::vector<std::string>{"scan \xff\xfe.pdf"});
}

// --- Symlinks, hard links, swaps --------------------------------------------

TEST_CASE("a symlink to a secret outside the inbox is never handed over and stays where it is",
          "[security][links]") {
  DaemonFixture d;
  Secret secret(d);
  fs::create_directories(d.root() / "outside");
  std::ofstream(d.root() / "outside" / "theirs.txt") << "theirs";
  d.configure({record_handler(), "{path}"}, "settle: 0\nrecursive: true\nrescan_interval: 200ms");
  fs::create_symlink(secret.path, d.inbox() / "early.txt");  // found by the start-up scan
  d.start();
  fs::create_symlink(secret.path, d.inbox() / "late.txt");  // seen through inotify
  fs::create_directory_symlink(d.root() / "outside", d.inbox() / "folder");
  d.drop("plain.txt", "plain");
  REQUIRE(done_holds(d, {"plain.txt"}));
  const int seen = rescans(d);
  REQUIRE(d.wait_until([&] { return rescans(d) >= seen + 2; }));  // full scans passed them too
  CHECK(handled_contents(d) == std::multiset<std::string>{"plain"});
  CHECK(is_link(d.inbox() / "early.txt"));
  CHECK(is_link(d.inbox() / "late.txt"));
  CHECK(is_link(d.inbox() / "folder"));
  CHECK(fs::exists(d.root() / "outside" / "theirs.txt"));
  CHECK(secret.untouched());
}

TEST_CASE("a file swapped for a symlink, a FIFO or a folder while it settles is never handed over",
          "[security][links]") {
  const Swap kind = GENERATE(Swap::kSymlink, Swap::kFifo, Swap::kFolder);
  DaemonFixture d;
  Secret secret(d);
  d.configure({record_handler(), "{path}"}, "settle: 1s\nretries: 0\ntimeout: 5s");
  d.start();
  d.drop("swap.txt", "innocent");
  swap_in(d, "swap.txt", kind, secret);  // well within the second of settle
  d.drop("after.txt", "after");
  REQUIRE(done_holds(d, {"after.txt"}));
  CHECK(handled_contents(d) == std::multiset<std::string>{"after"});
  CHECK(fs::exists(fs::symlink_status(d.inbox() / "swap.txt")));
  CHECK(secret.untouched());
}

// Polling (as on a network share) and a writer that keeps swapping a dropped
// file with a symlink: the claim's rename moves whatever is at the name at
// that moment, so the swap often lands between the daemon's last check and
// the rename. What was spooled must be checked again before a handler runs.
TEST_CASE(
    "a file swapped for a symlink between its last check and its claim never delivers the "
    "target's content",
    "[security][links]") {
  DaemonFixture d;
  Secret secret(d);
  d.configure({record_handler(), "{path}"},
              "watch: poll\npoll_interval: 50ms\nsettle: 100ms\nretries: 0\ntimeout: 5s");
  const fs::path innocent = d.root() / "innocent.txt";
  std::ofstream(innocent) << "innocent";
  d.start();
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    const fs::path file = d.root() / "staged-file", link = d.root() / "staged-link";
    const fs::path target = d.inbox() / "race.txt";
    while (!stop) {
      ::link(innocent.c_str(), file.c_str());  // same size and mtime every time: it settles
      ::rename(file.c_str(), target.c_str());
      ::symlink(secret.path.c_str(), link.c_str());
      ::rename(link.c_str(), target.c_str());
    }
  });
  d.wait_until([&] { return records_with(d, ".args").size() >= 20; }, 10s);
  stop = true;
  swapper.join();
  REQUIRE(d.wait_until([&] {
    auto counts = ask(d, R"({"cmd":"status"})")["inboxes"][0]["counts"];
    return counts["queued"] == 0 && counts["running"] == 0;
  }));
  CHECK(records_with(d, ".args").size() >= 5);
  CHECK(handled_contents(d).count(kSecretText) == 0);
  for (const auto& entry : fs::directory_iterator(d.done())) CHECK_FALSE(is_link(entry.path()));
  CHECK(secret.untouched());
}

// Without the sticky bit on the drop folder, anyone who may write to it may
// also rename the daemon's done folder away and put a symlink in its place.
TEST_CASE("a done folder swapped for a symlink leads no processed file out of the inbox",
          "[security][links]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0");
  d.start();
  d.drop("first.txt", "1");
  REQUIRE(done_holds(d, {"first.txt"}));
  const fs::path elsewhere = d.root() / "elsewhere";
  fs::create_directory(elsewhere);
  fs::rename(d.done(), d.root() / "old-done");
  fs::create_directory_symlink(elsewhere, d.done());
  d.drop("second.txt", "2");
  REQUIRE(d.wait_until([&] { return fs::exists(d.records() / "2.1.args"); }));
  REQUIRE(d.wait_until([&] {
    const auto state = job(d, 2)["state"];
    return state == "done" || state == "failed";
  }));
  CHECK_FALSE(job(d, 2)["path"].is_null());  // still tracked
  CHECK(fs::is_empty(elsewhere));
}

TEST_CASE(
    "a hard-linked file is processed like any other and its second link outside the inbox "
    "is untouched",
    "[security][links]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0");
  const fs::path outside = d.root() / "outside.txt";
  std::ofstream(outside) << "shared";
  d.start();
  fs::create_hard_link(outside, d.inbox() / "linked.txt");
  REQUIRE(done_holds(d, {"linked.txt"}));
  CHECK(handled_contents(d) == std::multiset<std::string>{"shared"});
  CHECK(DaemonFixture::read_file(outside) == "shared");
  CHECK(fs::equivalent(outside, d.done() / "linked.txt"));  // moved by rename: one inode, two names
  CHECK(fs::hard_link_count(outside) == 2);
}

// --- Special and huge files -------------------------------------------------

TEST_CASE("a FIFO in the inbox, even one a writer holds open, blocks neither files nor the socket",
          "[security][special]") {
  const std::string watch = GENERATE("inotify", "poll");
  DaemonFixture d;
  d.configure({record_handler(), "{path}"},
              "settle: 0\nwatch: " + watch + "\npoll_interval: 100ms\nrescan_interval: 100ms");
  REQUIRE(::mkfifo((d.inbox() / "idle.fifo").c_str(), 0666) == 0);
  d.start();
  REQUIRE(::mkfifo((d.inbox() / "held.fifo").c_str(), 0666) == 0);
  UniqueFd writer(::open((d.inbox() / "held.fifo").c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE(::write(writer.get(), "data", 4) == 4);
  d.drop("a.txt", "a");
  d.drop("b.txt", "b");
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 2; }));
  const int seen = rescans(d);
  REQUIRE(d.wait_until([&] { return rescans(d) >= seen + 2; }));
  CHECK(serves_status(d));
  CHECK(handled_contents(d) == std::multiset<std::string>{"a", "b"});
  CHECK(fs::is_fifo(d.inbox() / "idle.fifo"));
  CHECK(fs::is_fifo(d.inbox() / "held.fifo"));
}

TEST_CASE(
    "a 20 GiB sparse file is handed over and moved to done without the daemon's memory "
    "growing",
    "[security][huge]") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("size-handler"), "{path}"}, "settle: 0");
  d.start();
  const long hwm_before = proc_status_kib(d.pid(), "VmHWM");
  drop_sparse(d.inbox() / "huge.img", 20 * kGiB);
  REQUIRE(done_holds(d, {"huge.img"}));
  CHECK(DaemonFixture::read_file(d.records() / "1.1.size") == std::to_string(20 * kGiB) + "\n");
  CHECK(fs::file_size(d.done() / "huge.img") == 20 * kGiB);
  const long hwm_after = proc_status_kib(d.pid(), "VmHWM");
  const long rss_after = proc_status_kib(d.pid(), "VmRSS");
  CHECK(hwm_after - hwm_before < 64 * 1024);  // KiB: a read of the file would show gigabytes
  CHECK(rss_after < 512 * 1024);
}

TEST_CASE("max_file_size fails a 20 GiB sparse file at once as too large, without an attempt",
          "[security][huge]") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("size-handler"), "{path}"}, "settle: 0\nmax_file_size: 1GiB");
  d.start();
  drop_sparse(d.inbox() / "huge.img", 20 * kGiB);
  REQUIRE(d.wait_until([&] { return fs::exists(d.failed() / "huge.img.error.txt"); }));
  auto failed = job(d, 1);
  CHECK(failed["state"] == "failed");
  CHECK(failed["attempts"] == 0);
  CHECK(failed["history"].empty());
  CHECK(failed["last_error"] == "too large (21474836480 bytes, limit 1073741824)");
  CHECK_FALSE(fs::exists(d.records() / "1.1.args"));
}

// --- What a handler gets ----------------------------------------------------

TEST_CASE(
    "a handler sees only fds 0-2 and exactly the documented environment, none of the "
    "daemon's own",
    "[security][handler]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0", {{"FROM_INBOX", "yes"}});
  const std::map<std::string, std::string> passed = {{"PATH", "/usr/bin:/bin"},
                                                     {"HOME", d.root().string()},
                                                     {"LANG", "C.UTF-8"},
                                                     {"TZ", "Europe/Berlin"}};
  for (const auto& [key, value] : passed) d.set_daemon_env(key, value);
  d.set_daemon_env("SECRET_TOKEN", "hunter2");
  d.set_daemon_env("LC_ALL", "C");
  UniqueFd stray(::open("/dev/null", O_RDONLY));  // no O_CLOEXEC: inboxd inherits it
  d.start();
  stray.reset();
  d.drop("env.txt", "x");
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 1; }));
  // ls lists /proc/self/fd through one fd of its own (3).
  CHECK(DaemonFixture::read_file(d.records() / "1.1.fds") == "0\n1\n2\n3\n");
  std::map<std::string, std::string> env;
  for (const auto& entry : nul_split(DaemonFixture::read_file(d.records() / "1.1.env"))) {
    env[entry.substr(0, entry.find('='))] = entry.substr(entry.find('=') + 1);
  }
  const std::string cwd = DaemonFixture::read_file(d.records() / "1.1.cwd");
  CHECK(env["PWD"] + "\n" == cwd);  // /bin/sh sets PWD itself
  env.erase("PWD");
  auto expected = passed;
  expected.insert({{"INBOXD_JOB", "1"},
                   {"INBOXD_INBOX", "in"},
                   {"INBOXD_ATTEMPT", "1"},
                   {"INBOXD_FILE", env["INBOXD_FILE"]},
                   {"INBOXD_NAME", "env.txt"},
                   {"INBOXD_WORK_DIR", cwd.substr(0, cwd.size() - 1)},
                   {"RECORD_DIR", d.records().string()},
                   {"FROM_INBOX", "yes"}});
  CHECK(as_lines(env) == as_lines(expected));
  CHECK(env["INBOXD_FILE"].ends_with("/env.txt"));
}

TEST_CASE("50 MiB of binary handler output leave a 64 KiB tail and valid JSON",
          "[security][handler]") {
  DaemonFixture d;
  d.configure({"/bin/sh", "-c", "head -c 52428800 /dev/urandom; head -c 52428800 /dev/urandom >&2"},
              "settle: 0");
  d.start();
  const long hwm_before = proc_status_kib(d.pid(), "VmHWM");
  d.drop("noisy.bin", "x");
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 1; }, 60s));
  auto attempt = job(d, 1)["history"][0];  // the reply parsed: replacement characters, valid JSON
  CHECK(attempt["exit_code"] == 0);
  const std::string tail = attempt["stdout_tail"];
  CHECK(tail.size() >= 64 * 1024);  // bytes that are not UTF-8 grew to U+FFFD
  CHECK(tail.size() <= 3 * 64 * 1024);
  CHECK(proc_status_kib(d.pid(), "VmHWM") - hwm_before < 64 * 1024);
}

// --- Floods -----------------------------------------------------------------

TEST_CASE(
    "a flood of 2000 files into an inbox with max_queue 100 all end in done, the queue "
    "never above 100",
    "[security][flood]") {
  constexpr int kFiles = 2000;
  DaemonFixture d;
  d.configure({"/bin/true"}, "settle: 0\nmax_queue: 100\npoll_interval: 200ms\nconcurrency: 8");
  auto yaml = DaemonFixture::read_file(d.config_file());  // debug lines would cost the most
  d.write_config(yaml.replace(yaml.find("log_level: debug"), 16, "log_level: info"));
  d.start();
  for (int i = 0; i < kFiles; ++i) d.drop("f" + std::to_string(i) + ".dat", "x");
  long peak = 0, samples = 0;
  // Every poll of the wait is also a sample of the queue.
  const bool all_done = d.wait_until(
      [&] {
        const auto counts = ask(d, R"({"cmd":"status"})")["inboxes"][0]["counts"];
        peak = std::max(peak, counts["queued"].get<long>() + counts["retry_wait"].get<long>());
        ++samples;
        return counts["done"] == kFiles;
      },
      180s);
  REQUIRE(all_done);
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == kFiles; }));
  CHECK(d.files_in(d.inbox()).empty());
  CHECK(peak <= 100);
  CHECK(peak > 0);
  CHECK(samples >= 10);
}

// --- The admin socket -------------------------------------------------------

TEST_CASE("hostile admin requests each get a typed error and the daemon keeps serving others",
          "[security][socket]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0");
  d.start();
  std::mt19937 random(42);
  std::string garbage;
  while (garbage.size() < 4096) {
    char byte = static_cast<char>(random() & 0xff);
    if (byte != '\n') garbage += byte;
  }
  const std::vector<std::string> requests = {
      garbage,
      std::string("\0{\"cmd\":\"status\"}", 17),
      std::string(60000, '['),
      std::string(30000, '[') + std::string(30000, ']'),
      R"({"cmd":"jobs","inbox":)" + std::string(20000, '[') + std::string(20000, ']') + "}",
      R"({"cmd":"job","id":1e400})",
      R"({"cmd":"job","id":-1})",
      R"({"cmd":"job","id":"1"})",
      R"({"cmd":"job","id":1.5})",
      R"({"cmd":"job","id":9223372036854775808})",
      R"({"cmd":"job","id":18446744073709551616})",
      "{\"cmd\":\"jobs\",\"inbox\":\"\xff\"}",
      R"({"cmd":"status; rm -rf /"})",
      R"({"cmd":["status"]})"};
  for (const auto& request : requests) {
    INFO("request: " << request.substr(0, 60));
    AdminClient hostile(d);
    auto reply = hostile.ask(request);
    REQUIRE(reply);
    REQUIRE_FALSE(reply->is_discarded());
    CHECK((*reply)["ok"] == false);
    CHECK((*reply)["error"]["code"] == "bad_request");
    CHECK(serves_status(d));
  }
}

TEST_CASE(
    "an admin request line of 100 KiB answers bad_request, that connection closes, others "
    "are served",
    "[security][socket]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0");
  d.start();
  for (const auto& request : {std::string(100 * 1024, 'x'), std::string(100000, '[')}) {
    AdminClient hostile(d);
    hostile.send(request + "\n");
    auto reply = hostile.read_line();
    REQUIRE(reply);
    CHECK(json::parse(*reply)["error"]["code"] == "bad_request");
    CHECK_FALSE(hostile.read_line());  // closed by the daemon
    CHECK(serves_status(d));
  }
}

TEST_CASE("clients that stall mid-request, never send or never read keep no one else waiting",
          "[security][socket]") {
  DaemonFixture d;
  d.configure({record_handler(), "{path}"}, "settle: 0");
  d.start();
  AdminClient silent(d);
  AdminClient stalled(d);
  stalled.send(R"({"cmd":"sta)");
  AdminClient flooding(d);
  std::string many;
  for (int i = 0; i < 500; ++i) many += "{\"cmd\":\"status\"}\n";
  flooding.send(many);  // and never reads a reply
  CHECK(serves_status(d));
  d.drop("a.txt", "a");
  CHECK(d.wait_until([&] { return d.files_in(d.done()).size() == 1; }));
  CHECK(serves_status(d));
}
