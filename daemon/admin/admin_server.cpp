#include "daemon/admin/admin_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "common/log.hpp"
#include "common/sys_error.hpp"
#include "common/unique_fd.hpp"
#include "daemon/admin/guarded.hpp"
#include "daemon/admin/protocol.hpp"

namespace inboxd::admin {
namespace {

constexpr int kBacklog = 128;

Result<sockaddr_un> socket_address(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const auto& text = path.native();
  if (text.size() >= sizeof addr.sun_path) {
    return fail(fmt::format("admin socket {}: path too long ({} bytes, at most {})", text,
                            text.size(), sizeof addr.sun_path - 1),
                ENAMETOOLONG);
  }
  std::memcpy(addr.sun_path, text.c_str(), text.size() + 1);
  return addr;
}

// 0 when a server accepts connections at addr (EAGAIN: one does, but its
// backlog is full), otherwise the errno of connect().
int probe(const sockaddr_un& addr) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return errno;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return 0;
  return errno == EAGAIN ? 0 : errno;
}

// Makes the path free for bind: nothing there, or a stale socket removed.
Result<void> clear_socket_path(const std::filesystem::path& path, const sockaddr_un& addr,
                               AdminServer::Failure* failure) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    *failure = AdminServer::Failure::kIo;
    return fail_errno("lstat", path.native());
  }
  if (!S_ISSOCK(st.st_mode)) {
    *failure = AdminServer::Failure::kNotASocket;
    return fail(fmt::format("admin socket {}: something other than a socket is there; "
                            "refusing to touch it",
                            path.native()),
                EEXIST);
  }
  int err = probe(addr);
  if (err == 0) {
    *failure = AdminServer::Failure::kInUse;
    return fail(fmt::format("admin socket {}: another server is answering on it", path.native()),
                EADDRINUSE);
  }
  if (err != ECONNREFUSED && err != ENOENT) {
    *failure = AdminServer::Failure::kIo;
    return fail_errno("connect", path.native(), err);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    *failure = AdminServer::Failure::kIo;
    return fail_errno("unlink stale socket", path.native());
  }
  log::get("admin")->info("admin socket was stale, replaced path={}", log::quote(path.native()));
  return {};
}

// A listening-ready socket bound at addr, CLOEXEC and non-blocking.
Result<UniqueFd> bind_socket(const std::filesystem::path& path, const sockaddr_un& addr,
                             AdminServer::Failure* failure) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) {
    *failure = AdminServer::Failure::kIo;
    return fail_errno("socket", path.native());
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    *failure = errno == EADDRINUSE ? AdminServer::Failure::kInUse : AdminServer::Failure::kIo;
    return fail_errno("bind", path.native());
  }
  return fd;
}

}  // namespace

AdminServer::AdminServer(uv_loop_t* loop, Backend& backend, Options options)
    : loop_(loop),
      options_(std::move(options)),
      dispatcher_(backend, options_.started_at, options_.admin_groups),
      log_(log::get("admin")) {}

AdminServer::~AdminServer() {
  close();
  connections_.clear();
}

Result<std::unique_ptr<AdminServer>> AdminServer::start(uv_loop_t* loop, Backend& backend,
                                                        Options options, Failure* failure) {
  Failure ignored = Failure::kIo;
  std::unique_ptr<AdminServer> server(new AdminServer(loop, backend, std::move(options)));
  if (auto ok = server->listen(failure != nullptr ? failure : &ignored); !ok) {
    return fail(ok.error());
  }
  server->log_->info("admin socket listening path={} mode={:04o}",
                     log::quote(server->options_.path.native()), server->options_.mode);
  return server;
}

Result<void> AdminServer::listen(Failure* failure) {
  const auto& path = options_.path;
  auto addr = socket_address(path);
  if (!addr) {
    *failure = Failure::kIo;
    return fail(addr.error());
  }
  if (auto cleared = clear_socket_path(path, *addr, failure); !cleared) return cleared;
  auto fd = bind_socket(path, *addr, failure);
  if (!fd) return fail(fd.error());
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    socket_dev_ = st.st_dev;
    socket_ino_ = st.st_ino;
  }
  // Nobody can connect before listen(), so the mode is in place in time.
  if (::chmod(path.c_str(), options_.mode) != 0) {
    *failure = Failure::kIo;
    auto error = sys_error("chmod", path.native());
    remove_socket_file();
    return fail(error);
  }
  uv_pipe_init(loop_, listener_.get(), 0);
  listener_->data = this;
  int rc = uv_pipe_open(listener_.get(), fd->get());
  if (rc == 0) {
    fd->release();  // the pipe handle owns it now
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener_.get()), kBacklog, on_connection);
  }
  if (rc != 0) {
    *failure = Failure::kIo;
    remove_socket_file();
    return fail(fmt::format("listen {}: {}", path.native(), uv_strerror(rc)), rc);
  }
  listening_ = true;
  return {};
}

void AdminServer::on_connection(uv_stream_t* listener, int status) {
  auto* self = static_cast<AdminServer*>(listener->data);
  if (self == nullptr) return;
  if (status < 0) {
    self->log_->warn("admin accept failed error={}", log::quote(uv_strerror(status)));
    return;
  }
  guarded("admin accept", [self] { self->accept_one(); });
}

void AdminServer::accept_one() {
  UvHandle<uv_pipe_t> client;
  uv_pipe_init(loop_, client.get(), 0);
  if (int rc = uv_accept(reinterpret_cast<uv_stream_t*>(listener_.get()),
                         reinterpret_cast<uv_stream_t*>(client.get()));
      rc != 0) {
    log_->warn("admin accept failed error={}", log::quote(uv_strerror(rc)));
    return;
  }
  sweep();
  if (connections_.size() >= options_.max_connections) {
    refuse_busy(client);
    return;
  }
  uv_os_fd_t fd = -1;
  Peer peer;
  if (uv_fileno(client.base(), &fd) != 0 || !read_peer(fd, &peer)) {
    log_->warn("admin client refused: SO_PEERCRED failed error={}", log::quote(errno_text(errno)));
    return;
  }
  log_->debug("admin client connected uid={} pid={}", peer.uid, peer.pid);
  auto connection = std::make_unique<Connection>(std::move(client), std::move(peer), dispatcher_,
                                                 options_.limits);
  if (connection->start()) connections_.push_back(std::move(connection));
}

// Best effort: the client learns why before the connection closes.
void AdminServer::refuse_busy(const UvHandle<uv_pipe_t>& client) const {
  log_->warn("admin client refused: too many connections limit={}", options_.max_connections);
  auto line = encode_line(error_reply(
      ErrorCode::kInternal,
      fmt::format("too many admin connections (limit {}); try again", options_.max_connections)));
  uv_buf_t buf = uv_buf_init(line.data(), static_cast<unsigned>(line.size()));
  (void)uv_try_write(reinterpret_cast<uv_stream_t*>(client.get()), &buf, 1);
}

void AdminServer::sweep() {
  std::erase_if(connections_, [](const std::unique_ptr<Connection>& c) { return c->closed(); });
}

void AdminServer::publish(const nlohmann::json& event) {
  sweep();
  auto line = encode_line(event);
  for (auto& connection : connections_) {
    if (connection->watching()) connection->send(line);
  }
}

bool AdminServer::has_watchers() const {
  return std::any_of(connections_.begin(), connections_.end(), [](const auto& connection) {
    return !connection->closed() && connection->watching();
  });
}

void AdminServer::update_access(const std::vector<std::string>& admin_groups, unsigned mode) {
  dispatcher_.set_admin_groups(admin_groups);
  options_.admin_groups = admin_groups;
  options_.mode = mode;
  if (listening_ && ::chmod(options_.path.c_str(), mode) != 0) {
    log_->warn("admin socket mode not changed error={}",
               log::quote(sys_error("chmod", options_.path.native()).message));
  }
}

void AdminServer::close() {
  for (auto& connection : connections_) connection->close();
  if (listener_) {
    listener_->data = nullptr;
    listener_.close();
  }
  if (listening_) {
    remove_socket_file();
    log_->info("admin socket closed path={}", log::quote(options_.path.native()));
  }
  listening_ = false;
}

// Only the socket this server bound: a file someone put there since is kept.
void AdminServer::remove_socket_file() {
  struct stat st {};
  if (::lstat(options_.path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode) || st.st_dev != socket_dev_ || st.st_ino != socket_ino_) return;
  ::unlink(options_.path.c_str());
}

std::size_t AdminServer::connections() const {
  return static_cast<std::size_t>(
      std::count_if(connections_.begin(), connections_.end(),
                    [](const std::unique_ptr<Connection>& c) { return !c->closed(); }));
}

std::size_t AdminServer::watchers() const {
  return static_cast<std::size_t>(
      std::count_if(connections_.begin(), connections_.end(),
                    [](const std::unique_ptr<Connection>& c) { return c->watching(); }));
}

}  // namespace inboxd::admin
