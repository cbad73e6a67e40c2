#include "daemon/app/group_commit.hpp"

#include <spdlog/spdlog.h>

#include "common/guarded.hpp"
#include "common/log.hpp"

namespace inboxd::app {

GroupCommit::GroupCommit(uv_loop_t* loop, std::shared_ptr<queue::WalSync> wal,
                         std::shared_ptr<spdlog::logger> log)
    : wal_(std::move(wal)),
      log_(std::move(log)),
      worker_(std::make_unique<FolderWorker>(loop, log_)) {
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
  if (!syncing_) sync_soon();
}

// At once, unless the last sync started less than kMinSyncGap ago: then
// when that gap has passed. The one timer serves both delays: a commit's
// lazy sync is never later than this.
void GroupCommit::sync_soon() {
  auto since = mono_now() - last_sync_started_;
  if (since >= kMinSyncGap) {
    start_sync();
    return;
  }
  auto wait = std::chrono::ceil<Millis>(kMinSyncGap - since);
  start_timer(wait);
}

// The loop's clock is the time of its last turn, which a long turn leaves
// behind: the delay counts from now, not from then.
void GroupCommit::start_timer(Millis delay) {
  uv_update_time(lazy_timer_->loop);
  uv_timer_start(
      lazy_timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<GroupCommit*>(t->data);
        guarded(*self->log_, "sync timer", [self] {
          if (!self->syncing_ && (self->dirty_ || !self->waiting_.empty())) self->start_sync();
        });
      },
      static_cast<std::uint64_t>(delay.count()), 0);
}

void GroupCommit::committed(std::uint64_t wal_bytes) {
  wal_bytes_ = wal_bytes;
  sync_later();
}

void GroupCommit::sync_later() {
  dirty_ = true;
  if (!worker_ || syncing_ || uv_is_active(lazy_timer_.base()) != 0) return;
  start_timer(kLazyDelay);
}

// Everything committed up to now is covered by this sync; the callers
// waiting for it are those registered up to now.
void GroupCommit::start_sync() {
  syncing_ = true;
  dirty_ = false;
  last_sync_started_ = mono_now();
  uv_timer_stop(lazy_timer_.get());
  auto then = std::make_shared<std::vector<Then>>(std::exchange(waiting_, {}));
  worker_->post<Synced>(
      "sync " + wal_->path().string(),
      [wal = wal_, checkpoint = wal_bytes_ >= kCheckpointBytes]() -> Synced {
        Synced synced;
        if (auto ok = wal->sync(); !ok) {
          synced.error = ok.error();
          return synced;
        }
        if (checkpoint) {
          synced.checkpointed = true;
          if (auto ok = wal->checkpoint(); !ok) synced.checkpoint_error = ok.error();
        }
        return synced;
      },
      [this, then](const Synced& synced) {
        ++syncs_;
        if (synced.checkpointed) ++checkpoints_;
        syncing_ = false;
        const auto& error = synced.error;
        if (error) log_->error("queue sync failed error={}", log::quote(error->message));
        if (synced.checkpoint_error) {
          log_->warn("queue checkpoint failed error={}",
                     log::quote(synced.checkpoint_error->message));
        }
        for (const auto& fn : *then) guarded(*log_, "after sync", [&] { fn(error); });
        // Callers that came during the sync need another one; commits that
        // came during it are synced within kLazyDelay.
        if (!waiting_.empty()) {
          sync_soon();
        } else if (dirty_) {
          sync_later();
        }
      });
}

}  // namespace inboxd::app
