#include "daemon/config/value_readers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>

#include "daemon/config/config.hpp"

namespace inboxd::config::detail {
namespace {

// Reports a value of the wrong shape: "has no value" for `key:` with nothing
// after it, "expected X, got a list" otherwise.
void wrong_shape(Diagnostics& diag, const Entry& entry, std::string_view what) {
  if (!entry.value.IsDefined() || entry.value.IsNull()) {
    diag.error(entry, fmt::format("has no value (expected {})", what));
  } else {
    diag.error(entry, fmt::format("expected {}, got {}", what, describe(entry.value)));
  }
}

// The spellings YAML 1.1 gives booleans; YAML 1.2 keeps only true/false, but
// configurations written for older tools use the others.
constexpr std::string_view kTrueWords[] = {"true", "True", "TRUE", "yes", "Yes",
                                           "YES",  "on",   "On",   "ON"};
constexpr std::string_view kFalseWords[] = {"false", "False", "FALSE", "no", "No",
                                            "NO",    "off",   "Off",   "OFF"};

bool in(std::span<const std::string_view> words, std::string_view text) {
  return std::find(words.begin(), words.end(), text) != words.end();
}

}  // namespace

std::optional<std::string> read_string(Diagnostics& diag, const Entry& entry,
                                       std::string_view what) {
  if (!entry.value.IsScalar()) {
    wrong_shape(diag, entry, what);
    return std::nullopt;
  }
  const std::string& text = entry.value.Scalar();
  if (text.find('\0') != std::string::npos) {
    diag.error(entry, "contains a NUL byte");
    return std::nullopt;
  }
  return text;
}

std::optional<bool> read_bool(Diagnostics& diag, const Entry& entry) {
  auto text = read_string(diag, entry, "true or false");
  if (!text) return std::nullopt;
  if (in(kTrueWords, *text)) return true;
  if (in(kFalseWords, *text)) return false;
  diag.error(entry, fmt::format("{} is not true or false", quote_value(*text)));
  return std::nullopt;
}

std::optional<std::int64_t> read_integer(Diagnostics& diag, const Entry& entry, std::int64_t min,
                                         std::int64_t max) {
  auto text = read_string(diag, entry, "a whole number");
  if (!text) return std::nullopt;
  std::int64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value);
  if (ec == std::errc::result_out_of_range) {
    diag.error(entry, fmt::format("{} is out of range ({}..{})", *text, min, max));
    return std::nullopt;
  }
  if (ec != std::errc() || ptr != end) {
    diag.error(entry, fmt::format("{} is not a whole number", quote_value(*text)));
    return std::nullopt;
  }
  if (value < min || value > max) {
    diag.error(entry, fmt::format("{} is out of range ({}..{})", value, min, max));
    return std::nullopt;
  }
  return value;
}

std::optional<double> read_number(Diagnostics& diag, const Entry& entry) {
  auto text = read_string(diag, entry, "a number");
  if (!text) return std::nullopt;
  double value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value, std::chars_format::fixed);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) {
    diag.error(entry, fmt::format("{} is not a number", quote_value(*text)));
    return std::nullopt;
  }
  return value;
}

std::optional<Millis> read_duration(Diagnostics& diag, const Entry& entry, bool positive) {
  auto text = read_string(diag, entry, "a duration like 30s");
  if (!text) return std::nullopt;
  auto parsed = parse_duration(*text);
  if (!parsed) {
    diag.error(entry, parsed.error().message);
    return std::nullopt;
  }
  if (positive && parsed->count() == 0) {
    diag.error(entry, "must be longer than 0");
    return std::nullopt;
  }
  return *parsed;
}

std::optional<std::uint64_t> read_size(Diagnostics& diag, const Entry& entry) {
  auto text = read_string(diag, entry, "a size like 10MiB");
  if (!text) return std::nullopt;
  auto parsed = parse_size(*text);
  if (!parsed) {
    diag.error(entry, parsed.error().message);
    return std::nullopt;
  }
  return *parsed;
}

std::optional<std::vector<std::string>> read_string_list(Diagnostics& diag, const Entry& entry,
                                                         std::string_view what, bool allow_empty) {
  if (entry.value.IsScalar()) {
    diag.error(entry, fmt::format("expected a list of {}, got a single value (write [{}])", what,
                                  quote_value(entry.value.Scalar())));
    return std::nullopt;
  }
  if (!entry.value.IsSequence()) {
    wrong_shape(diag, entry, fmt::format("a list of {}", what));
    return std::nullopt;
  }
  if (entry.value.size() == 0 && !allow_empty) {
    diag.error(entry, "must not be empty");
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (const Entry& element : entry.elements()) {
    auto text = read_string(diag, element, what);
    if (text) out.push_back(std::move(*text));
    ok = ok && text.has_value();
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::size_t> read_choice_index(Diagnostics& diag, const Entry& entry,
                                             std::span<const std::string_view> names) {
  const std::string listing = fmt::format("{}", fmt::join(names, ", "));
  auto text = read_string(diag, entry, fmt::format("one of {}", listing));
  if (!text) return std::nullopt;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == *text) return i;
  }
  std::string message = fmt::format("{} is not one of {}", quote_value(*text), listing);
  if (std::string_view guess = closest(*text, names); !guess.empty()) {
    message += fmt::format(" (did you mean {}?)", guess);
  }
  diag.error(entry, message);
  return std::nullopt;
}

bool expect_mapping(Diagnostics& diag, const Entry& entry) {
  if (entry.value.IsMap()) return true;
  wrong_shape(diag, entry, "a mapping of keys");
  return false;
}

}  // namespace inboxd::config::detail
