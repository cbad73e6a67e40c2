#include "common/clock.hpp"

#include <ctime>

#include <fmt/format.h>

namespace inboxd {

std::string format_rfc3339(EpochMs ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  auto frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

std::string format_duration(Millis d) {
  auto ms = d.count();
  if (ms < 1000) return fmt::format("{}ms", ms);
  auto s = ms / 1000;
  if (s < 60) return fmt::format("{}.{}s", s, (ms % 1000) / 100);
  auto m = s / 60;
  if (m < 60) return fmt::format("{}m {}s", m, s % 60);
  return fmt::format("{}h {}m", m / 60, m % 60);
}

}  // namespace inboxd
