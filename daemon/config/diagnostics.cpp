#include "daemon/config/diagnostics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace inboxd::config::detail {
namespace {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions,
// so "tiemout" is one edit from "timeout". Case differences count as edits.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

bool is_null_mark(const YAML::Mark& mark) { return mark.line < 0 || mark.column < 0; }

}  // namespace

std::vector<Entry> Entry::elements() const {
  std::vector<Entry> out;
  for (auto it = value.begin(); it != value.end(); ++it) {
    const YAML::Node item = *it;
    out.push_back(Entry{fmt::format("{}[{}]", key, out.size()), std::string(), item.Mark(), item});
  }
  return out;
}

Entry Entry::child(std::string_view child_name, const YAML::Mark& child_mark,
                   const YAML::Node& child_value) const {
  return Entry{join_key(key, child_name), std::string(child_name), child_mark, child_value};
}

std::string join_key(std::string_view prefix, std::string_view name) {
  if (prefix.empty()) return std::string(name);
  return fmt::format("{}.{}", prefix, name);
}

std::string_view closest(std::string_view word, std::span<const std::string_view> known) {
  // Short words tolerate one edit, longer ones two: beyond that a
  // "suggestion" is a guess that misleads more than it helps.
  const std::size_t limit = word.size() <= 4 ? 1 : 2;
  std::string_view best;
  std::size_t best_distance = limit + 1;
  for (std::string_view candidate : known) {
    std::size_t distance = edit_distance(word, candidate);
    // A longer or shorter form of a known word ("warning" for warn,
    // "timeout_ms" for timeout) is as obvious a slip as a typo.
    const std::size_t common = std::min(word.size(), candidate.size());
    if (distance > limit && common >= 3 && word.substr(0, common) == candidate.substr(0, common)) {
      distance = limit;
    }
    if (distance < best_distance && distance < candidate.size()) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string quote_value(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (byte < 0x20 || byte == 0x7f) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

std::string_view describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Scalar: return "a single value";
    default: return "no value";
  }
}

void Diagnostics::error(const YAML::Mark& mark, std::string_view key, std::string_view message) {
  std::string text = file_;
  if (!is_null_mark(mark)) text += fmt::format(":{}:{}", mark.line + 1, mark.column + 1);
  text += ": ";
  if (!key.empty()) text += fmt::format("{}: ", key);
  text.append(message);
  const int line = is_null_mark(mark) ? -1 : mark.line;
  const int column = is_null_mark(mark) ? -1 : mark.column;
  items_.push_back(Item{line, column, std::move(text)});
}

std::vector<std::string> Diagnostics::messages() const {
  std::vector<Item> sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Item& a, const Item& b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  });
  std::vector<std::string> out;
  for (auto& item : sorted) {
    if (std::find(out.begin(), out.end(), item.text) == out.end())
      out.push_back(std::move(item.text));
  }
  return out;
}

std::vector<Entry> Diagnostics::any_entries(const YAML::Node& map, std::string_view prefix) {
  std::vector<Entry> out;
  std::map<std::string, int, std::less<>> first_line;
  for (auto it = map.begin(); it != map.end(); ++it) {
    // Copies, not references: the iterator hands out a temporary pair.
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      error(key.Mark(), prefix, "keys must be plain names");
      continue;
    }
    Entry entry{join_key(prefix, key.Scalar()), key.Scalar(), key.Mark(), value};
    const auto [seen, inserted] = first_line.emplace(entry.name, entry.mark.line + 1);
    if (inserted) {
      out.push_back(std::move(entry));
    } else {
      error(entry, fmt::format("duplicate key (first given on line {})", seen->second));
    }
  }
  return out;
}

std::vector<Entry> Diagnostics::entries(const YAML::Node& map, std::string_view prefix,
                                        std::span<const std::string_view> known,
                                        std::span<const std::string_view> elsewhere,
                                        std::string_view elsewhere_hint) {
  std::vector<Entry> out;
  for (Entry& entry : any_entries(map, prefix)) {
    auto is = [&entry](std::span<const std::string_view> names) {
      return std::find(names.begin(), names.end(), entry.name) != names.end();
    };
    if (is(known)) {
      out.push_back(std::move(entry));
    } else if (entry.name == "<<") {
      error(entry, "YAML merge keys are not supported (put shared inbox keys under defaults)");
    } else if (is(elsewhere)) {
      error(entry, fmt::format("unknown key here ({})", elsewhere_hint));
    } else if (std::string_view guess = closest(entry.name, known); !guess.empty()) {
      error(entry, fmt::format("unknown key (did you mean {}?)", guess));
    } else {
      error(entry, "unknown key");
    }
  }
  return out;
}

}  // namespace inboxd::config::detail
