#include "daemon/app/folder_worker.hpp"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

#include "common/guarded.hpp"

namespace inboxd::app {

// State the worker thread and the loop thread share. The thread holds its
// own reference, so a thread stuck in a call outlives the FolderWorker
// safely; `closing` (under the mutex) tells it that the async handle is gone.
struct FolderWorker::Shared {
  struct Task {
    std::string what;
    std::function<void()> work;
    std::function<void()> done;
  };

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<Task> todo;
  struct Finished {
    std::string what;
    std::function<void()> done;
    std::string error;  // what `work` threw, logged on the loop thread
  };
  std::deque<Finished> finished;
  std::optional<Busy> busy;
  bool closing = false;
  uv_async_t* async = nullptr;

  void run();
};

void FolderWorker::Shared::run() {
  std::unique_lock lock(mutex);
  for (;;) {
    wake.wait(lock, [this] { return closing || !todo.empty(); });
    if (closing) return;
    auto task = std::move(todo.front());
    todo.pop_front();
    busy = Busy{task.what, mono_now(), wall_now_ms()};
    lock.unlock();
    std::string error;
    try {
      task.work();
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    lock.lock();
    busy.reset();
    if (closing) return;
    finished.push_back({std::move(task.what), std::move(task.done), std::move(error)});
    uv_async_send(async);
  }
}

FolderWorker::FolderWorker(uv_loop_t* loop, std::shared_ptr<spdlog::logger> log)
    : shared_(std::make_shared<Shared>()), log_(std::move(log)) {
  uv_async_init(loop, async_.get(), [](uv_async_t* handle) {
    auto* self = static_cast<FolderWorker*>(handle->data);
    guarded(*self->log_, "folder task done", [self] { self->deliver(); });
  });
  async_->data = this;
  shared_->async = async_.get();
  std::thread([shared = shared_] { shared->run(); }).detach();
}

// The thread is detached from the start: joining one that is stuck in a
// call on a hung share would hang the daemon's stop (or a reload).
FolderWorker::~FolderWorker() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->closing = true;
    shared_->todo.clear();
    shared_->finished.clear();
  }
  shared_->wake.notify_one();
  async_.close();
}

void FolderWorker::enqueue(std::string what, std::function<void()> work,
                           std::function<void()> done) {
  ++outstanding_;
  {
    std::lock_guard lock(shared_->mutex);
    shared_->todo.push_back({std::move(what), std::move(work), std::move(done)});
  }
  shared_->wake.notify_one();
}

void FolderWorker::deliver() {
  for (;;) {
    Shared::Finished finished;
    {
      std::lock_guard lock(shared_->mutex);
      if (shared_->finished.empty()) return;
      finished = std::move(shared_->finished.front());
      shared_->finished.pop_front();
    }
    --outstanding_;
    if (!finished.error.empty()) {
      log_->error("folder task failed task={} error={}", finished.what, finished.error);
    }
    // `done` may destroy this worker (an inbox retired in its callback).
    auto keep = shared_;
    guarded(*log_, "folder task done", finished.done);
    if (keep->closing) return;
  }
}

std::optional<FolderWorker::Busy> FolderWorker::current() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->busy;
}

}  // namespace inboxd::app
