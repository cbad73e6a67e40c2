#include "daemon/app/metrics_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <exception>

#include "common/guarded.hpp"
#include "common/log.hpp"
#include "common/sys_error.hpp"
#include "common/unique_fd.hpp"
#include "daemon/app/outcome.hpp"

namespace inboxd::app {

Result<void> replace_file(const std::filesystem::path& file, std::string_view text) {
  auto tmp = file;
  tmp += ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) return fail_errno("open", tmp.string());
  if (auto ok = write_all(fd.get(), text, tmp); !ok) {
    ::unlink(tmp.c_str());
    return ok;
  }
  ::fchmod(fd.get(), 0644);  // whatever the umask: the collector runs as another user
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    auto err = fail_errno("rename", tmp.string());
    ::unlink(tmp.c_str());
    return err;
  }
  return {};
}

MetricsFile::MetricsFile(uv_loop_t* loop, std::function<std::string()> render)
    : render_(std::move(render)), log_(log::get("app")) {
  uv_timer_init(loop, timer_.get());
  timer_->data = this;
}

void MetricsFile::set_path(const std::optional<std::filesystem::path>& path) {
  if (!timer_) return;
  path_ = path;
  last_error_.clear();
  if (!path_) {
    uv_timer_stop(timer_.get());
    return;
  }
  write();
  auto ms = static_cast<std::uint64_t>(kPeriod.count());
  uv_timer_start(
      timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<MetricsFile*>(t->data);
        guarded(*self->log_, "metrics file", [self] { self->write(); });
      },
      ms, ms);
  // Rewriting a file is no reason to keep the loop alive.
  uv_unref(timer_.base());
}

bool MetricsFile::write() {
  if (!path_) return false;
  Result<void> ok;
  try {
    ok = replace_file(*path_, render_());
  } catch (const std::exception& e) {
    ok = fail(e.what());
  }
  if (!ok) {
    if (ok.error().message != last_error_) {
      log_->warn("cannot write metrics file path={} error={}", log::quote(path_->string()),
                 log::quote(ok.error().message));
    }
    last_error_ = ok.error().message;
    return false;
  }
  if (!last_error_.empty()) {
    log_->info("metrics file written again path={}", log::quote(path_->string()));
    last_error_.clear();
  }
  return true;
}

void MetricsFile::close() { timer_.close(); }

}  // namespace inboxd::app
