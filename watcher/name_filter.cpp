#include "watcher/name_filter.hpp"

#include <fnmatch.h>

#include <algorithm>

namespace inboxd::watcher {
namespace {

bool is_literal(std::string_view text) {
  return text.find_first_of("*?[\\") == std::string_view::npos;
}

// ASCII letters fold, every other byte compares as itself: what fnmatch's
// FNM_CASEFOLD does in the C locale the daemon runs in.
bool equal_folded(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

// The shapes every default pattern has ("*", ".*", "~$*", "*.tmp") are
// matched without fnmatch and without copying the name: a poll scan of a
// large folder runs them for every file. Anything else goes to fnmatch.
NameFilter::Pattern NameFilter::compile(const std::string& pattern) {
  std::string_view text(pattern);
  if (text == "*") return {Shape::kAll, {}, pattern};
  if (is_literal(text)) return {Shape::kExact, pattern, pattern};
  if (text.size() > 1 && text.back() == '*' && is_literal(text.substr(0, text.size() - 1))) {
    return {Shape::kPrefix, pattern.substr(0, pattern.size() - 1), pattern};
  }
  if (text.size() > 1 && text.front() == '*' && is_literal(text.substr(1))) {
    return {Shape::kSuffix, pattern.substr(1), pattern};
  }
  return {Shape::kGlob, {}, pattern};
}

// FNM_CASEFOLD folds ASCII letters (the daemon runs in the C locale), which is
// what Windows clients need: SCAN.PDF matches *.pdf. No FNM_PERIOD: a leading
// dot is an ordinary character here, hidden files are left out by the ".*"
// exclude pattern instead. No FNM_PATHNAME: only a file's name is matched.
bool NameFilter::Pattern::matches(std::string_view name, std::string& buffer) const {
  switch (shape) {
    case Shape::kAll: return true;
    case Shape::kExact: return equal_folded(name, literal);
    case Shape::kPrefix:
      return name.size() >= literal.size() && equal_folded(name.substr(0, literal.size()), literal);
    case Shape::kSuffix:
      return name.size() >= literal.size() &&
             equal_folded(name.substr(name.size() - literal.size()), literal);
    case Shape::kGlob:
      if (buffer.empty()) buffer.assign(name);  // fnmatch needs a NUL-terminated name
      return ::fnmatch(glob.c_str(), buffer.c_str(), FNM_CASEFOLD) == 0;
  }
  return false;
}

NameFilter::NameFilter(const std::vector<std::string>& include,
                       const std::vector<std::string>& exclude) {
  for (const auto& pattern : include) include_.push_back(compile(pattern));
  for (const auto& pattern : exclude) exclude_.push_back(compile(pattern));
}

bool NameFilter::accepts(std::string_view name) const {
  std::string buffer;  // filled only when a pattern needs fnmatch
  auto matches = [&](const Pattern& pattern) { return pattern.matches(name, buffer); };
  return std::any_of(include_.begin(), include_.end(), matches) &&
         std::none_of(exclude_.begin(), exclude_.end(), matches);
}

}  // namespace inboxd::watcher
