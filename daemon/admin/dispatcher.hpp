#pragma once
// Dispatcher: the admin command table and the one place that turns a request
// line into a reply. Each command is one row (name, changing or not, handler);
// a handler throws AdminError to refuse and the dispatcher builds the error
// reply, so no handler writes error JSON. Changing commands are checked
// against the AccessPolicy first and every one of them, refused or not, is
// written to the "admin" log as an audit line:
//
//   admin command=pause inbox=scans uid=1000 pid=4242 result=ok
//
// Knows nothing of sockets or libuv: the server feeds it lines. Loop thread.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "daemon/admin/access_policy.hpp"
#include "daemon/admin/admin_backend.hpp"

namespace spdlog {
class logger;
}

namespace inboxd::admin {

class Request;

struct Reply {
  nlohmann::json body;
  bool start_watch = false;  // the connection becomes a `watch` stream
};

class Dispatcher {
 public:
  // backend must outlive the dispatcher. started_at is the daemon's start,
  // for uptime_s.
  Dispatcher(Backend& backend, MonoTime started_at, const std::vector<std::string>& admin_groups);

  // Answers one request line (without its newline). Never throws: whatever
  // goes wrong becomes an error reply.
  Reply handle(std::string_view line, const Peer& peer) noexcept;

  // Reload: admin_groups may have changed.
  void set_admin_groups(const std::vector<std::string>& admin_groups);

 private:
  using Handler = Reply (Dispatcher::*)(const Request&);
  struct Command {
    std::string_view name;
    bool changing;
    Handler handler;
  };
  static const Command* find_command(std::string_view name);

  Reply run(const Command& command, const Request& request, const Peer& peer);
  void audit(const Request& request, const Peer& peer, std::string_view result,
             std::string_view detail) const;

  Reply status(const Request& request);
  Reply jobs(const Request& request);
  Reply job(const Request& request);
  Reply retry(const Request& request);
  Reply cancel(const Request& request);
  Reply pause(const Request& request);
  Reply resume(const Request& request);
  Reply reload(const Request& request);
  Reply metrics(const Request& request);
  Reply watch(const Request& request);

  Backend& backend_;
  MonoTime started_at_;
  AccessPolicy access_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace inboxd::admin
