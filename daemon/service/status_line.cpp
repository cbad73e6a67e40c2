#include "daemon/service/status_line.hpp"

#include <fmt/format.h>

namespace inboxd::service {

std::string format_status(const StatusCounts& counts) {
  std::string states;
  auto add_state = [&states](std::int64_t n, const char* name) {
    if (n == 0) return;
    states += fmt::format("{}{} {}", states.empty() ? "" : ", ", n, name);
  };
  add_state(counts.paused, "paused");
  add_state(counts.tripped, "tripped");
  add_state(counts.unavailable, "unavailable");
  return fmt::format("{} inbox{}{}, {} queued, {} running, {} retry_wait, {} failed",
                     counts.inboxes, counts.inboxes == 1 ? "" : "es",
                     states.empty() ? "" : " (" + states + ")", counts.queued, counts.running,
                     counts.retry_wait, counts.failed);
}

}  // namespace inboxd::service
