// inboxctl as people and scripts use it: the real binary, its exit codes and
// messages. Tests tagged  drive a real inboxd through its admin
// socket; they are hidden until the application serves the socket (run them
// with: integration_inboxctl "[needs-admin]").

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "common/unique_fd.hpp"
#include "tests/integration/daemon_fixture.hpp"

using inboxd::UniqueFd;
using inboxd::testing::DaemonFixture;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct CtlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Reads both pipes to the end, then reaps the child (killed past the limit).
CtlRun collect(pid_t pid, UniqueFd out, UniqueFd err, std::chrono::milliseconds limit) {
  CtlRun run;
  auto deadline = std::chrono::steady_clock::now() + limit;
  char chunk[4096];
  for (auto* target : {&out, &err}) {
    auto& text = target == &out ? run.out : run.err;
    ssize_t n = 0;
    while (std::chrono::steady_clock::now() < deadline &&
           (n = ::read(target->get(), chunk, sizeof chunk)) != 0) {
      if (n > 0) text.append(chunk, static_cast<std::size_t>(n));
      if (n < 0 && errno != EINTR && errno != EAGAIN) break;
      if (n < 0 && errno == EAGAIN) std::this_thread::sleep_for(5ms);
    }
  }
  int status = 0;
  if (!DaemonFixture::wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 1s)) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

// Runs build/bin/inboxctl with args (as `uid` when given: the test runs as
// root), with INBOXD_SOCKET unset and no colour.
CtlRun inboxctl(const std::vector<std::string>& args, std::optional<uid_t> uid = std::nullopt,
                std::chrono::milliseconds limit = 20s) {
  int out[2], err[2];
  REQUIRE(::pipe2(out, O_CLOEXEC | O_NONBLOCK) == 0);
  REQUIRE(::pipe2(err, O_CLOEXEC | O_NONBLOCK) == 0);
  std::string binary = std::string(INBOXD_BIN_DIR) + "/inboxctl";
  std::vector<std::string> words = {binary};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (uid && (::setgid(*uid) != 0 || ::setuid(*uid) != 0)) ::_exit(120);
    char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), const_cast<char*>("NO_COLOR=1"),
                    nullptr};
    ::execve(binary.c_str(), argv.data(), envp);
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  return collect(pid, UniqueFd(out[0]), UniqueFd(err[0]), limit);
}

// A folder for sockets that the test removes at the end.
struct SocketDir {
  SocketDir() {
    char pattern[] = "/tmp/inboxctl-it-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
    fs::permissions(path, fs::perms::all);  // others must reach the socket
  }
  ~SocketDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  // A socket at name, listening while the fd lives (or stale once it closes).
  UniqueFd socket(const std::string& name, bool listening) const {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    auto text = (path / name).string();
    std::memcpy(addr.sun_path, text.c_str(), text.size() + 1);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    if (listening) REQUIRE(::listen(fd.get(), 4) == 0);
    return fd;
  }
  fs::path path;
};

std::string socket_of(const DaemonFixture& d) { return (d.root() / "state/inboxd.sock").string(); }

// inboxctl --socket <the daemon's> args...
CtlRun ctl(const DaemonFixture& d, std::vector<std::string> args) {
  args.insert(args.begin(), {"--socket", socket_of(d)});
  return inboxctl(args);
}

nlohmann::json ctl_json(const DaemonFixture& d, std::vector<std::string> args) {
  args.insert(args.begin(), "--json");
  auto run = ctl(d, args);
  INFO(run.err);
  return nlohmann::json::parse(run.out);
}

// Waits until the job with this id reaches state.
bool wait_for_state(const DaemonFixture& d, int id, const std::string& state) {
  return DaemonFixture::wait_until([&] {
    auto reply = ctl_json(d, {"show", std::to_string(id)});
    return reply.contains("job") && reply["job"]["state"] == state;
  });
}

}  // namespace

// --- Without a daemon ---------------------------------------------------------

TEST_CASE("inboxctl exits 69 and says the socket does not exist when it is missing", "[inboxctl]") {
  SocketDir dir;
  auto run = inboxctl({"--socket", (dir.path / "missing.sock").string(), "status"});
  CHECK(run.exit_code == 69);
  CHECK(contains(run.err, "does not exist"));
  CHECK(run.out.empty());
}

TEST_CASE("inboxctl exits 69 and says refused when nobody listens on the socket", "[inboxctl]") {
  SocketDir dir;
  dir.socket("dead.sock", false);
  auto run = inboxctl({"--socket", (dir.path / "dead.sock").string(), "status"});
  CHECK(run.exit_code == 69);
  CHECK(contains(run.err, "refused"));
}

TEST_CASE("inboxctl exits 69 and says permission denied when the socket is not for them",
          "[inboxctl]") {
  if (::geteuid() != 0) {
    WARN("needs root to run inboxctl as another user");
    return;
  }
  SocketDir dir;
  auto live = dir.socket("private.sock", true);
  fs::permissions(dir.path / "private.sock", fs::perms::owner_read | fs::perms::owner_write);
  auto run = inboxctl({"--socket", (dir.path / "private.sock").string(), "status"}, 65534);
  CHECK(run.exit_code == 69);
  CHECK(contains(run.err, "permission denied"));
}

TEST_CASE("inboxctl takes the socket from INBOXD_SOCKET", "[inboxctl]") {
  SocketDir dir;
  auto path = (dir.path / "env.sock").string();
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out[1], 2);
    std::string binary = std::string(INBOXD_BIN_DIR) + "/inboxctl";
    std::string env = "INBOXD_SOCKET=" + path;
    char* argv[] = {binary.data(), const_cast<char*>("status"), nullptr};
    char* envp[] = {env.data(), nullptr};
    ::execve(binary.c_str(), argv, envp);
    ::_exit(127);
  }
  ::close(out[1]);
  auto run =
      collect(pid, UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC)), UniqueFd(out[0]), 20s);
  CHECK(run.exit_code == 69);
  CHECK(contains(run.err, path));
}

TEST_CASE("inboxctl exits 2 for usage errors", "[inboxctl]") {
  for (const auto& args : std::vector<std::vector<std::string>>{{},
                                                                {"frobnicate"},
                                                                {"show"},
                                                                {"show", "abc"},
                                                                {"show", "0"},
                                                                {"retry"},
                                                                {"retry", "3", "--failed"},
                                                                {"retry", "--inbox", "scans"},
                                                                {"cancel"},
                                                                {"pause"},
                                                                {"jobs", "--limit", "0"},
                                                                {"jobs", "--state", "sleeping"},
                                                                {"status", "--bogus"}}) {
    auto run = inboxctl(args);
    INFO("inboxctl " << fmt::format("{}", fmt::join(args, " ")) << "\n" << run.err);
    CHECK(run.exit_code == 2);
    CHECK_FALSE(run.err.empty());
  }
}

TEST_CASE("inboxctl --help lists every command and exits 0", "[inboxctl]") {
  auto run = inboxctl({"--help"});
  CHECK(run.exit_code == 0);
  for (const char* command : {"status", "jobs", "show", "retry", "cancel", "pause", "resume",
                              "reload", "metrics", "watch"}) {
    CHECK(contains(run.out, command));
  }
  CHECK(contains(run.out, "69"));
}

TEST_CASE("inboxctl --version names the version", "[inboxctl]") {
  auto run = inboxctl({"--version"});
  CHECK(run.exit_code == 0);
  CHECK(contains(run.out, "inboxctl 0."));
}

// --- With a real daemon (hidden until the application serves the socket) -----

TEST_CASE("inboxctl status shows the inbox with its state and counts", "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  d.start();
  d.drop("a.pdf", "a");
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 1; }));
  auto run = ctl(d, {"status"});
  CHECK(run.exit_code == 0);
  CHECK(contains(run.out, "INBOX"));
  CHECK(contains(run.out, "in     active"));
  auto status = ctl_json(d, {"status"});
  CHECK(status["version"].get<std::string>().rfind("inboxd ", 0) == 0);
  CHECK(status["inboxes"][0]["counts"]["done"] == 1);
  CHECK(status["inboxes"][0]["watch_health"] == "ok");
}

TEST_CASE("inboxctl show prints a handled job with its attempt", "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0\nretries: 0",
              {{"EXIT_CODE", "3"}});
  d.start();
  d.drop("report.pdf", "x");
  REQUIRE(d.wait_until([&] { return d.files_in(d.failed()).size() == 2; }));
  auto job = ctl_json(d, {"jobs"})["jobs"][0];
  auto run = ctl(d, {"show", std::to_string(job["id"].get<int>())});
  CHECK(run.exit_code == 0);
  CHECK(contains(run.out, "report.pdf"));
  CHECK(contains(run.out, "attempt 1: exit 3"));
  CHECK(contains(run.out, "failing on purpose with 3"));
  auto shown = ctl_json(d, {"show", std::to_string(job["id"].get<int>())})["job"];
  CHECK(shown["history"][0]["exit_code"] == 3);
  CHECK(shown["history"][0]["signal"].is_null());
}

TEST_CASE("inboxctl retry runs a failed job again and it can succeed", "") {
  DaemonFixture d;
  auto marker = (d.records() / "ok").string();
  d.configure({"/bin/sh", "-c", "test -e " + marker}, "settle: 0\nretries: 0");
  d.start();
  d.drop("a.pdf", "a");
  REQUIRE(d.wait_until([&] { return d.files_in(d.failed()).size() == 2; }));
  std::ofstream(marker) << "";
  auto run = ctl(d, {"retry", "1"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "retried 1 job: 1\n");
  CHECK(wait_for_state(d, 1, "done"));
  // A job's state may show a moment before its file lands.
  CHECK(d.wait_until([&] { return d.files_in(d.done()) == std::vector<std::string>{"a.pdf"}; }));
  CHECK(d.files_in(d.failed()).empty());
}

// The retry comes as soon as the job shows failed, sometimes before its
// file has landed in the failed folder: it is either refused with conflict
// or runs the job again, never answered ok and then dropped.
TEST_CASE("inboxctl retry right after a failure either runs the job again or answers conflict",
          "") {
  DaemonFixture d;
  auto marker = (d.records() / "ok").string();
  d.configure({"/bin/sh", "-c", "test -e " + marker},
              "settle: 0\nretries: 0\nerror_threshold: off");
  d.start();
  constexpr int kJobs = 8;
  for (int id = 1; id <= kJobs; ++id) {
    fs::remove(marker);
    d.drop("f" + std::to_string(id) + ".pdf", "x");
    REQUIRE(wait_for_state(d, id, "failed"));
    std::ofstream(marker) << "";
    auto run = ctl(d, {"retry", std::to_string(id)});
    INFO("job " << id << ": " << run.out << run.err);
    if (run.exit_code == 0) {
      CHECK(wait_for_state(d, id, "done"));
    } else {
      CHECK(run.exit_code == 1);
      CHECK(contains(run.err, "conflict"));
      CHECK(d.wait_until(
          [&] { return fs::exists(d.failed() / ("f" + std::to_string(id) + ".pdf")); }));
    }
  }
}

TEST_CASE("inboxctl retry of a job that is done exits 1 with conflict", "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  d.start();
  d.drop("a.pdf", "a");
  REQUIRE(wait_for_state(d, 1, "done"));
  auto run = ctl(d, {"retry", "1"});
  CHECK(run.exit_code == 1);
  CHECK(contains(run.err, "conflict"));
}

TEST_CASE("inboxctl show of an unknown job exits 1 with not_found", "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  d.start();
  auto run = ctl(d, {"show", "999"});
  CHECK(run.exit_code == 1);
  CHECK(contains(run.err, "not_found"));
}

TEST_CASE("inboxctl pause holds new files queued until resume", "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  d.start();
  CHECK(ctl(d, {"pause", "in"}).out == "paused inbox in\n");
  d.drop("a.pdf", "a");
  REQUIRE(wait_for_state(d, 1, "queued"));
  CHECK(ctl_json(d, {"status"})["inboxes"][0]["state"] == "paused");
  CHECK(ctl(d, {"resume", "in"}).exit_code == 0);
  CHECK(wait_for_state(d, 1, "done"));
  CHECK(contains(d.log(), "admin command=pause inbox=in uid=0"));
}

TEST_CASE("inboxctl reload of a broken configuration exits 1 with invalid_config", "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  d.start();
  std::ofstream(d.config_file(), std::ios::app) << "    tyop: 1\n";
  auto run = ctl(d, {"reload"});
  CHECK(run.exit_code == 1);
  CHECK(contains(run.err, "invalid_config"));
  CHECK(contains(run.err, "inboxd.yaml:"));
  CHECK(ctl(d, {"status"}).exit_code == 0);
}

TEST_CASE("inboxctl metrics prints the Prometheus text", "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  d.start();
  auto run = ctl(d, {"metrics"});
  CHECK(run.exit_code == 0);
  CHECK(contains(run.out, "# TYPE inboxd_jobs_total counter"));
  CHECK(contains(run.out, "inboxd_inbox_up{inbox=\"in\"}"));
}

TEST_CASE("inboxctl watch into a pipe prints the job transitions", "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  d.start();
  std::thread dropper([&] {
    d.wait_until([&] { return contains(d.log(), "admin watch started"); });
    d.drop("a.pdf", "a");
    d.wait_until([&] { return d.files_in(d.done()).size() == 1; });
    d.stop();
  });
  auto run = ctl(d, {"watch"});
  dropper.join();
  CHECK(run.exit_code == 69);  // the daemon stopped and closed the stream
  CHECK(contains(run.out, "job 1 in running attempt=1 a.pdf"));
  CHECK(contains(run.out, "job 1 in done attempt=1 a.pdf"));
}

// --- The admin socket under load and abuse, against the real daemon ----------

namespace {

// One connection to the daemon's socket, speaking raw protocol lines.
class RawClient {
 public:
  explicit RawClient(const std::string& path)
      : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{10, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  bool connected() const { return connected_; }
  // Sends one line; returns the reply line ("" when the daemon closed or
  // did not answer within 10 s).
  std::string ask(const std::string& line) {
    std::string out = line + "\n";
    if (::send(fd_.get(), out.data(), out.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(out.size())) {
      return "";
    }
    std::string reply;
    char c = 0;
    while (::recv(fd_.get(), &c, 1, 0) == 1 && c != '\n') reply += c;
    return reply;
  }

 private:
  UniqueFd fd_;
  bool connected_ = false;
};

bool is_status_reply(const std::string& line) {
  auto reply = nlohmann::json::parse(line, nullptr, false);
  return !reply.is_discarded() && reply.value("ok", false) && reply.contains("inboxes");
}

}  // namespace

TEST_CASE("200 clients at once are all answered or cleanly refused while handlers run", "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0\nconcurrency: 2");
  d.start();
  for (int i = 0; i < 20; ++i) d.drop("f" + std::to_string(i) + ".txt", "x");
  std::atomic<int> answered{0}, refused{0}, broken{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 200; ++i) {
    clients.emplace_back([&] {
      RawClient client(socket_of(d));
      if (!client.connected()) {
        ++refused;
        return;
      }
      auto reply = client.ask(R"({"cmd":"status"})");
      if (is_status_reply(reply)) {
        ++answered;
      } else if (reply.empty() || contains(reply, "\"ok\":false")) {
        ++refused;  // closed at once or told to come back: a clean refusal
      } else {
        ++broken;
      }
    });
  }
  for (auto& client : clients) client.join();
  WARN("answered=" << answered << " refused=" << refused);
  CHECK(broken == 0);
  CHECK(answered + refused == 200);
  CHECK(answered > 0);
  CHECK(d.wait_until([&] { return d.files_in(d.done()).size() == 20; }, 60s));
  CHECK(is_status_reply(RawClient(socket_of(d)).ask(R"({"cmd":"status"})")));
}

TEST_CASE("a client that connects and never speaks holds nobody up", "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  d.start();
  RawClient idle(socket_of(d));
  REQUIRE(idle.connected());
  auto started = std::chrono::steady_clock::now();
  CHECK(is_status_reply(RawClient(socket_of(d)).ask(R"({"cmd":"status"})")));
  d.drop("a.pdf", "a");
  CHECK(d.wait_until([&] { return d.files_in(d.done()).size() == 1; }));
  CHECK(std::chrono::steady_clock::now() - started < 10s);
}

TEST_CASE("an unprivileged user may read status but is refused pause with forbidden", "") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root to run inboxctl as another user");
    return;
  }
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  auto text = DaemonFixture::read_file(d.config_file());
  d.write_config("socket_mode: \"0666\"\n" + text);
  d.start();
  for (const auto& dir : {d.root(), d.root() / "state"}) {
    fs::permissions(dir, fs::perms::others_exec, fs::perm_options::add);
  }
  auto status = inboxctl({"--socket", socket_of(d), "--json", "status"}, 65534);
  CHECK(status.exit_code == 0);
  CHECK(is_status_reply(status.out.substr(0, status.out.find('\n'))));
  auto pause = inboxctl({"--socket", socket_of(d), "pause", "in"}, 65534);
  CHECK(pause.exit_code == 1);
  CHECK(contains(pause.err, "forbidden"));
  CHECK(ctl_json(d, {"status"})["inboxes"][0]["state"] == "active");
  CHECK(contains(d.log(), "admin command=pause inbox=in uid=65534"));
}

TEST_CASE("cancel of a running job stops its whole handler group and fails the file with a report",
          "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("hang-with-grandchild"), "{path}"},
              "settle: 0\nkill_grace: 1s");
  d.start();
  d.drop("stuck.pdf", "x");
  REQUIRE(d.wait_until([&] { return fs::exists(d.records() / "1.grandchild"); }));
  auto grandchild = std::stoi(DaemonFixture::read_file(d.records() / "1.grandchild"));
  auto run = ctl(d, {"cancel", "1"});
  CHECK(run.exit_code == 0);
  REQUIRE(wait_for_state(d, 1, "canceled"));
  CHECK(d.wait_until([&] { return ::kill(grandchild, 0) != 0 && errno == ESRCH; }, 10s));
  REQUIRE(d.wait_until([&] { return fs::exists(d.failed() / "stuck.pdf.error.txt"); }));
  CHECK(contains(DaemonFixture::read_file(d.failed() / "stuck.pdf.error.txt"), "canceled"));
}

TEST_CASE(
    "metrics_file is written when the daemon is ready and holds the final counts after a stop",
    "") {
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  auto metrics = d.root() / "inboxd.prom";
  d.write_config("metrics_file: " + metrics.string() + "\n" +
                 DaemonFixture::read_file(d.config_file()));
  d.start();
  REQUIRE(fs::exists(metrics));
  CHECK(contains(DaemonFixture::read_file(metrics), "inboxd_inbox_up{inbox=\"in\"} 1"));
  CHECK((fs::status(metrics).permissions() & fs::perms::others_read) != fs::perms::none);
  d.drop("a.pdf", "a");
  REQUIRE(d.wait_until([&] { return d.files_in(d.done()).size() == 1; }));
  REQUIRE(d.stop() == 0);
  auto text = DaemonFixture::read_file(metrics);
  CHECK(contains(text, "inboxd_jobs_total{inbox=\"in\",outcome=\"done\"} 1"));
  CHECK_FALSE(fs::exists(d.root() / "inboxd.prom.tmp"));
}

TEST_CASE("an inotify queue overflow shows as degraded with a reason, and nothing is missed", "") {
  if (::geteuid() != 0) {
    WARN("skipped: needs root to lower fs.inotify.max_queued_events");
    return;
  }
  const fs::path knob = "/proc/sys/fs/inotify/max_queued_events";
  auto saved = DaemonFixture::read_file(knob);
  DaemonFixture d;
  d.configure({DaemonFixture::fixture("record-handler"), "{path}"}, "settle: 0");
  // The limit is taken when an inotify instance is created: lowered only
  // while the daemon starts, then put back.
  std::ofstream(knob) << "16";
  try {
    d.start();
  } catch (...) {
    std::ofstream(knob) << saved;
    throw;
  }
  std::ofstream(knob) << saved;
  d.block_handlers();  // keep the loop busy elsewhere while the burst arrives
  for (int i = 0; i < 300; ++i) d.drop("burst" + std::to_string(i) + ".txt", "x");
  REQUIRE(d.wait_until([&] { return contains(d.log(), "inotify queue overflow"); }));
  auto status = ctl_json(d, {"status"})["inboxes"][0];
  CHECK(status["watch_health"] == "degraded");
  CHECK(contains(status["watch_note"].get<std::string>(), "overflow"));
  d.unblock_handlers();
  CHECK(d.wait_until([&] { return d.files_in(d.done()).size() == 300; }, 120s));
}
