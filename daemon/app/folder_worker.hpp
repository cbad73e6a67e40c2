#pragma once
// FolderWorker runs one inbox's filesystem calls (scans, stats, the renames
// of claims, outcome moves, reports) on a thread of its own, one task at a
// time in the order posted, and hands each result back to the loop thread.
// A share that hangs (a partitioned NFS or SMB mount can block a stat() for
// minutes) then blocks only its own inbox: the admin socket, the watchdog,
// the queue and every other inbox go on. The queue is never touched here.
//
// Threads: post(), current(), idle() and the destructor belong to the loop
// thread. A task's `work` runs on the worker thread and must capture values
// only (never the Inbox, which may be gone by the time a stuck call
// returns); its `done` runs on the loop thread, unless the worker was
// destroyed first, in which case it is dropped.
//
// A call stuck in the kernel cannot be cancelled. The destructor leaves such
// a thread to finish on its own (shared) state, or to end with the process.

#include <uv.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.hpp"
#include "common/uv_handle.hpp"

namespace spdlog {
class logger;
}

namespace inboxd::app {

class FolderWorker {
 public:
  FolderWorker(uv_loop_t* loop, std::shared_ptr<spdlog::logger> log);
  ~FolderWorker();
  FolderWorker(const FolderWorker&) = delete;
  FolderWorker& operator=(const FolderWorker&) = delete;

  // Runs `work` on the worker thread, then `done(result)` on the loop
  // thread. `what` names the task while it runs ("scan /srv/in"). Should
  // `work` throw, the error is logged and `done` gets a default T.
  template <class T>
  void post(const std::string& what, std::function<T()> work, std::function<void(const T&)> done) {
    auto result = std::make_shared<T>();
    enqueue(
        what, [work = std::move(work), result] { *result = work(); },
        [done = std::move(done), result] { done(*result); });
  }

  // The task running now on the worker thread, and since when.
  struct Busy {
    std::string what;
    MonoTime since;
    EpochMs since_wall = 0;
  };
  std::optional<Busy> current() const;
  // Nothing is queued, running, or finished but not yet handed back.
  bool idle() const { return outstanding_ == 0; }

 private:
  struct Shared;
  void enqueue(std::string what, std::function<void()> work, std::function<void()> done);
  void deliver();

  std::shared_ptr<Shared> shared_;
  std::shared_ptr<spdlog::logger> log_;
  UvHandle<uv_async_t> async_;
  std::size_t outstanding_ = 0;  // posted, `done` not yet run
};

}  // namespace inboxd::app
