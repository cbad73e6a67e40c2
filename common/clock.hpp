#pragma once
// Two clocks, never mixed: MonoTime (steady, for settle, timeouts and backoff
// deadlines inside one process) and wall-clock epoch milliseconds (for what is
// stored in the queue and shown to people as RFC 3339 UTC).

#include <chrono>
#include <cstdint>
#include <string>

namespace inboxd {

using Millis = std::chrono::milliseconds;
using MonoClock = std::chrono::steady_clock;
using MonoTime = MonoClock::time_point;

// Milliseconds since the Unix epoch, UTC.
using EpochMs = std::int64_t;

inline EpochMs wall_now_ms() {
  return std::chrono::duration_cast<Millis>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline MonoTime mono_now() { return MonoClock::now(); }

// "2026-11-23T10:04:05.123Z".
std::string format_rfc3339(EpochMs ms);

// "2m 5s", "118ms", "1h 2m": for humans in logs and reports.
std::string format_duration(Millis d);

}  // namespace inboxd
