#pragma once
// include/exclude glob patterns on a file name (not its folder), matched
// case-insensitively (files come from Windows clients: SCAN.PDF matches *.pdf).
// Patterns are fnmatch(3) globs: * ? [...] and \ to escape; a leading dot
// is an ordinary character and `$` is literal ("~$*" is the Office lock-file
// prefix). An empty include list accepts nothing; the configuration supplies
// ["*"] by default.

#include <string>
#include <string_view>
#include <vector>

namespace inboxd::watcher {

class NameFilter {
 public:
  NameFilter(std::vector<std::string> include, std::vector<std::string> exclude);
  // True when the name matches some include pattern and no exclude pattern.
  bool accepts(std::string_view name) const;

 private:
  std::vector<std::string> include_;
  std::vector<std::string> exclude_;
};

}  // namespace inboxd::watcher
