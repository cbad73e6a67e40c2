#pragma once
// The one-line summary inboxd sends as STATUS=, which `systemctl status
// inboxd` shows on its "Status:" line.

#include <cstdint>
#include <string>

namespace inboxd::service {

struct StatusCounts {
  std::int64_t inboxes = 0;
  std::int64_t paused = 0;       // inboxes paused by `inboxctl pause`
  std::int64_t tripped = 0;      // inboxes stopped by their breaker
  std::int64_t unavailable = 0;  // inboxes whose path is missing or unreadable
  std::int64_t queued = 0;
  std::int64_t running = 0;
  std::int64_t retry_wait = 0;
  std::int64_t failed = 0;
};

// "2 inboxes (1 tripped), 12 queued, 2 running, 1 retry_wait, 3 failed"; the
// parenthesis lists only the inbox states that are not zero.
std::string format_status(const StatusCounts& counts);

}  // namespace inboxd::service
