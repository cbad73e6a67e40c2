#include "daemon/app/group_commit.hpp"

#include <spdlog/spdlog.h>

#include "common/guarded.hpp"
#include "common/log.hpp"

namespace inboxd::app {

GroupCommit::GroupCommit(uv_loop_t* loop, std::shared_ptr<queue::WalSync> wal,
                         std::shared_ptr<spdlog::logger> log)
    : wal_(std::move(wal)), log_(std::move(log)), worker_(std::make_unique<FolderWorker>(loop, log_)) {
  uv_timer_init(loop, lazy_timer_.get());
  lazy_timer_->data = this;
}

void GroupCommit::close() {
  lazy_timer_.close();
  worker_.reset();
  waiting_.clear();
  syncing_ = false;
}

void GroupCommit::after_durable(Then then) {
  if (!worker_) return;
  waiting_.push_back(std::move(then));
  if (!syncing_) start_sync();
}

void GroupCommit::committed() {
  dirty_ = true;
  if (!worker_ || syncing_ || uv_is_active(lazy_timer_.base()) != 0) return;
  uv_timer_start(lazy_timer_.get(), [](uv_timer_t* t) {
    auto* self = static_cast<GroupCommit*>(t->data);
    guarded(*self->log_, "lazy sync", [self] {
      if (!self->syncing_ && self->dirty_) self->start_sync();
    });
  }, static_cast<std::uint64_t>(kLazyDelay.count()), 0);
}

// Everything committed up to now is covered by this sync; the callers
// waiting for it are those registered up to now.
void GroupCommit::start_sync() {
  syncing_ = true;
  dirty_ = false;
  uv_timer_stop(lazy_timer_.get());
  auto then = std::make_shared<std::vector<Then>>(std::exchange(waiting_, {}));
  worker_->post<Synced>(
      "sync " + wal_->path().string(),
      [wal = wal_]() -> Synced {
        Synced synced;
        auto bytes = wal->sync();
        if (!bytes) {
          synced.error = bytes.error();
          return synced;
        }
        if (*bytes >= kCheckpointBytes) {
          if (auto ok = wal->checkpoint(); !ok) synced.checkpoint_error = ok.error();
        }
        return synced;
      },
      [this, then](const Synced& synced) {
        ++syncs_;
        syncing_ = false;
        const auto& error = synced.error;
        if (error) log_->error("queue sync failed error={}", log::quote(error->message));
        if (synced.checkpoint_error) {
          log_->warn("queue checkpoint failed error={}", log::quote(synced.checkpoint_error->message));
        }
        for (const auto& fn : *then) guarded(*log_, "after sync", [&] { fn(error); });
        // Callers that came during the sync need another one; commits that
        // came during it are synced within kLazyDelay.
        if (!waiting_.empty()) {
          start_sync();
        } else if (dirty_) {
          committed();
        }
      });
}

}  // namespace inboxd::app
