#include "daemon/admin/connection.hpp"

#include "common/log.hpp"
#include "daemon/admin/dispatcher.hpp"
#include "daemon/admin/guarded.hpp"
#include "daemon/admin/protocol.hpp"

namespace inboxd::admin {
namespace {

constexpr std::size_t kReadBufferBytes = 16 * 1024;

// One queued write; the bytes live until libuv calls on_written.
struct Outgoing {
  uv_write_t req{};
  std::string bytes;
};

std::uint64_t to_timeout(Millis d) { return static_cast<std::uint64_t>(d.count()); }

}  // namespace

Connection::Connection(UvHandle<uv_pipe_t> pipe, Peer peer, Dispatcher& dispatcher,
                       ConnectionLimits limits)
    : pipe_(std::move(pipe)),
      peer_(std::move(peer)),
      dispatcher_(dispatcher),
      limits_(limits),
      log_(log::get("admin")),
      read_buffer_(kReadBufferBytes) {
  pipe_->data = this;
  uv_timer_init(pipe_->loop, idle_timer_.get());
  idle_timer_->data = this;
}

Connection::~Connection() { close(); }

uv_stream_t* Connection::stream() const { return reinterpret_cast<uv_stream_t*>(pipe_.get()); }

bool Connection::start() {
  int rc = uv_read_start(stream(), on_alloc, on_read);
  if (rc != 0) {
    log_->warn("admin client dropped uid={} pid={} error={}", peer_.uid, peer_.pid,
               log::quote(std::string("uv_read_start: ") + uv_strerror(rc)));
    close();
    return false;
  }
  restart_idle_timer();
  return true;
}

void Connection::close() {
  if (mode_ == Mode::kClosed) return;
  mode_ = Mode::kClosed;
  // Callbacks still pending on these handles (canceled writes) find no owner.
  pipe_->data = nullptr;
  idle_timer_->data = nullptr;
  pipe_.close();
  idle_timer_.close();
  input_ = std::string();
  read_buffer_ = std::vector<char>();
}

void Connection::restart_idle_timer() {
  uv_timer_start(idle_timer_.get(), on_idle, to_timeout(limits_.idle_timeout), 0);
}

void Connection::send(const std::string& line) {
  if (mode_ == Mode::kClosed) return;
  auto queued = uv_stream_get_write_queue_size(stream());
  if (queued > limits_.max_queued_bytes) {
    log_->warn("admin client not reading, dropped uid={} pid={} queued_bytes={}", peer_.uid,
               peer_.pid, queued);
    close();
    return;
  }
  auto out = std::make_unique<Outgoing>();
  out->bytes = line;
  out->req.data = out.get();
  uv_buf_t buf = uv_buf_init(out->bytes.data(), static_cast<unsigned>(out->bytes.size()));
  int rc = uv_write(&out->req, stream(), &buf, 1, on_written);
  if (rc != 0) {
    log_->debug("admin client write failed uid={} pid={} error={}", peer_.uid, peer_.pid,
                uv_strerror(rc));
    close();
    return;
  }
  static_cast<void>(out.release());  // on_written owns it now
}

void Connection::consume(std::string_view data) {
  if (mode_ != Mode::kRequests) return;  // a watch stream's input only matters for its end
  restart_idle_timer();
  input_.append(data);
  std::size_t start = 0;
  while (mode_ == Mode::kRequests) {
    auto newline = input_.find('\n', start);
    if (newline == std::string::npos) break;
    std::string line = input_.substr(start, newline - start);
    start = newline + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > kMaxRequestBytes) {
      refuse_oversized();
      return;
    }
    if (!line.empty()) handle_line(line);
  }
  if (mode_ != Mode::kRequests) {
    input_.clear();
    return;
  }
  input_.erase(0, start);
  if (input_.size() > kMaxRequestBytes) refuse_oversized();
}

void Connection::handle_line(std::string_view line) {
  auto reply = dispatcher_.handle(line, peer_);
  send(encode_line(reply.body));
  if (reply.start_watch && mode_ == Mode::kRequests) {
    mode_ = Mode::kWatching;
    uv_timer_stop(idle_timer_.get());
    log_->debug("admin watch started uid={} pid={}", peer_.uid, peer_.pid);
  }
}

void Connection::refuse_oversized() {
  log_->warn("admin request too large uid={} pid={} limit_bytes={}", peer_.uid, peer_.pid,
             kMaxRequestBytes);
  send(encode_line(
      error_reply(ErrorCode::kBadRequest,
                  "request line longer than " + std::to_string(kMaxRequestBytes) + " bytes")));
  finish_then_close();
}

void Connection::on_end_of_input() {
  if (mode_ == Mode::kRequests) {
    finish_then_close();  // a client that half-closed still gets its replies
  } else {
    close();
  }
}

void Connection::finish_then_close() {
  if (mode_ == Mode::kClosed) return;
  mode_ = Mode::kFinishing;
  input_ = std::string();
  uv_read_stop(stream());
  auto* req = new uv_shutdown_t{};
  if (uv_shutdown(req, stream(), on_shutdown) != 0) {
    delete req;
    close();
  }
}

void Connection::on_alloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(handle->data);
  if (self == nullptr || self->read_buffer_.empty()) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  *buf = uv_buf_init(self->read_buffer_.data(), static_cast<unsigned>(self->read_buffer_.size()));
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(stream->data);
  if (self == nullptr) return;
  bool handled = false;
  guarded("admin read", [&] {
    if (nread > 0) {
      self->consume(std::string_view(buf->base, static_cast<std::size_t>(nread)));
    } else if (nread == UV_EOF) {
      self->on_end_of_input();
    } else if (nread < 0) {
      self->close();
    }
    handled = true;
  });
  if (!handled) self->close();  // its state is unknown after an exception
}

void Connection::on_idle(uv_timer_t* timer) {
  auto* self = static_cast<Connection*>(timer->data);
  if (self == nullptr) return;
  self->log_->debug("admin client idle, closed uid={} pid={}", self->peer_.uid, self->peer_.pid);
  self->close();
}

void Connection::on_written(uv_write_t* req, int status) {
  // Frees the write when this callback returns, whatever happens below.
  // cppcheck-suppress unreadVariable
  std::unique_ptr<Outgoing> out(static_cast<Outgoing*>(req->data));
  auto* self = static_cast<Connection*>(req->handle->data);
  if (self != nullptr && status < 0) self->close();
}

void Connection::on_shutdown(uv_shutdown_t* req, int /*status*/) {
  auto* self = static_cast<Connection*>(req->handle->data);
  delete req;
  if (self != nullptr) self->close();
}

}  // namespace inboxd::admin
