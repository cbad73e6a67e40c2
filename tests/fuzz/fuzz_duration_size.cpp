// fuzz_duration_size: parse_duration and parse_size on any bytes.
//
// Invariants beyond "no crash, no UB, no exception":
//   - an accepted duration lies in 0..36500d, and its spelling in the
//     configuration's own syntax (spell_duration, used in messages) parses
//     back to the same duration;
//   - a rejection that suggests a spelling ("(try 5m)") suggests one that is
//     accepted.
// common/clock.hpp format_duration ("2m 5s", "1.5s") is for people reading
// logs and is not meant to parse back; it is only checked not to misbehave.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.hpp"
#include "daemon/config/config.hpp"
#include "daemon/config/units.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace inboxd::fuzz {
namespace {

constexpr std::int64_t kMaxDurationMs = 36500LL * 24 * 3600 * 1000;

// The X of a message "\"<text>\" is not a <what> (try X)" or "... (missing
// unit: try X)", or "" when it has no such hint. The quoted text is skipped
// first: it may hold "(try " itself, but never an unescaped quote.
std::string_view suggestion(std::string_view message, std::string_view what) {
  if (!message.starts_with('"')) return {};
  std::size_t pos = 1;
  while (pos < message.size() && message[pos] != '"') pos += message[pos] == '\\' ? 2 : 1;
  if (pos >= message.size()) return {};
  std::string_view rest = message.substr(pos + 1);
  if (!rest.ends_with(')')) return {};
  rest.remove_suffix(1);
  for (const std::string_view hint : {"try ", "missing unit: try "}) {
    const std::string prefix = " is not a " + std::string(what) + " (" + std::string(hint);
    if (rest.starts_with(prefix)) return rest.substr(prefix.size());
  }
  return {};
}

void check_duration(std::string_view text) {
  auto parsed = config::parse_duration(text);
  if (!parsed) {
    const std::string& message = parsed.error().message;
    require(!message.empty(), "a rejected duration has a message");
    std::string_view hint = suggestion(message, "duration");
    if (!hint.empty()) {
      auto again = config::parse_duration(hint);
      require(again.has_value(), "a suggested duration is accepted", message);
    }
    return;
  }
  const std::int64_t ms = parsed->count();
  require(ms >= 0 && ms <= kMaxDurationMs, "an accepted duration lies in 0..36500d", text);
  const std::string spelled = config::detail::spell_duration(*parsed);
  auto again = config::parse_duration(spelled);
  require(again.has_value() && *again == *parsed, "a spelled duration parses back to itself",
          spelled);
  (void)format_duration(*parsed);
}

void check_size(std::string_view text) {
  auto parsed = config::parse_size(text);
  if (parsed) return;  // every std::uint64_t is a size
  const std::string& message = parsed.error().message;
  require(!message.empty(), "a rejected size has a message");
  std::string_view hint = suggestion(message, "size");
  if (!hint.empty()) {
    auto again = config::parse_size(hint);
    require(again.has_value(), "a suggested size is accepted", message);
  }
}

}  // namespace
}  // namespace inboxd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  inboxd::fuzz::check_duration(text);
  inboxd::fuzz::check_size(text);
  return 0;
}
