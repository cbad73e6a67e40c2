#include "daemon/inboxctl/text.hpp"

#include <unistd.h>
#include <charconv>

#include <cstdlib>
#include <ctime>

#include <fmt/format.h>

namespace inboxd::inboxctl {

Style Style::for_stdout() {
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  bool colour = ::isatty(STDOUT_FILENO) == 1 && (no_color == nullptr || *no_color == '\0') &&
                (term == nullptr || std::string_view(term) != "dumb");
  return Style(colour);
}

std::string Style::paint(std::string_view text, Colour colour) const {
  if (!colour_ || colour == Colour::kNone) return std::string(text);
  const char* code = "";
  switch (colour) {
    case Colour::kRed: code = "31"; break;
    case Colour::kGreen: code = "32"; break;
    case Colour::kYellow: code = "33"; break;
    case Colour::kBlue: code = "34"; break;
    case Colour::kCyan: code = "36"; break;
    case Colour::kDim: code = "2"; break;
    case Colour::kBold: code = "1"; break;
    case Colour::kNone: break;
  }
  return fmt::format("\x1b[{}m{}\x1b[0m", code, text);
}

Colour state_colour(std::string_view state) {
  if (state == "failed" || state == "tripped" || state == "unavailable" || state == "degraded") {
    return Colour::kRed;
  }
  if (state == "done" || state == "ok") return Colour::kGreen;
  if (state == "running") return Colour::kCyan;
  if (state == "retry_wait" || state == "paused") return Colour::kYellow;
  if (state == "canceled") return Colour::kDim;
  return Colour::kNone;
}

std::string printable(std::string_view text, std::string_view keep) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    // C1 controls are U+0080..U+009F: 0xC2 0x80..0x9F in UTF-8.
    if (c == 0xC2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) < 0xA0 &&
        static_cast<unsigned char>(text[i + 1]) >= 0x80) {
      out += '?';
      ++i;
    } else if ((c < 0x20 || c == 0x7F) &&
               keep.find(static_cast<char>(c)) == std::string_view::npos) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  bool in_escape = false;
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (in_escape) {
      in_escape = c != 'm';  // our own colour sequences only
      continue;
    }
    if (c == 0x1B) {
      in_escape = true;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++width;
  }
  return width;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
  // The daemon writes "2026-11-23T05:30:18.029Z": fixed positions up to the
  // seconds, whatever follows them.
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  auto field = [text](std::size_t at, std::size_t length) -> std::optional<int> {
    int value = 0;
    const char* end = text.data() + at + length;
    auto [stop, ec] = std::from_chars(text.data() + at, end, value);
    if (ec != std::errc{} || stop != end) return std::nullopt;
    return value;
  };
  auto year = field(0, 4), month = field(5, 2), day = field(8, 2);
  auto hour = field(11, 2), minute = field(14, 2), second = field(17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  return static_cast<std::int64_t>(::timegm(&tm));
}

std::string local_time(const nlohmann::json& rfc3339) {
  if (!rfc3339.is_string()) return "-";
  auto text = rfc3339.get<std::string>();
  auto seconds = parse_rfc3339(text);
  if (!seconds) return printable(text);
  auto t = static_cast<std::time_t>(*seconds);
  std::tm local{};
  ::localtime_r(&t, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
  return buf;
}

std::string human_seconds(const nlohmann::json& seconds) {
  if (!seconds.is_number()) return "-";
  auto s = seconds.get<std::int64_t>();
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h {}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d {}h", s / 86400, (s % 86400) / 3600);
}

std::string human_size(std::int64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  auto value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string cell_text(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return printable(value.get<std::string>());
  return value.dump();
}

}  // namespace inboxd::inboxctl
