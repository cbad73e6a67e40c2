#pragma once
// StateDisk: what the daemon does while its state directory cannot be written
// (a full disk, I/O errors on queue.db).
//
// Any failed write to the queue is reported here. From then on claiming and
// starting handlers pause in every inbox (each Inbox asks failing()); files
// wait in the drop folders, queued jobs wait in the queue, running handlers
// go on. A finished attempt whose outcome could not be recorded is kept in
// memory by its inbox, its file left in the spool, and written again later.
// Every `retry_period` the check runs: at least kMinFreeBytes free in the
// state directory, then the application's own check (a small write to the
// database, the outcomes kept in memory). When it passes, on_recovered resumes
// the inboxes. The daemon never exits over this: a restart frees no space and
// a crash loop would interrupt every running handler.
//
// Ownership: owned by Application; loop thread only.

#include <uv.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "common/uv_handle.hpp"

namespace spdlog {
class logger;
}

namespace inboxd::app {

class StateDisk {
 public:
  // Free space below this counts as full even when a small write succeeds
  // (SQLite reuses the space of its write-ahead log).
  static constexpr std::uint64_t kMinFreeBytes = 1024 * 1024;

  StateDisk(uv_loop_t* loop, std::filesystem::path dir, Millis retry_period);
  StateDisk(const StateDisk&) = delete;
  StateDisk& operator=(const StateDisk&) = delete;

  // check: runs once space is back; on_recovered: runs after it passed.
  void set_recovery(std::function<Result<void>()> check, std::function<void()> on_recovered);

  // A write failed: pause (if not yet) and retry every retry_period.
  void report(const Error& error);
  bool failing() const { return failing_; }
  const std::string& error() const { return error_; }
  EpochMs since() const { return since_; }  // wall clock, when failing began

  // Closes the retry timer (graceful stop); report() must not follow.
  void close();

 private:
  void on_timer();
  Result<void> has_room() const;

  uv_loop_t* loop_;
  std::filesystem::path dir_;
  Millis retry_period_;
  std::function<Result<void>()> check_;
  std::function<void()> on_recovered_;
  UvHandle<uv_timer_t> timer_;
  bool failing_ = false;
  std::string error_;
  EpochMs since_ = 0;
  MonoTime since_mono_{};
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace inboxd::app
