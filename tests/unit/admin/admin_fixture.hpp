#pragma once
// AdminFixture: a real libuv loop, a TestBackend and a fresh temporary
// directory for the socket; verbs to start the AdminServer, connect clients
// and exchange lines. Clients live in the test's own thread, so every wait
// drives the loop while it polls (deadlines, never fixed sleeps). The
// destructor closes the server, runs the loop until every handle is freed,
// checks uv_loop_close() == 0 and removes the directory.
//
// Also captures what the "admin" logger writes (audit lines).

#include <sys/types.h>
#include <uv.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/unique_fd.hpp"
#include "daemon/admin/admin_server.hpp"
#include "tests/unit/admin/test_backend.hpp"

namespace inboxd::admin::test {

using namespace std::chrono_literals;

class AdminFixture;

// One client connection, non-blocking; its waits drive the fixture's loop.
class Client {
 public:
  Client(AdminFixture& fixture, UniqueFd fd) : fixture_(&fixture), fd_(std::move(fd)) {}

  void send_raw(const std::string& bytes);
  void send(const nlohmann::json& request) { send_raw(request.dump() + "\n"); }
  // The next line without its newline; nullopt when the server closed the
  // connection (or nothing came within the limit).
  std::optional<std::string> read_line(Millis limit = 5s);
  // send + read_line + parse; an empty object when no line came.
  nlohmann::json request(const nlohmann::json& request);
  // True once the server has closed the connection (unread lines discarded).
  bool closed_by_server(Millis limit = 5s);
  void shutdown_write();  // half-close: the server sees the end of input
  void close() { fd_.reset(); }

 private:
  // Reads what is available; false at end of stream.
  bool fill();

  AdminFixture* fixture_;
  UniqueFd fd_;
  std::string buffer_;
  bool eof_ = false;
};

// What one run of the inboxctl binary printed and how it ended.
struct CtlRun {
  int exit_code = -1;  // 128 + signal when killed
  std::string out;
  std::string err;
};

class AdminFixture {
 public:
  AdminFixture();
  ~AdminFixture();
  AdminFixture(const AdminFixture&) = delete;
  AdminFixture& operator=(const AdminFixture&) = delete;

  // Options for a socket in this fixture's directory.
  AdminServer::Options options() const;
  AdminServer& start() { return start(options()); }
  AdminServer& start(AdminServer::Options options);
  // start() that may fail; the failure kind lands in *failure.
  Result<void> try_start(AdminServer::Options options, AdminServer::Failure* failure);
  AdminServer& server() { return *server_; }
  void stop_server();

  Client connect();
  // Connects with the given effective uid and gid (the test runs as root and
  // switches back at once); SO_PEERCRED records them for the connection.
  Client connect_as(uid_t uid, gid_t gid);

  // Runs build/bin/inboxctl --socket <socket_path()> args... while driving the
  // loop, so the server answers it; the child is killed if it outlives the
  // limit.
  CtlRun inboxctl(const std::vector<std::string>& args, Millis limit = 10s) {
    return inboxctl_while(args, nullptr, limit);
  }
  // inboxctl() that calls tick(pid, output so far) on every turn while the
  // client runs.
  CtlRun inboxctl_while(const std::vector<std::string>& args,
                        const std::function<void(pid_t, const CtlRun&)>& tick, Millis limit = 10s);

  // Runs the loop for at most about `slice`.
  void pump(Millis slice = 5ms);
  // Pumps until done() or the limit passes; returns done().
  bool run_until(const std::function<bool()>& done, Millis limit = 5s);

  TestBackend& backend() { return backend_; }
  uv_loop_t* loop() { return &loop_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path socket_path() const { return dir_ / "admin.sock"; }
  std::string admin_log() const { return log_lines_.str(); }

 private:
  std::filesystem::path dir_;
  uv_loop_t loop_{};
  TestBackend backend_;
  std::unique_ptr<AdminServer> server_;
  std::ostringstream log_lines_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> log_sink_;
};

// A socket file at path that nobody listens on, as a crashed daemon leaves.
void make_stale_socket(const std::filesystem::path& path);
// A socket at path that accepts connections while the returned fd lives.
UniqueFd make_live_socket(const std::filesystem::path& path);

}  // namespace inboxd::admin::test
