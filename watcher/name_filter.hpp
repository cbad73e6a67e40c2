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
  NameFilter(const std::vector<std::string>& include, const std::vector<std::string>& exclude);
  // True when the name matches some include pattern and no exclude pattern.
  bool accepts(std::string_view name) const;

 private:
  enum class Shape { kAll, kExact, kPrefix, kSuffix, kGlob };
  struct Pattern {
    Shape shape;
    std::string literal;  // kExact: the name; kPrefix/kSuffix: the part besides '*'
    std::string glob;     // the pattern as written (fnmatch for kGlob)
    bool matches(std::string_view name, std::string& buffer) const;
  };
  static Pattern compile(const std::string& pattern);

  std::vector<Pattern> include_;
  std::vector<Pattern> exclude_;
};

}  // namespace inboxd::watcher
