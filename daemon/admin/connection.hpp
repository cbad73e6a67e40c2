#pragma once
// Connection: one accepted admin client. Reads newline-delimited requests,
// hands each line to the Dispatcher and writes the reply line; after `watch`
// it is a stream that only receives published events (input is then ignored
// except for the end of the stream).
//
// Limits that keep one client from stalling the loop or the handlers:
//   - a request line over kMaxRequestBytes answers bad_request; the reply is
//     flushed and the connection closed;
//   - a request connection idle for limits.idle_timeout is closed (watch
//     streams have no idle timeout);
//   - a client that lets more than limits.max_queued_bytes of replies or
//     events pile up unread is dropped (one reply of any size always goes out).
//
// Ownership: the AdminServer owns every Connection. close() closes both libuv
// handles (their memory is freed in the close callbacks, by UvHandle) and
// detaches them from this object, so a closed Connection holds no loop
// resources and may be destroyed at any later time, but never while one of
// its own member functions is running: the server only destroys closed
// connections from its own callbacks. Loop thread only; no exception leaves a
// libuv callback.

#include <uv.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/uv_handle.hpp"
#include "daemon/admin/access_policy.hpp"

namespace spdlog {
class logger;
}

namespace inboxd::admin {

class Dispatcher;

struct ConnectionLimits {
  Millis idle_timeout = std::chrono::minutes(5);
  std::size_t max_queued_bytes = 8 * 1024 * 1024;
};

class Connection {
 public:
  // pipe is an accepted client; dispatcher must outlive every callback of
  // this connection (the server closes connections before it goes away).
  Connection(UvHandle<uv_pipe_t> pipe, Peer peer, Dispatcher& dispatcher, ConnectionLimits limits);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts reading and the idle timer. False (connection closed) on failure.
  bool start();

  // Queues one encoded line (ending in '\n'). Drops the client instead when
  // it already has more than max_queued_bytes unread.
  void send(const std::string& line);

  // Closes at once; queued output is discarded. Safe to call more than once.
  void close();

  bool closed() const { return mode_ == Mode::kClosed; }
  bool watching() const { return mode_ == Mode::kWatching; }
  const Peer& peer() const { return peer_; }

 private:
  enum class Mode { kRequests, kWatching, kFinishing, kClosed };

  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_idle(uv_timer_t* timer);
  static void on_written(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);

  void consume(std::string_view data);
  void handle_line(std::string_view line);
  void refuse_oversized();
  void on_end_of_input();
  // Stops reading, lets queued replies reach the client, then closes.
  void finish_then_close();
  void restart_idle_timer();
  uv_stream_t* stream() const;

  UvHandle<uv_pipe_t> pipe_;
  UvHandle<uv_timer_t> idle_timer_;
  Peer peer_;
  Dispatcher& dispatcher_;
  ConnectionLimits limits_;
  std::shared_ptr<spdlog::logger> log_;
  Mode mode_ = Mode::kRequests;
  std::string input_;              // bytes of the request line(s) not yet complete
  std::vector<char> read_buffer_;  // handed to libuv in on_alloc
};

}  // namespace inboxd::admin
