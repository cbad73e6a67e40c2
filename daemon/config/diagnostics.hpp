#pragma once
// Diagnostics collects every problem found while reading a configuration, each
// formatted as "file:line:col: key: message", so that one run of `inboxd --check`
// reports all of them. It also walks YAML mappings: unknown keys (with a
// suggestion for an obvious typo) and duplicate keys are reported here, once,
// and callers only ever see the known, first-seen entries.
//
// Internal to the config module.

#include <yaml-cpp/yaml.h>

#include <array>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace inboxd::config::detail {

// One `key: value` entry of a mapping, or one element of a list.
struct Entry {
  std::string key;   // full key path: "inboxes[0].timeout", "inboxes[0].command[1]"
  std::string name;  // last component: "timeout" (empty for list elements)
  YAML::Mark mark;   // position of the key node (of the element for list elements)
  YAML::Node value;

  // The entries of this entry's list value, one per element, in order.
  std::vector<Entry> elements() const;
  // The entry for `child` inside this entry's mapping value.
  Entry child(std::string_view child_name, const YAML::Mark& child_mark,
              const YAML::Node& child_value) const;
};

// The `name` of every row of a key table, for Diagnostics::entries().
template <class Row, std::size_t N>
constexpr std::array<std::string_view, N> key_names(const std::array<Row, N>& table) {
  std::array<std::string_view, N> names{};
  for (std::size_t i = 0; i < N; ++i) names[i] = table[i].name;
  return names;
}

// "inboxes[0]" + "timeout" -> "inboxes[0].timeout"; "" + "state_dir" -> "state_dir".
std::string join_key(std::string_view prefix, std::string_view name);

// The known word closest to `word` when it is an obvious typo, else "".
std::string_view closest(std::string_view word, std::span<const std::string_view> known);

// `text` in double quotes, with quotes, backslashes and control bytes escaped.
std::string quote_value(std::string_view text);

// "a mapping", "a list", "no value", "a scalar": for "expected X, got Y".
std::string_view describe(const YAML::Node& node);

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  // "file:line:col: key: message"; a null mark drops the position, an empty
  // key drops the key.
  void error(const YAML::Mark& mark, std::string_view key, std::string_view message);
  void error(const Entry& entry, std::string_view message) {
    error(entry.mark, entry.key, message);
  }

  bool empty() const { return items_.empty(); }

  // Messages ordered by position (unpositioned ones first), duplicates removed:
  // a problem in `defaults` is found once per inbox but reported once.
  std::vector<std::string> messages() const;

  // The entries of `map` (which must be a mapping) whose keys are in `known`,
  // in file order. Unknown keys, duplicate keys and non-scalar keys are
  // reported. `prefix` is the key path of the mapping itself ("" at the top).
  // A key found in `elsewhere` is a known key in the wrong place: its message
  // carries `elsewhere_hint` instead of a typo suggestion.
  std::vector<Entry> entries(const YAML::Node& map, std::string_view prefix,
                             std::span<const std::string_view> known,
                             std::span<const std::string_view> elsewhere = {},
                             std::string_view elsewhere_hint = {});

  // Every entry of `map` whatever its key (for user-chosen names such as
  // `env` variables); duplicate and non-scalar keys are still reported.
  std::vector<Entry> any_entries(const YAML::Node& map, std::string_view prefix);

 private:
  struct Item {
    int line;
    int column;
    std::string text;
  };
  std::string file_;
  std::vector<Item> items_;
};

}  // namespace inboxd::config::detail
