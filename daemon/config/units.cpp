// parse_duration and parse_size: strict parsers whose error messages suggest
// the spelling that would have been accepted ("5 minutes" -> "try 5m").

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <cstdint>

#include "daemon/config/config.hpp"
#include "daemon/config/diagnostics.hpp"
#include "daemon/config/units.hpp"

namespace inboxd::config {
namespace {

// The longest accepted duration. Timers add durations to steady_clock time
// points counted in nanoseconds; a century stays far from that overflow.
constexpr std::uint64_t kMaxDurationMs = 36500ULL * 24 * 3600 * 1000;

struct Unit {
  std::string_view name;                    // the accepted spelling
  std::uint64_t factor;                     // in milliseconds or bytes
  std::array<std::string_view, 6> aliases;  // lowercase spellings people write instead
};

// Largest first, so suggestions use the largest unit that divides exactly.
constexpr std::array<Unit, 5> kDurationUnits = {{
    {"d", 86400000, {"d", "day", "days"}},
    {"h", 3600000, {"h", "hr", "hrs", "hour", "hours"}},
    {"m", 60000, {"m", "min", "mins", "minute", "minutes"}},
    {"s", 1000, {"s", "sec", "secs", "second", "seconds"}},
    {"ms", 1, {"ms", "msec", "msecs", "millisecond", "milliseconds"}},
}};

constexpr std::array<Unit, 6> kSizeUnits = {{
    {"PiB", 1ULL << 50, {"p", "pb", "pib", "petabyte", "petabytes"}},
    {"TiB", 1ULL << 40, {"t", "tb", "tib", "terabyte", "terabytes"}},
    {"GiB", 1ULL << 30, {"g", "gb", "gib", "gigabyte", "gigabytes"}},
    {"MiB", 1ULL << 20, {"m", "mb", "mib", "megabyte", "megabytes"}},
    {"KiB", 1ULL << 10, {"k", "kb", "kib", "kilobyte", "kilobytes"}},
    {"", 1, {"b", "byte", "bytes"}},
}};

// "1.5 hours" -> {whole "1", fraction "5", unit "hours", spaced}.
struct Quantity {
  bool negative = false;
  std::string_view whole;
  std::string_view fraction;
  bool has_dot = false;
  bool spaced = false;
  std::string_view unit;
};

std::size_t count_digits(std::string_view text, std::size_t from) {
  std::size_t n = 0;
  while (from + n < text.size() && std::isdigit(static_cast<unsigned char>(text[from + n])) != 0)
    ++n;
  return n;
}

Quantity split_quantity(std::string_view text) {
  Quantity q;
  std::size_t pos = 0;
  if (pos < text.size() && (text[pos] == '-' || text[pos] == '+')) q.negative = text[pos++] == '-';
  q.whole = text.substr(pos, count_digits(text, pos));
  pos += q.whole.size();
  if (pos < text.size() && text[pos] == '.') {
    q.has_dot = true;
    q.fraction = text.substr(pos + 1, count_digits(text, pos + 1));
    pos += 1 + q.fraction.size();
  }
  while (pos < text.size() && text[pos] == ' ') {
    q.spaced = true;
    ++pos;
  }
  q.unit = text.substr(pos);
  return q;
}

template <std::size_t N>
const Unit* find_unit(const std::array<Unit, N>& units, std::string_view spelled) {
  std::string lower;
  for (char ch : spelled) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const Unit& unit : units) {
    for (std::string_view alias : unit.aliases) {
      if (!alias.empty() && alias == lower) return &unit;
    }
  }
  return nullptr;
}

// The quantity's value in the unit's base (ms or bytes), when it is a whole
// number that fits in 64 bits.
enum class Amount { kOk, kFractional, kOverflow };
Amount amount_of(const Quantity& q, std::uint64_t factor, std::uint64_t& out) {
  if (q.fraction.size() > 18) return Amount::kFractional;
  std::uint64_t numerator = 0;
  std::uint64_t denominator = 1;
  for (char ch : q.whole) {
    if (__builtin_mul_overflow(numerator, 10U, &numerator) ||
        __builtin_add_overflow(numerator, static_cast<unsigned>(ch - '0'), &numerator)) {
      return Amount::kOverflow;
    }
  }
  for (char ch : q.fraction) {
    denominator *= 10;
    if (__builtin_mul_overflow(numerator, 10U, &numerator) ||
        __builtin_add_overflow(numerator, static_cast<unsigned>(ch - '0'), &numerator)) {
      return Amount::kOverflow;
    }
  }
  std::uint64_t scaled = 0;
  if (__builtin_mul_overflow(numerator, factor, &scaled)) return Amount::kOverflow;
  if (scaled % denominator != 0) return Amount::kFractional;
  out = scaled / denominator;
  return Amount::kOk;
}

// 90000 -> "90s", 5 * 2^20 -> "5MiB": the largest unit that divides exactly.
template <std::size_t N>
std::string spell(const std::array<Unit, N>& units, std::uint64_t value) {
  for (const Unit& unit : units) {
    if (value % unit.factor == 0 && (value != 0 || unit.factor == 1)) {
      return fmt::format("{}{}", value / unit.factor, unit.name);
    }
  }
  return std::to_string(value);
}

// How a text compares with the accepted form.
struct Verdict {
  enum class Kind { kAccepted, kRejected, kTooLarge } kind;
  std::string hint;  // for kRejected: "(try 5m)"
};

// A family of units: durations need a unit (except "0"), sizes may be bare bytes.
template <std::size_t N>
struct UnitFamily {
  const std::array<Unit, N>& units;
  std::string_view listing;    // "ms, s, m, h, d"
  std::string_view bare_unit;  // unit suggested for a bare number; "" if bare is fine
};

template <std::size_t N>
Verdict judge(std::string_view text, const UnitFamily<N>& family, std::uint64_t& value) {
  using Kind = Verdict::Kind;
  const Quantity q = split_quantity(text);
  if (q.whole.empty() && q.fraction.empty()) {
    return {Kind::kRejected, fmt::format("(write a number and a unit: {})", family.listing)};
  }
  if (q.negative) return {Kind::kRejected, "(it cannot be negative)"};
  if (q.has_dot && q.fraction.empty()) return {Kind::kRejected, "(write a whole number)"};
  const Unit* unit = find_unit(family.units, q.unit);
  if (unit == nullptr && !q.unit.empty()) {
    return {Kind::kRejected, fmt::format("(unknown unit {}; units: {})",
                                         detail::quote_value(q.unit), family.listing)};
  }
  if (unit == nullptr && !family.bare_unit.empty()) {
    if (q.has_dot)
      return {Kind::kRejected, fmt::format("(missing unit; units: {})", family.listing)};
    // `value` is what the suggestion would mean, so that a bare number too
    // long in the suggested unit is reported as too long, not suggested.
    const Unit* suggested = find_unit(family.units, family.bare_unit);
    if (suggested != nullptr && amount_of(q, suggested->factor, value) == Amount::kOverflow) {
      return {Kind::kTooLarge, {}};
    }
    return {Kind::kRejected, fmt::format("(missing unit: try {}{})", q.whole, family.bare_unit)};
  }
  const std::uint64_t factor = unit == nullptr ? 1 : unit->factor;
  switch (amount_of(q, factor, value)) {
    case Amount::kOverflow: return {Kind::kTooLarge, {}};
    case Amount::kFractional: return {Kind::kRejected, "(no fractions; use a smaller unit)"};
    case Amount::kOk: break;
  }
  const bool exact = std::isdigit(static_cast<unsigned char>(text.front())) != 0 && !q.spaced &&
                     !q.has_dot && q.unit == (unit == nullptr ? "" : unit->name);
  if (exact) return {Kind::kAccepted, {}};
  return {Kind::kRejected, fmt::format("(try {})", spell(family.units, value))};
}

}  // namespace

Result<Millis> parse_duration(std::string_view text) {
  if (text == "0") return Millis(0);
  std::uint64_t ms = 0;
  const Verdict verdict = judge(text, UnitFamily<5>{kDurationUnits, "ms, s, m, h, d", "s"}, ms);
  // `ms` is set whenever the amount could be computed, so a suggestion that
  // would itself be too long ("100000 days") is reported as too long.
  if (verdict.kind == Verdict::Kind::kTooLarge || ms > kMaxDurationMs) {
    return fail(
        fmt::format("{} is too long (the longest allowed is 36500d)", detail::quote_value(text)));
  }
  if (verdict.kind == Verdict::Kind::kRejected) {
    return fail(fmt::format("{} is not a duration {}", detail::quote_value(text), verdict.hint));
  }
  return Millis(static_cast<Millis::rep>(ms));
}

Result<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t bytes = 0;
  const Verdict verdict = judge(text, UnitFamily<6>{kSizeUnits, "KiB, MiB, GiB, TiB", ""}, bytes);
  if (verdict.kind == Verdict::Kind::kTooLarge) {
    return fail(
        fmt::format("{} is too large (it does not fit in 64 bits)", detail::quote_value(text)));
  }
  if (verdict.kind == Verdict::Kind::kRejected) {
    return fail(fmt::format("{} is not a size {}", detail::quote_value(text), verdict.hint));
  }
  return bytes;
}

namespace detail {

std::string spell_duration(Millis duration) {
  if (duration.count() <= 0) return "0";
  return spell(kDurationUnits, static_cast<std::uint64_t>(duration.count()));
}

}  // namespace detail
}  // namespace inboxd::config
