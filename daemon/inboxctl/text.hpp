#pragma once
// text: how inboxctl prints for people. Colour only on a terminal and never
// when NO_COLOR is set (or TERM=dumb). Everything that came from a drop
// folder (file names, handler output) passes through printable() first: a
// file name holding an escape sequence must not drive the admin's terminal.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace inboxd::inboxctl {

enum class Colour { kNone, kRed, kGreen, kYellow, kBlue, kCyan, kDim, kBold };

class Style {
 public:
  // Colour when stdout is a terminal, NO_COLOR is unset or empty and TERM is
  // not "dumb".
  static Style for_stdout();
  static Style plain() { return Style(false); }

  bool colour() const { return colour_; }
  std::string paint(std::string_view text, Colour colour) const;

 private:
  explicit Style(bool colour) : colour_(colour) {}
  bool colour_;
};

// The colour of a job or inbox state word (failed: red, done: green, ...).
Colour state_colour(std::string_view state);

// Control characters (C0 except those in `keep`, DEL, C1) become '?'.
std::string printable(std::string_view text, std::string_view keep = {});

// Columns the text takes on a terminal: one per code point (wide characters
// are rare in file names; an approximation keeps tables readable).
std::size_t display_width(std::string_view text);

// "2026-11-23T10:04:05.123Z" -> "2026-11-23 11:04:05" in local time; "-" for
// null; the text unchanged when it does not parse.
std::string local_time(const nlohmann::json& rfc3339);

// Seconds since the epoch for an RFC 3339 UTC string, if it parses.
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

// 0 -> "0s", 75 -> "1m 15s", 7300 -> "2h 1m"; "-" for null.
std::string human_seconds(const nlohmann::json& seconds);

// 1536 -> "1.5 KiB".
std::string human_size(std::int64_t bytes);

// A JSON value as text for a table cell: strings as they are, null as "-".
std::string cell_text(const nlohmann::json& value);

}  // namespace inboxd::inboxctl
