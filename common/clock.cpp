#include "common/clock.hpp"

#include <ctime>

#include <fmt/format.h>

namespace inboxd {

// Every log line carries a time: gmtime_r and a seven-field format cost
// about 4,600 instructions a line, three lines a file. The date and time of
// day change once a second, so each thread keeps the last second's text.
std::string format_rfc3339(EpochMs ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  auto frac = static_cast<int>(ms % 1000);
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  struct Second {
    std::time_t secs = 0;
    std::string text;  // "2026-11-23T10:04:05", empty until first used
  };
  thread_local Second last;
  if (last.text.empty() || last.secs != secs) {
    std::tm tm{};
    ::gmtime_r(&secs, &tm);
    last.text = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900, tm.tm_mon + 1,
                            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    last.secs = secs;
  }
  std::string out;
  out.reserve(last.text.size() + 5);
  out += last.text;
  out += '.';
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
  out += 'Z';
  return out;
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
