#pragma once
// admin: the admin socket of inboxd (PRODUCT.md "Admin socket").
//
//   AdminServer  libuv Unix stream listener; owns the connections
//   Connection   one client: line framing, limits, watch streams
//   Dispatcher   the command table, access checks and the audit log
//   Request      typed access to one request object
//   protocol     the JSON shapes (jobs, attempts, status, events, errors)
//   MetricsText  Prometheus text exposition for `metrics`
//   Backend      what the application implements to answer commands
//
// Start-up rules for the socket path: nothing there, fine; a socket nobody
// answers on (left by a crashed daemon) is replaced; a socket a live server
// answers on is refused (Failure::kInUse); anything else (regular file,
// symlink, directory, fifo) is refused without being touched
// (Failure::kNotASocket; the daemon exits 73). After bind the socket file gets
// exactly options.mode. close() unlinks the socket file if it is still the one
// this server created.
//
// Ownership and threading: created, used and destroyed on the loop thread.
// The backend must outlive the server. close() may be called anywhere, even
// from inside a Backend method; destroying the server must not happen there
// (the command being answered still runs on it). close() (or the destructor) closes the
// listener and every connection; their handles are freed in close callbacks,
// so the loop must run once more before uv_loop_close. No exception crosses a
// libuv callback.

#include <sys/types.h>
#include <uv.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "common/uv_handle.hpp"
#include "daemon/admin/admin_backend.hpp"
#include "daemon/admin/connection.hpp"
#include "daemon/admin/dispatcher.hpp"

namespace spdlog {
class logger;
}

namespace inboxd::admin {

class AdminServer {
 public:
  struct Options {
    std::filesystem::path path;
    unsigned mode = 0660;
    std::vector<std::string> admin_groups;
    MonoTime started_at = mono_now();  // the daemon's start, for uptime_s
    std::size_t max_connections = 64;  // beyond it a client is accepted and closed at once
    ConnectionLimits limits;
  };

  enum class Failure { kInUse, kNotASocket, kIo };

  // Binds and listens. On failure *failure (if given) says why: a live server
  // at the path, something other than a socket there (left untouched), or
  // any other error (path too long, missing directory, permissions).
  static Result<std::unique_ptr<AdminServer>> start(uv_loop_t* loop, Backend& backend,
                                                    Options options, Failure* failure = nullptr);

  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Sends one event line to every `watch` client (see protocol.hpp for
  // job_event and inbox_event). A client that does not keep up is dropped.
  // Safe to call from inside a Backend method.
  void publish(const nlohmann::json& event);
  // Whether any client is watching: events are cheaper not built at all.
  bool has_watchers() const;

  // Reload: applies new admin_groups and socket_mode. The path cannot change
  // without a restart.
  void update_access(const std::vector<std::string>& admin_groups, unsigned mode);

  // Closes the listener and every connection and removes the socket file.
  // Safe to call more than once.
  void close();

  const std::filesystem::path& path() const { return options_.path; }
  std::size_t connections() const;  // open ones, watch streams included
  std::size_t watchers() const;

 private:
  AdminServer(uv_loop_t* loop, Backend& backend, Options options);

  Result<void> listen(Failure* failure);
  static void on_connection(uv_stream_t* listener, int status);
  void accept_one();
  void refuse_busy(const UvHandle<uv_pipe_t>& client) const;
  // Destroys connections that have closed. Only called from the server's own
  // entry points, never while a Connection member function runs.
  void sweep();
  void remove_socket_file();

  uv_loop_t* loop_;
  Options options_;
  Dispatcher dispatcher_;
  std::shared_ptr<spdlog::logger> log_;
  UvHandle<uv_pipe_t> listener_;
  std::vector<std::unique_ptr<Connection>> connections_;
  bool listening_ = false;
  dev_t socket_dev_ = 0;  // identity of the socket file bind() created
  ino_t socket_ino_ = 0;
};

}  // namespace inboxd::admin
