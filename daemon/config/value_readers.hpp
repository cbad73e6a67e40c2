#pragma once
// Typed readers for configuration values. Each takes the entry being read,
// returns the value when it is acceptable, and otherwise reports why to the
// Diagnostics (at the entry's key, with its full key path) and returns nullopt,
// so that reading goes on and every problem in a file is found in one run.
//
// Internal to the config module.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "daemon/config/diagnostics.hpp"

namespace inboxd::config::detail {

// A scalar as text. `what` names the expected kind in messages ("a path").
// Text holding a NUL byte is refused: it could never reach a path or argv.
std::optional<std::string> read_string(Diagnostics& diag, const Entry& entry,
                                       std::string_view what = "a string");

// true/false (also yes/no and on/off, which YAML 1.1 writers expect).
std::optional<bool> read_bool(Diagnostics& diag, const Entry& entry);

// A whole number in [min, max].
std::optional<std::int64_t> read_integer(Diagnostics& diag, const Entry& entry, std::int64_t min,
                                         std::int64_t max);

// A finite decimal number (range checks are the caller's).
std::optional<double> read_number(Diagnostics& diag, const Entry& entry);

// A duration (parse_duration); `positive` refuses 0.
std::optional<Millis> read_duration(Diagnostics& diag, const Entry& entry, bool positive = false);

// A size (parse_size).
std::optional<std::uint64_t> read_size(Diagnostics& diag, const Entry& entry);

// A list of strings, each checked like read_string; `what` names an element.
std::optional<std::vector<std::string>> read_string_list(Diagnostics& diag, const Entry& entry,
                                                         std::string_view what, bool allow_empty);

// The index of the scalar's value in `names`, with a suggestion when it is a
// near miss ("warning" -> warn).
std::optional<std::size_t> read_choice_index(Diagnostics& diag, const Entry& entry,
                                             std::span<const std::string_view> names);

// One accepted word of an enumerated key and the value it stands for.
template <class E>
struct Choice {
  std::string_view name;
  E value;
};

template <class E, std::size_t N>
std::optional<E> read_choice(Diagnostics& diag, const Entry& entry,
                             const std::array<Choice<E>, N>& choices) {
  std::array<std::string_view, N> names;
  for (std::size_t i = 0; i < N; ++i) names[i] = choices[i].name;
  auto index = read_choice_index(diag, entry, names);
  if (!index) return std::nullopt;
  return choices[*index].value;
}

// True when the entry's value is a mapping; otherwise reports it.
bool expect_mapping(Diagnostics& diag, const Entry& entry);

}  // namespace inboxd::config::detail
