#include "watcher/name_filter.hpp"

#include <fnmatch.h>

#include <algorithm>

namespace inboxd::watcher {
namespace {

// FNM_CASEFOLD folds ASCII letters (the daemon runs in the C locale), which is
// what Windows clients need: SCAN.PDF matches *.pdf. No FNM_PERIOD: a leading
// dot is an ordinary character here, hidden files are left out by the ".*"
// exclude pattern instead. No FNM_PATHNAME: only a file's name is matched.
bool matches_any(const std::vector<std::string>& patterns, const std::string& name) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    return ::fnmatch(pattern.c_str(), name.c_str(), FNM_CASEFOLD) == 0;
  });
}

}  // namespace

NameFilter::NameFilter(std::vector<std::string> include, std::vector<std::string> exclude)
    : include_(std::move(include)), exclude_(std::move(exclude)) {}

bool NameFilter::accepts(std::string_view name) const {
  const std::string text(name);  // fnmatch needs a NUL-terminated name
  return matches_any(include_, text) && !matches_any(exclude_, text);
}

}  // namespace inboxd::watcher
