// inboxd on a real network share: sshfs (FUSE) mounts served by an sshd the
// test starts itself (SshfsShare), written into from the "server" side, as a
// remote writer would; a share on a second host (a network namespace) whose
// link is cut and restored; and a recursive inbox that runs out of inotify
// watches. Tests that need root, /dev/fuse, sshfs or sshd skip loudly.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "tests/integration/admin_client.hpp"
#include "tests/integration/daemon_fixture.hpp"
#include "tests/integration/share_fixture.hpp"

extern char** environ;

using inboxd::testing::AdminClient;
using inboxd::testing::DaemonFixture;
using inboxd::testing::SshfsShare;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Says (loudly, as a warning) why this machine cannot make such a share.
bool share_unavailable(SshfsShare::Host host) {
  auto missing = SshfsShare::missing_requirement(host);
  if (!missing.empty()) WARN("skipped: " << missing);
  return !missing.empty();
}

constexpr const char* kFuseMagic = "0x65735546";  // FUSE_SUPER_MAGIC, as statfs(2) reports sshfs

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// A status reply and how long it took to come.
struct Status {
  bool answered = false;  // a JSON reply within the limit
  std::chrono::milliseconds took{0};
  nlohmann::json reply;
  std::string output;
};

// `inboxctl --socket <d's> --json status`, killed past `limit`.
Status status_of(const DaemonFixture& d, std::chrono::milliseconds limit = 3s) {
  static int calls = 0;
  auto out = d.root() / ("status-" + std::to_string(++calls) + ".out");
  std::vector<std::string> words = {std::string(INBOXD_BIN_DIR) + "/inboxctl", "--socket",
                                    (d.root() / "state/inboxd.sock").string(), "--json", "status"};
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  Status status;
  auto started = Clock::now();
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return status;
  int wait_status = 0;
  bool ended = DaemonFixture::wait_until(
      [&] { return ::waitpid(pid, &wait_status, WNOHANG) == pid; }, limit);
  status.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (!ended) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);  // inboxctl only waits on a socket: it dies at once
  }
  status.output = DaemonFixture::read_file(out);
  std::error_code ec;
  fs::remove(out, ec);
  if (ended && WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
    status.reply = nlohmann::json::parse(status.output, nullptr, false);
    status.answered = !status.reply.is_discarded();
  }
  return status;
}

// `{"cmd":"status"}` straight over the socket: `took` is the daemon's answer
// time alone, not a client process's start-up as well, which on a loaded
// machine under sanitizers can by itself take a good part of a second.
Status status_over_socket(const DaemonFixture& d, std::chrono::milliseconds limit) {
  Status status;
  auto started = Clock::now();
  AdminClient client(d, limit);
  auto reply = client.connected() ? client.ask(R"({"cmd":"status"})") : std::nullopt;
  status.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  if (reply) {
    status.output = reply->dump();
    status.answered = !reply->is_discarded() && reply->value("ok", false) && status.took <= limit;
    status.reply = std::move(*reply);
  }
  return status;
}

nlohmann::json inbox_of(const Status& status, const std::string& name) {
  if (status.answered && status.reply.contains("inboxes")) {
    for (const auto& inbox : status.reply["inboxes"]) {
      if (inbox.value("name", "") == name) return inbox;
    }
  }
  return nlohmann::json::object();
}

std::string text_of(const nlohmann::json& inbox, const std::string& key) {
  return inbox.contains(key) && inbox[key].is_string() ? inbox[key].get<std::string>() : "";
}

// Writes `content` under a hidden name, then renames it into place: the file
// appears whole, as a copy tool that renames at the end makes it.
void drop_whole(const fs::path& dir, const std::string& name, const std::string& content) {
  auto hidden = dir / ("." + name + ".partial");
  std::ofstream(hidden, std::ios::binary) << content;
  fs::rename(hidden, dir / name);
}

std::map<std::string, int> runs_per_name(const std::vector<const DaemonFixture*>& daemons) {
  std::map<std::string, int> runs;
  for (const auto* d : daemons) {
    for (const auto& run : d->handler_runs()) ++runs[run.name];
  }
  return runs;
}

std::size_t files_in(const fs::path& dir) { return DaemonFixture::files_in(dir).size(); }

std::string tail(const std::string& text, std::size_t bytes = 3000) {
  return text.size() > bytes ? text.substr(text.size() - bytes) : text;
}

}  // namespace

TEST_CASE(
    "a remote writer's 200 files on an sshfs share are each handled once, none before its "
    "writer finished",
    "[share]") {
  if (share_unavailable(SshfsShare::Host::kLoopback)) return;
  SshfsShare share;
  share.start();
  // Fresh metadata: with sshfs's own cache (its default) a new name shows up
  // only up to 20 s late, and with only the kernel's default 1 s attribute
  // cache a 1.2 s pause can look like 2 s of silence: handlers then saw
  // half-written files (cache=no alone failed 4 runs of 10).
  auto mount = share.mount(SshfsShare::kFreshMetadata);
  REQUIRE(share.filesystem_type(mount) == kFuseMagic);
  DaemonFixture d;
  // size-handler records the size it saw (job.attempt.size) and its
  // arguments (job.attempt.args: the name).
  d.configure_inboxes(
      {DaemonFixture::fixture("size-handler"), "{name}"},
      {{"share", mount, "watch: auto\npoll_interval: 500ms\nsettle: 2s\nconcurrency: 4"}});
  d.start();
  auto inbox = inbox_of(status_of(d), "share");
  INFO(inbox.dump());
  REQUIRE(text_of(inbox, "watch") == "poll");
  REQUIRE(contains(text_of(inbox, "watch_note"), "fuse"));

  // Every 4th file is written in 4 chunks with pauses longer than
  // poll_interval (but shorter than settle minus poll_interval, so the daemon
  // must see each pause end); the others in 2 quick chunks.
  constexpr int kFiles = 200;
  const std::vector<std::chrono::milliseconds> pauses = {600ms, 900ms, 1200ms};
  std::map<std::string, std::uintmax_t> expected;
  auto name_of = [](int i) { return "remote" + std::to_string(1000 + i) + ".bin"; };
  auto chunk_of = [](int i) {
    return std::string(std::size_t(1024) * std::size_t(1 + i % 7), char('a' + i % 26));
  };
  for (int i = 0; i < kFiles; ++i) expected[name_of(i)] = (i % 4 == 0 ? 4 : 2) * chunk_of(i).size();
  auto started = Clock::now();
  std::vector<std::thread> slow_writers;
  for (std::size_t p = 0; p < pauses.size(); ++p) {
    slow_writers.emplace_back([&, p] {
      std::vector<std::pair<int, int>> open_files;  // index, fd
      for (int i = 0; i < kFiles; i += 4) {
        if (static_cast<std::size_t>(i / 4) % pauses.size() != p) continue;
        auto path = share.backing() / name_of(i);
        open_files.emplace_back(
            i, ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      }
      for (int chunk = 0; chunk < 4; ++chunk) {
        if (chunk > 0) std::this_thread::sleep_for(pauses[p]);
        for (auto [i, fd] : open_files) {
          auto data = chunk_of(i);
          if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
            std::abort();
        }
      }
      for (auto [i, fd] : open_files) ::close(fd);
    });
  }
  for (int i = 0; i < kFiles; ++i) {
    if (i % 4 == 0) continue;
    std::ofstream out(share.backing() / name_of(i), std::ios::binary);
    out << chunk_of(i) << std::flush;
    std::this_thread::sleep_for(30ms);
    out << chunk_of(i);
  }
  for (auto& writer : slow_writers) writer.join();
  auto written_ms = ms_since(started);

  bool all_done = d.wait_until([&] { return files_in(share.backing() / "done") == kFiles; }, 60s);
  auto handled_ms = ms_since(started);
  INFO(tail(d.log()));
  REQUIRE(all_done);
  std::map<std::string, int> runs;
  std::map<std::string, std::uintmax_t> seen;
  for (const auto& entry : fs::directory_iterator(d.records())) {
    auto file = entry.path().filename().string();
    if (file.size() < 5 || file.substr(file.size() - 5) != ".args") continue;
    auto args = DaemonFixture::read_file(entry.path());
    auto name = args.substr(0, args.find('\0'));
    ++runs[name];
    auto size_file = entry.path().parent_path() / (file.substr(0, file.size() - 5) + ".size");
    seen[name] = std::stoull(DaemonFixture::read_file(size_file));
  }
  int twice = 0, wrong_size = 0;
  std::string mismatches;
  for (const auto& [name, count] : runs) twice += count > 1 ? 1 : 0;
  for (const auto& [name, size] : expected) {
    if (seen.count(name) == 0 || seen[name] != size) {
      ++wrong_size;
      mismatches += name + ": handler saw " +
                    (seen.count(name) ? std::to_string(seen[name]) : "nothing") +
                    " bytes, writer wrote " + std::to_string(size) + "\n";
    }
  }
  CHECK(runs.size() == kFiles);
  CHECK(twice == 0);
  INFO(mismatches);
  CHECK(wrong_size == 0);
  for (const auto& [name, size] : expected) {
    std::error_code ec;
    CHECK(fs::file_size(share.backing() / "done" / name, ec) == size);
  }
  WARN("writers took " << written_ms << " ms; all handled after " << handled_ms << " ms");
  CHECK(d.stop() == 0);
}

TEST_CASE(
    "two instances on two mounts of one share process 1000 files exactly once in total, "
    "and both did work",
    "[share]") {
  if (share_unavailable(SshfsShare::Host::kLoopback)) return;
  SshfsShare share;
  share.start();
  // The files appear whole (renamed into place), so attributes cached for a
  // few seconds cannot make a claim early. They spare a round trip per file
  // and scan (a scan of 1000 fresh names takes about a second over sshfs, and the
  // instances then do little else), and a cached entry of a file the other
  // instance took meanwhile exercises the lost claim. New names are never
  // cached (cache=no): each listing comes from the server.
  const std::string options = "cache=no,attr_timeout=5,entry_timeout=5";
  auto first_mount = share.mount(options);
  auto second_mount = share.mount(options);
  // 1000 files take about 25 s here with ASan: every filesystem call of an
  // inbox on a share runs on its one folder thread, a round trip each.
  constexpr int kFiles = 1000;
  DaemonFixture a, b;
  // max_queue leaves files in the share for the other instance: without it
  // the first scan claims all 1000.
  const std::string keys =
      "watch: auto\npoll_interval: 1s\nsettle: 0\nconcurrency: 8\nmax_queue: 300";
  auto handler = DaemonFixture::fixture("count-handler");
  a.configure_inboxes({handler}, {{"share", first_mount, keys}});
  b.configure_inboxes({handler}, {{"share", second_mount, keys}});
  a.start();
  b.start();
  REQUIRE(text_of(inbox_of(status_of(a), "share"), "watch") == "poll");
  REQUIRE(text_of(inbox_of(status_of(b), "share"), "watch") == "poll");
  auto started = Clock::now();
  for (int i = 0; i < kFiles; ++i)
    drop_whole(share.backing(), "f" + std::to_string(10000 + i) + ".txt", "x");
  auto dropped_ms = ms_since(started);
  bool all_done =
      DaemonFixture::wait_until([&] { return files_in(share.backing() / "done") >= kFiles; }, 120s);
  auto done_ms = ms_since(started);
  INFO("a: " << tail(a.log(), 1500) << "\nb: " << tail(b.log(), 1500));
  CHECK(all_done);
  std::this_thread::sleep_for(300ms);  // a duplicate run would show up now
  auto runs = runs_per_name({&a, &b});
  int twice = 0;
  for (const auto& [name, count] : runs) twice += count > 1 ? 1 : 0;
  CHECK(runs.size() == kFiles);
  CHECK(twice == 0);
  CHECK(files_in(share.backing() / "done") == kFiles);
  auto by_a = a.handler_runs().size();
  auto by_b = b.handler_runs().size();
  CHECK(by_a > 0);
  CHECK(by_b > 0);
  WARN("dropped in " << dropped_ms << " ms; all done after " << done_ms << " ms; runs by a=" << by_a
                     << " b=" << by_b);
  CHECK(a.stop() == 0);
  CHECK(b.stop() == 0);
}

TEST_CASE(
    "a partitioned share makes only its inbox unavailable: the local inbox flows, status "
    "answers within a second, and the share inbox recovers",
    "[share][partition]") {
  if (share_unavailable(SshfsShare::Host::kNamespace)) return;
  // The daemon is declared first so that it ends last: the share's cleanup
  // aborts the FUSE connection, which frees a daemon stuck in a share call
  // (a request already sent to sshfs cannot be interrupted, not even by
  // SIGKILL).
  DaemonFixture d;
  SshfsShare share(SshfsShare::Host::kNamespace);
  share.start();
  auto mount =
      share.mount();  // no ServerAliveInterval: calls hang during the cut, TCP resumes after
  REQUIRE(share.filesystem_type(mount) == kFuseMagic);
  auto local_done = d.inbox() / "done";
  auto share_done = share.backing() / "done";  // read on the server side: never hangs
  d.configure_inboxes(
      {DaemonFixture::fixture("count-handler")},
      {{"share", mount, "watch: auto\npoll_interval: 500ms\nsettle: 0\nconcurrency: 2"},
       {"local", d.inbox(), "settle: 0\nconcurrency: 2"}});
  d.start();
  {
    auto status = status_of(d);
    INFO(status.output);
    REQUIRE(text_of(inbox_of(status, "share"), "state") == "active");
    REQUIRE(text_of(inbox_of(status, "share"), "watch") == "poll");
    REQUIRE(text_of(inbox_of(status, "local"), "state") == "active");
  }
  drop_whole(share.backing(), "first.txt", "x");
  REQUIRE(d.wait_until([&] { return files_in(share_done) == 1; }, 10s));

  std::set<std::string> share_files;
  for (int i = 0; i < 5; ++i) {
    share_files.insert("before" + std::to_string(i) + ".txt");
    drop_whole(share.backing(), "before" + std::to_string(i) + ".txt", "x");
  }
  share.partition();
  auto cut_at = Clock::now();
  int local_dropped = 0, slow = 0, silent_in_a_row = 0;
  long long slowest_ms = 0, unavailable_after_ms = -1;
  std::string note;
  bool gave_up = false;
  while (ms_since(cut_at) < 40000) {
    d.drop("local" + std::to_string(local_dropped++) + ".txt", "x");
    auto during = "during" + std::to_string(local_dropped) + ".txt";
    drop_whole(share.backing(), during, "x");
    share_files.insert(during);
    auto status = status_over_socket(d, 2s);
    slowest_ms = std::max<long long>(slowest_ms, status.took.count());
    if (!status.answered || status.took > 1s) {
      ++slow;
      UNSCOPED_INFO("status at +" << ms_since(cut_at)
                                  << " ms: " << (status.answered ? "answered" : "no answer")
                                  << " after " << status.took.count() << " ms");
    }
    silent_in_a_row = status.answered ? 0 : silent_in_a_row + 1;
    if (silent_in_a_row >= 3) {  // the daemon as a whole hangs: no point waiting on
      gave_up = true;
      break;
    }
    auto share_inbox = inbox_of(status, "share");
    note = text_of(share_inbox, "watch_note");
    if (text_of(share_inbox, "state") == "unavailable" && contains(note, "not responding since")) {
      unavailable_after_ms = ms_since(cut_at);
      CHECK(text_of(inbox_of(status, "local"), "state") == "active");
      break;
    }
    std::this_thread::sleep_for(500ms);
  }
  INFO("daemon log: " << tail(d.log()));
  CHECK_FALSE(gave_up);
  CHECK(slow == 0);
  CHECK(unavailable_after_ms >= 0);
  CHECK(contains(note, "not responding since"));
  CHECK(d.wait_until(
      [&] { return files_in(local_done) == static_cast<std::size_t>(local_dropped); }, 5s));
  WARN("partition: share unavailable after "
       << unavailable_after_ms << " ms, slowest status " << slowest_ms
       << " ms, slow or silent statuses " << slow << ", local files " << files_in(local_done) << "/"
       << local_dropped << ", note: " << note);
  REQUIRE_FALSE(gave_up);
  REQUIRE(unavailable_after_ms >= 0);

  share.heal();
  auto healed_at = Clock::now();
  bool recovered = d.wait_until(
      [&] {
        auto share_inbox = inbox_of(status_of(d, 2s), "share");
        return text_of(share_inbox, "state") == "active" &&
               files_in(share_done) == share_files.size() + 1;
      },
      60s);
  auto recovered_ms = ms_since(healed_at);
  auto runs = runs_per_name({&d});
  for (const auto& name : share_files) CHECK(runs[name] == 1);
  WARN("share inbox recovered " << recovered_ms << " ms after the link came back");
  CHECK(recovered);
  CHECK(d.stop() == 0);
}

TEST_CASE("running out of inotify watches falls back to polling and shows degraded health",
          "[share][inotify]") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root to limit inotify watches");
    return;
  }
  constexpr int kLimit = 16;
  DaemonFixture d;
  for (int i = 0; i < 40; ++i) fs::create_directories(d.inbox() / ("sub" + std::to_string(i)));
  auto deep = d.inbox() / "sub39" / "a" / "b" / "c" / "d";
  fs::create_directories(deep);
  d.configure({DaemonFixture::fixture("count-handler")},
              "recursive: true\nwatch: inotify\npoll_interval: 500ms\nsettle: 0");
  // inotify watches are counted per user namespace (and each parent's), so
  // a user namespace of its own with user.max_inotify_watches lowered limits
  // only this daemon; the machine-wide fs.inotify.max_user_watches stays.
  bool own_namespace = std::system(
                           "unshare --user --map-root-user -- sh -c "
                           "'echo 1 > /proc/sys/user/max_inotify_watches' >/dev/null 2>&1") == 0;
  if (own_namespace) {
    d.set_launcher({"unshare", "--user", "--map-root-user", "--", "/bin/sh", "-c",
                    "echo " + std::to_string(kLimit) +
                        " > /proc/sys/user/max_inotify_watches && exec \"$0\" \"$@\""});
    d.start();
  } else {
    // No user namespaces here: lower the machine-wide limit to what root
    // uses now plus a little, only while the daemon starts (the daemon's
    // watches are added by then), and put it back on every path.
    const fs::path knob = "/proc/sys/fs/inotify/max_user_watches";
    struct Restore {
      fs::path knob;
      std::string saved;
      ~Restore() { std::ofstream(knob) << saved; }
    } restore{knob, DaemonFixture::read_file(knob)};
    long long used = 0;
    std::error_code ec;
    for (const auto& proc : fs::directory_iterator("/proc", ec)) {
      std::error_code ec2;
      for (const auto& fd : fs::directory_iterator(proc.path() / "fdinfo", ec2)) {
        auto info = DaemonFixture::read_file(fd.path());
        for (auto at = info.find("inotify wd:"); at != std::string::npos;
             at = info.find("inotify wd:", at + 1)) {
          ++used;
        }
      }
    }
    WARN("no user namespaces: lowering fs.inotify.max_user_watches to "
         << used + kLimit << " while the daemon starts");
    std::ofstream(knob) << used + kLimit;
    d.start();
  }
  nlohmann::json inbox;
  bool degraded = d.wait_until(
      [&] {
        inbox = inbox_of(status_of(d), "in");
        return text_of(inbox, "watch_health") == "degraded";
      },
      10s);
  INFO(inbox.dump() << "\n" << tail(d.log()));
  REQUIRE(degraded);
  CHECK(contains(text_of(inbox, "watch_note"), "watch limit"));
  CHECK(text_of(inbox, "watch") == "poll");
  CHECK(contains(d.log(), "inotify watch limit reached"));
  std::ofstream(deep / "deep.txt") << "x";
  CHECK(d.wait_until([&] { return fs::exists(d.done() / "sub39/a/b/c/d/deep.txt"); }, 15s));
  CHECK(runs_per_name({&d})["deep.txt"] == 1);
  WARN("limited by " << (own_namespace ? "a user namespace" : "the machine-wide limit"));
  CHECK(d.stop() == 0);
}
