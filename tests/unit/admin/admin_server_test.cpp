// The admin server on a real Unix socket: the socket file's life, the limits
// that keep one client from stalling the loop, and watch streams.

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "daemon/admin/protocol.hpp"
#include "tests/unit/admin/admin_fixture.hpp"

using namespace inboxd::admin;
using namespace inboxd::admin::test;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

unsigned mode_of(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("the server answers status on its socket", "[admin]") {
  AdminFixture f;
  f.start();
  auto client = f.connect();
  auto reply = client.request({{"cmd", "status"}});
  CHECK(reply["ok"] == true);
  CHECK(reply["inboxes"].size() == 2);
}

TEST_CASE("a stale socket left by a crashed daemon is replaced", "[admin]") {
  AdminFixture f;
  make_stale_socket(f.socket_path());
  f.start();
  CHECK(f.connect().request({{"cmd", "status"}})["ok"] == true);
}

TEST_CASE("a socket another server answers on is refused as in use", "[admin]") {
  AdminFixture f;
  auto live = make_live_socket(f.socket_path());
  AdminServer::Failure failure{};
  auto started = f.try_start(f.options(), &failure);
  REQUIRE_FALSE(started);
  CHECK(failure == AdminServer::Failure::kInUse);
  CHECK(fs::is_socket(fs::symlink_status(f.socket_path())));
}

TEST_CASE("a regular file at the socket path is refused and left untouched", "[admin]") {
  AdminFixture f;
  std::ofstream(f.socket_path()) << "precious";
  AdminServer::Failure failure{};
  auto started = f.try_start(f.options(), &failure);
  REQUIRE_FALSE(started);
  CHECK(failure == AdminServer::Failure::kNotASocket);
  CHECK(started.error().message.find(f.socket_path().string()) != std::string::npos);
  CHECK(read_file(f.socket_path()) == "precious");
}

TEST_CASE("a symlink at the socket path is refused and neither it nor its target is touched",
          "[admin]") {
  AdminFixture f;
  std::ofstream(f.dir() / "target") << "precious";
  fs::create_symlink(f.dir() / "target", f.socket_path());
  AdminServer::Failure failure{};
  REQUIRE_FALSE(f.try_start(f.options(), &failure));
  CHECK(failure == AdminServer::Failure::kNotASocket);
  CHECK(fs::is_symlink(f.socket_path()));
  CHECK(read_file(f.dir() / "target") == "precious");
}

TEST_CASE("a directory at the socket path is refused", "[admin]") {
  AdminFixture f;
  fs::create_directory(f.socket_path());
  AdminServer::Failure failure{};
  REQUIRE_FALSE(f.try_start(f.options(), &failure));
  CHECK(failure == AdminServer::Failure::kNotASocket);
  CHECK(fs::is_directory(f.socket_path()));
}

TEST_CASE("a socket path longer than a Unix address allows is an error, not a truncation",
          "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.path = f.dir() / std::string(120, 'x');
  AdminServer::Failure failure{};
  auto started = f.try_start(options, &failure);
  REQUIRE_FALSE(started);
  CHECK(failure == AdminServer::Failure::kIo);
  CHECK(started.error().message.find("too long") != std::string::npos);
}

TEST_CASE("the socket file gets exactly the configured mode", "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.mode = 0600;
  f.start(options);
  CHECK(mode_of(f.socket_path()) == 0600);
  f.server().update_access({}, 0660);
  CHECK(mode_of(f.socket_path()) == 0660);
}

TEST_CASE("closing the server removes its socket file", "[admin]") {
  AdminFixture f;
  f.start();
  REQUIRE(fs::exists(f.socket_path()));
  f.stop_server();
  CHECK_FALSE(fs::exists(f.socket_path()));
}

TEST_CASE("closing the server keeps a file someone else put at the socket path", "[admin]") {
  AdminFixture f;
  f.start();
  fs::remove(f.socket_path());
  std::ofstream(f.socket_path()) << "someone else's";
  f.stop_server();
  CHECK(read_file(f.socket_path()) == "someone else's");
}

TEST_CASE("closing the server closes its open connections", "[admin]") {
  AdminFixture f;
  f.start();
  auto client = f.connect();
  auto watcher = f.connect();
  watcher.send({{"cmd", "watch"}});
  REQUIRE(watcher.read_line());
  f.stop_server();
  CHECK(client.closed_by_server());
  CHECK(watcher.closed_by_server());
}

TEST_CASE("a connection serves many requests, one reply line each, in order", "[admin]") {
  AdminFixture f;
  f.start();
  f.backend().add_job("a.pdf", inboxd::queue::JobState::kDone);
  auto client = f.connect();
  client.send_raw("{\"cmd\":\"job\",\"id\":1}\n{\"cmd\":\"status\"}\r\n\n{\"cmd\":\"metrics\"}\n");
  auto first = nlohmann::json::parse(client.read_line().value());
  auto second = nlohmann::json::parse(client.read_line().value());
  auto third = nlohmann::json::parse(client.read_line().value());
  CHECK(first.contains("job"));
  CHECK(second.contains("inboxes"));
  CHECK(third.contains("text"));
}

TEST_CASE("a request split across several writes is answered once complete", "[admin]") {
  AdminFixture f;
  f.start();
  auto client = f.connect();
  client.send_raw("{\"cmd\":");
  client.send_raw("\"status\"");
  CHECK_FALSE(client.read_line(50ms));
  client.send_raw("}\n");
  CHECK(nlohmann::json::parse(client.read_line().value())["ok"] == true);
}

TEST_CASE("a client that half-closes after its request still gets the reply", "[admin]") {
  AdminFixture f;
  f.start();
  auto client = f.connect();
  // The whole exchange of `echo '{...}' | nc -U`: write, shut down, read.
  client.send_raw("{\"cmd\":\"status\"}\n");
  client.shutdown_write();
  auto line = client.read_line();
  REQUIRE(line);
  CHECK(nlohmann::json::parse(*line)["ok"] == true);
}

TEST_CASE("a request line over 64 KiB answers bad_request and closes that connection", "[admin]") {
  AdminFixture f;
  f.start();
  auto client = f.connect();
  auto other = f.connect();
  client.send_raw(std::string(65 * 1024, 'x') + "\n");
  auto line = client.read_line();
  REQUIRE(line);
  auto reply = nlohmann::json::parse(*line);
  CHECK(reply["error"]["code"] == "bad_request");
  CHECK(client.closed_by_server());
  CHECK(other.request({{"cmd", "status"}})["ok"] == true);
}

TEST_CASE("a request line of exactly 64 KiB is still read as a request", "[admin]") {
  AdminFixture f;
  f.start();
  auto client = f.connect();
  std::string prefix = "{\"cmd\":\"status\",\"pad\":\"";
  std::string line = prefix + std::string(64 * 1024 - prefix.size() - 2, 'x') + "\"}";
  REQUIRE(line.size() == kMaxRequestBytes);
  client.send_raw(line + "\n");
  auto reply = nlohmann::json::parse(client.read_line().value());
  CHECK(reply["error"]["message"].get<std::string>().find("unknown field \"pad\"") !=
        std::string::npos);
  CHECK(client.request({{"cmd", "status"}})["ok"] == true);
}

TEST_CASE("an idle request connection is closed after the idle timeout", "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.limits.idle_timeout = 100ms;
  f.start(options);
  auto client = f.connect();
  CHECK(client.closed_by_server(3s));
  CHECK(f.server().connections() == 0);
}

TEST_CASE("a watch stream has no idle timeout", "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.limits.idle_timeout = 50ms;
  f.start(options);
  auto watcher = f.connect();
  watcher.send({{"cmd", "watch"}});
  REQUIRE(watcher.read_line());
  CHECK_FALSE(watcher.closed_by_server(300ms));
  f.server().publish(inbox_event("scans", "paused"));
  CHECK(watcher.read_line().has_value());
}

TEST_CASE("connections beyond the cap are told why and closed at once", "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.max_connections = 2;
  f.start(options);
  auto first = f.connect();
  auto second = f.connect();
  REQUIRE(f.run_until([&] { return f.server().connections() == 2; }));
  auto third = f.connect();
  auto refusal = third.read_line();
  REQUIRE(refusal);
  CHECK(refusal->find("too many admin connections") != std::string::npos);
  CHECK(third.closed_by_server());
  CHECK(first.request({{"cmd", "status"}})["ok"] == true);
}

TEST_CASE("a connection slot is free again once its client has gone", "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.max_connections = 1;
  f.start(options);
  auto first = f.connect();
  REQUIRE(f.run_until([&] { return f.server().connections() == 1; }));
  first.close();
  REQUIRE(f.run_until([&] { return f.server().connections() == 0; }));
  CHECK(f.connect().request({{"cmd", "status"}})["ok"] == true);
}

TEST_CASE("watch streams every published event to every watcher", "[admin]") {
  AdminFixture f;
  f.start();
  auto one = f.connect();
  auto two = f.connect();
  for (auto* client : {&one, &two}) {
    client->send({{"cmd", "watch"}});
    auto hello = nlohmann::json::parse(client->read_line().value());
    CHECK(hello == watching_event());
  }
  inboxd::queue::Job job;
  job.id = 7;
  job.inbox = "scans";
  job.name = "a.pdf";
  job.state = inboxd::queue::JobState::kRunning;
  job.attempts = 1;
  f.server().publish(job_event(job));
  f.server().publish(inbox_event("scans", "tripped"));
  for (auto* client : {&one, &two}) {
    auto event = nlohmann::json::parse(client->read_line().value());
    CHECK(event == nlohmann::json{{"event", "job"},
                                  {"id", 7},
                                  {"inbox", "scans"},
                                  {"name", "a.pdf"},
                                  {"state", "running"},
                                  {"attempt", 1}});
    auto change = nlohmann::json::parse(client->read_line().value());
    CHECK(change == nlohmann::json{{"event", "inbox"}, {"inbox", "scans"}, {"state", "tripped"}});
  }
}

TEST_CASE("events published from inside a command reach the watchers", "[admin]") {
  AdminFixture f;
  f.start();
  f.backend().on_inbox_state = [&](const std::string& inbox, const std::string& state) {
    f.server().publish(inbox_event(inbox, state));
  };
  auto watcher = f.connect();
  watcher.send({{"cmd", "watch"}});
  REQUIRE(watcher.read_line());
  CHECK(f.connect().request({{"cmd", "pause"}, {"inbox", "scans"}})["ok"] == true);
  auto event = nlohmann::json::parse(watcher.read_line().value());
  CHECK(event["state"] == "paused");
}

TEST_CASE("requests on a watch stream are ignored and publish reaches only watchers", "[admin]") {
  AdminFixture f;
  f.start();
  auto watcher = f.connect();
  auto plain = f.connect();
  watcher.send({{"cmd", "watch"}});
  REQUIRE(watcher.read_line());
  watcher.send({{"cmd", "status"}});
  f.server().publish(inbox_event("scans", "active"));
  CHECK(nlohmann::json::parse(watcher.read_line().value())["event"] == "inbox");
  CHECK_FALSE(plain.read_line(50ms));
  CHECK(f.server().watchers() == 1);
}

TEST_CASE("a watcher that never reads is dropped and the loop keeps serving others", "[admin]") {
  AdminFixture f;
  auto options = f.options();
  options.limits.max_queued_bytes = 64 * 1024;
  f.start(options);
  auto sleeper = f.connect();
  sleeper.send({{"cmd", "watch"}});
  REQUIRE(f.run_until([&] { return f.server().watchers() == 1; }));
  auto big = inbox_event("scans", std::string(4096, 's'));
  for (int i = 0; i < 10000 && f.server().watchers() == 1; ++i) {
    f.server().publish(big);
    f.pump(0ms);
  }
  CHECK(f.server().watchers() == 0);
  CHECK(f.admin_log().find("admin client not reading, dropped") != std::string::npos);
  CHECK(f.connect().request({{"cmd", "status"}})["ok"] == true);
}
