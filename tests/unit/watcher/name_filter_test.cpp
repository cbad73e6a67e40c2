#include <fnmatch.h>

#include "watcher/name_filter.hpp"

#include <catch2/catch.hpp>

using inboxd::watcher::NameFilter;

namespace {

// The defaults from PRODUCT.md, as the configuration module passes them.
NameFilter default_filter() {
  return NameFilter({"*"}, {".*", "*.tmp", "*.part", "*.partial", "*.crdownload", "*.swp", "~$*"});
}

}  // namespace

TEST_CASE("the default include accepts every ordinary name", "[watcher][filter]") {
  const NameFilter filter = default_filter();
  CHECK(filter.accepts("report.pdf"));
  CHECK(filter.accepts("no-extension"));
  CHECK(filter.accepts("-leading-dash"));
  CHECK(filter.accepts("with space.txt"));
}

TEST_CASE("the default exclude drops hidden, partial and Office lock files", "[watcher][filter]") {
  const NameFilter filter = default_filter();
  CHECK_FALSE(filter.accepts(".hidden"));
  CHECK_FALSE(filter.accepts("upload.tmp"));
  CHECK_FALSE(filter.accepts("movie.mkv.part"));
  CHECK_FALSE(filter.accepts("file.partial"));
  CHECK_FALSE(filter.accepts("setup.exe.crdownload"));
  CHECK_FALSE(filter.accepts("notes.txt.swp"));
  CHECK_FALSE(filter.accepts("~$budget.xlsx"));
  CHECK(filter.accepts("~budget.xlsx"));
}

TEST_CASE("patterns match regardless of case", "[watcher][filter]") {
  CHECK(NameFilter({"*.pdf"}, {}).accepts("SCAN.PDF"));
  CHECK(NameFilter({"*.pdf"}, {}).accepts("Scan.Pdf"));
  CHECK_FALSE(NameFilter({"*"}, {"*.TMP"}).accepts("upload.tmp"));
  CHECK_FALSE(NameFilter({"*"}, {"~$*"}).accepts("~$REPORT.DOCX"));
}

TEST_CASE("a name must match an include and no exclude", "[watcher][filter]") {
  const NameFilter filter({"*.pdf", "*.xml"}, {"draft-*"});
  CHECK(filter.accepts("invoice.xml"));
  CHECK_FALSE(filter.accepts("draft-invoice.pdf"));
  CHECK_FALSE(filter.accepts("invoice.csv"));
}

TEST_CASE("a leading dot is an ordinary character for include patterns", "[watcher][filter]") {
  CHECK(NameFilter({"*"}, {}).accepts(".profile"));
  CHECK(NameFilter({"*.pdf"}, {}).accepts(".scan.pdf"));
}

TEST_CASE("question marks and bracket classes work as in the shell", "[watcher][filter]") {
  const NameFilter filter({"scan-??.[pt][dx][ft]"}, {});
  CHECK(filter.accepts("scan-01.pdf"));
  CHECK(filter.accepts("SCAN-AB.TXT"));
  CHECK_FALSE(filter.accepts("scan-001.pdf"));
}

TEST_CASE("an empty include list accepts nothing", "[watcher][filter]") {
  CHECK_FALSE(NameFilter({}, {}).accepts("report.pdf"));
}

TEST_CASE("names with arbitrary bytes are matched byte for byte", "[watcher][filter]") {
  const NameFilter filter({"*.pdf"}, {});
  CHECK(filter.accepts("caf\xc3\xa9.pdf"));
  CHECK(filter.accepts("\xff\xfe.pdf"));
  CHECK(filter.accepts("line\nbreak.pdf"));
}

TEST_CASE("the quick matching of plain patterns agrees with fnmatch on every name",
          "[watcher][filter]") {
  const std::vector<std::string> patterns = {"*",     ".*",    "*.tmp", "~$*",   "*.PDF", "scan",
                                             "SCAN*", "*\xff", "a*b",   "*.p?f", "[ab]*", "\\*x"};
  const std::vector<std::string> names = {
      "scan", "SCAN",  "scan.pdf", "Scan.Pdf", ".hidden", "~$doc.docx", "a.tmp",       ".tmp",
      "tmp",  "x\xff", "ab",       "b.pxf",    "*x",      "",           "\xc3\xa9.pdf"};
  for (const auto& pattern : patterns) {
    NameFilter filter({pattern}, {});
    for (const auto& name : names) {
      INFO("pattern=" << pattern << " name=" << name);
      CHECK(filter.accepts(name) == (::fnmatch(pattern.c_str(), name.c_str(), FNM_CASEFOLD) == 0));
    }
  }
}
