#include "daemon/app/state_disk.hpp"

#include <sys/statvfs.h>

#include <fmt/format.h>

#include "common/guarded.hpp"
#include "common/log.hpp"
#include "common/sys_error.hpp"

namespace inboxd::app {

StateDisk::StateDisk(uv_loop_t* loop, std::filesystem::path dir, Millis retry_period)
    : loop_(loop), dir_(std::move(dir)), retry_period_(retry_period), log_(log::get("app")) {
  uv_timer_init(loop_, timer_.get());
  timer_->data = this;
}

void StateDisk::set_recovery(std::function<Result<void>()> check,
                             std::function<void()> on_recovered) {
  check_ = std::move(check);
  on_recovered_ = std::move(on_recovered);
}

void StateDisk::report(const Error& error) {
  error_ = error.message;
  if (failing_) return;
  failing_ = true;
  since_ = wall_now_ms();
  since_mono_ = mono_now();
  log_->error(
      "state directory cannot be written dir={} error={}: claiming and starting handlers "
      "paused, retrying every {}",
      log::quote(dir_.string()), log::quote(error.message), format_duration(retry_period_));
  if (!timer_) return;  // closed: the daemon is stopping
  auto ms = static_cast<std::uint64_t>(retry_period_.count());
  uv_timer_start(
      timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<StateDisk*>(t->data);
        guarded(*self->log_, "state disk", [self] { self->on_timer(); });
      },
      ms, ms);
}

void StateDisk::close() { timer_.close(); }

Result<void> StateDisk::has_room() const {
  struct statvfs st {};
  if (::statvfs(dir_.c_str(), &st) != 0) return fail_errno("statvfs", dir_.string());
  auto free = static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
  if (free < kMinFreeBytes) {
    return fail(fmt::format("{} bytes free in {}, waiting for at least {}", free, dir_.string(),
                            kMinFreeBytes));
  }
  return {};
}

void StateDisk::on_timer() {
  auto ok = has_room();
  if (ok && check_) ok = check_();
  if (!ok) {
    if (ok.error().message != error_) {
      log_->debug("state directory still failing error={}", log::quote(ok.error().message));
    }
    error_ = ok.error().message;
    return;
  }
  uv_timer_stop(timer_.get());
  failing_ = false;
  log_->info("state directory writable again dir={} after={}", log::quote(dir_.string()),
             format_duration(std::chrono::duration_cast<Millis>(mono_now() - since_mono_)));
  error_.clear();
  if (on_recovered_) on_recovered_();
}

}  // namespace inboxd::app
