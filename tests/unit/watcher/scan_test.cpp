#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/unit/watcher/temp_dir.hpp"
#include "watcher/file_info.hpp"

using inboxd::watcher::FileInfo;
using inboxd::watcher::scan_directory;
using inboxd::watcher::SkipDir;
using inboxd::watcher::stat_entries;
using inboxd::watcher::stat_entry;
using inboxd::watcher::testing::TempDir;

namespace {

// A drop folder with verbs to fill it and to scan it.
class ScanFixture {
 public:
  // The rels a successful scan returns, in the order it returns them.
  std::vector<std::string> scan(const std::string& rel_dir = "", bool recursive = false,
                                const SkipDir& skip = {}) const {
    auto files = scan_directory(dir.root(), rel_dir, recursive, skip);
    REQUIRE(files.has_value());
    std::vector<std::string> rels;
    for (const FileInfo& file : *files) rels.push_back(file.rel);
    return rels;
  }
  // A small tree: top-level files, a subfolder, and a nested subfolder.
  void make_tree() const {
    dir.write("top.txt");
    dir.mkdir("sub");
    dir.write("sub/inner.txt");
    dir.mkdir("sub/deep");
    dir.write("sub/deep/leaf.txt");
  }

  TempDir dir;
};

}  // namespace

TEST_CASE("a scan lists regular files only", "[watcher][scan]") {
  ScanFixture f;
  f.dir.write("file.pdf");
  f.dir.symlink(f.dir.path("file.pdf"), "link-to-file");
  f.dir.symlink("/etc", "link-to-folder");
  f.dir.symlink("/nonexistent", "dangling");
  f.dir.fifo("pipe");  // opening it would block the scan forever
  f.dir.socket("sock");
  f.dir.mkdir("folder");
  CHECK(f.scan() == std::vector<std::string>{"file.pdf"});
}

TEST_CASE("a scan reports size, mtime and identity from lstat", "[watcher][scan]") {
  ScanFixture f;
  f.dir.write("a.pdf", "hello");
  struct stat st {};
  REQUIRE(::lstat(f.dir.path("a.pdf").c_str(), &st) == 0);
  auto files = scan_directory(f.dir.root(), "", false, {});
  REQUIRE(files.has_value());
  REQUIRE(files->size() == 1);
  const FileInfo& file = files->front();
  CHECK(file.size == 5);
  CHECK(file.mtime_ns == st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec);
  CHECK(file.ino == st.st_ino);
  CHECK(file.dev == st.st_dev);
  CHECK(file.nlink == 1);
  CHECK(file.name() == "a.pdf");
}

TEST_CASE("scan results are sorted bytewise by rel", "[watcher][scan]") {
  ScanFixture f;
  for (const char* name : {"b", "\xff-high", "B", "a", "A", "_"}) f.dir.write(name);
  CHECK(f.scan() == std::vector<std::string>{"A", "B", "_", "a", "b", "\xff-high"});
}

TEST_CASE("a large recursive scan keeps every file, each with its own stat, in rel order",
          "[watcher][scan]") {
  // Enough names, created out of order and across folders, that the sort
  // has to move files through long permutation cycles; each file's size
  // says which file it is.
  ScanFixture f;
  f.dir.mkdir("sub");
  f.dir.mkdir("sub-b");
  std::vector<std::string> expected;
  for (int i = 0; i < 600; ++i) {
    const int n = (i * 397) % 600;  // 397 is prime to 600: every n once, scrambled
    const char* folder = n % 3 == 0 ? "" : n % 3 == 1 ? "sub/" : "sub-b/";
    const std::string rel = folder + std::string("f") + std::to_string(n) + (n % 2 ? ".pdf" : "");
    f.dir.write(rel, std::string(static_cast<std::size_t>(n + 1), 'x'));
    expected.push_back(rel);
  }
  std::sort(expected.begin(), expected.end());
  auto files = scan_directory(f.dir.root(), "", true, {});
  REQUIRE(files.has_value());
  std::vector<std::string> rels;
  for (const FileInfo& file : *files) {
    rels.push_back(file.rel);
    const auto digits = file.name().substr(1, file.name().find('.') - 1);
    CHECK(file.size == std::stoul(std::string(digits)) + 1);
  }
  CHECK(rels == expected);
}

TEST_CASE("subfolders are scanned only when recursive", "[watcher][scan]") {
  ScanFixture f;
  f.make_tree();
  CHECK(f.scan() == std::vector<std::string>{"top.txt"});
  CHECK(f.scan("", true) ==
        std::vector<std::string>{"sub/deep/leaf.txt", "sub/inner.txt", "top.txt"});
}

TEST_CASE("a scan of a subfolder reports rels from the inbox root", "[watcher][scan]") {
  ScanFixture f;
  f.make_tree();
  CHECK(f.scan("sub") == std::vector<std::string>{"sub/inner.txt"});
  CHECK(f.scan("sub", true) == std::vector<std::string>{"sub/deep/leaf.txt", "sub/inner.txt"});
}

TEST_CASE("skip_dir keeps the inbox's own folders out of a recursive scan", "[watcher][scan]") {
  ScanFixture f;
  f.make_tree();
  f.dir.mkdir("done");
  f.dir.write("done/old.txt");
  std::vector<std::string> asked;
  const SkipDir skip = [&](std::string_view rel) {
    asked.emplace_back(rel);
    return rel == "done" || rel == "sub/deep";
  };
  CHECK(f.scan("", true, skip) == std::vector<std::string>{"sub/inner.txt", "top.txt"});
  std::sort(asked.begin(), asked.end());
  CHECK(asked == std::vector<std::string>{"done", "sub", "sub/deep"});
}

TEST_CASE("a recursive scan never follows a symlinked folder", "[watcher][scan]") {
  ScanFixture f;
  f.dir.mkdir("real");
  f.dir.write("real/file.txt");
  f.dir.symlink(f.dir.path("real"), "alias");
  CHECK(f.scan("", true) == std::vector<std::string>{"real/file.txt"});
  CHECK(f.scan("alias").empty());
}

TEST_CASE("names with hostile bytes come back byte-exact and can be stat'ed", "[watcher][scan]") {
  ScanFixture f;
  const std::vector<std::string> names = {"-rf",      " lead space", "line\nbreak", "tab\there",
                                          "\xff\xfe", "caf\xc3\xa9", "back\\slash", "*?["};
  for (const auto& name : names) f.dir.write(name, name);
  std::vector<std::string> expected = names;
  std::sort(expected.begin(), expected.end());
  CHECK(f.scan() == expected);
  for (const auto& name : names) {
    auto entry = stat_entry(f.dir.root(), name);
    REQUIRE(entry.has_value());
    REQUIRE(entry->has_value());
    CHECK((*entry)->rel == name);
    CHECK((*entry)->size == name.size());
  }
}

TEST_CASE("a missing inbox folder is an error naming the operation and the path",
          "[watcher][scan]") {
  ScanFixture f;
  const auto missing = f.dir.root() / "missing";
  auto files = scan_directory(missing, "", false, {});
  REQUIRE_FALSE(files.has_value());
  CHECK(files.error().code == ENOENT);
  CHECK(files.error().message == "opendir " + missing.string() + ": No such file or directory");
}

TEST_CASE("an inbox path that is a file is an error", "[watcher][scan]") {
  ScanFixture f;
  f.dir.write("plain");
  auto files = scan_directory(f.dir.path("plain"), "", false, {});
  REQUIRE_FALSE(files.has_value());
  CHECK(files.error().code == ENOTDIR);
}

TEST_CASE("a subfolder that vanished scans as empty", "[watcher][scan]") {
  ScanFixture f;
  CHECK(f.scan("gone", true).empty());
  CHECK(f.scan("gone/deeper").empty());
}

TEST_CASE("stat_entry finds regular files only", "[watcher][scan]") {
  ScanFixture f;
  f.make_tree();
  f.dir.fifo("pipe");
  f.dir.symlink(f.dir.path("top.txt"), "link");
  auto found = stat_entry(f.dir.root(), "sub/inner.txt");
  REQUIRE(found.has_value());
  REQUIRE(found->has_value());
  CHECK((*found)->rel == "sub/inner.txt");
  for (const char* rel : {"pipe", "link", "sub", "missing", "missing/x", "top.txt/x"}) {
    auto entry = stat_entry(f.dir.root(), rel);
    REQUIRE(entry.has_value());
    CHECK_FALSE(entry->has_value());
  }
}

TEST_CASE("stat_entries answers for each rel as stat_entry does, folder by folder",
          "[watcher][scan]") {
  ScanFixture f;
  f.make_tree();
  f.dir.fifo("pipe");
  f.dir.mkdir("real");
  f.dir.write("real/file.txt");
  f.dir.symlink(f.dir.path("real"), "alias");
  const std::vector<std::string> rels = {"top.txt",     "pipe",          "sub/inner.txt",
                                         "sub/missing", "top.txt",       "alias/file.txt",
                                         "..",          "real/file.txt", "missing/x"};
  auto batch = stat_entries(f.dir.root(), rels);
  REQUIRE(batch.size() == rels.size());
  for (std::size_t i = 0; i < rels.size(); ++i) {
    INFO(rels[i]);
    auto single = stat_entry(f.dir.root(), rels[i]);
    REQUIRE(batch[i].has_value() == single.has_value());
    if (!single) {
      CHECK(batch[i].error().message == single.error().message);
      continue;
    }
    REQUIRE(batch[i]->has_value() == single->has_value());
    if (*single) CHECK((*batch[i])->rel == (*single)->rel);
  }
  CHECK(batch[0]->has_value());
  CHECK_FALSE(batch[5]->has_value());  // not through the symlinked folder
  CHECK_FALSE(batch[6].has_value());   // not a name
  CHECK(batch[7]->has_value());
}

TEST_CASE("stat_entry does not follow a symlinked folder on the way", "[watcher][scan]") {
  ScanFixture f;
  f.dir.mkdir("real");
  f.dir.write("real/file.txt");
  f.dir.symlink(f.dir.path("real"), "alias");
  auto entry = stat_entry(f.dir.root(), "alias/file.txt");
  REQUIRE(entry.has_value());
  CHECK_FALSE(entry->has_value());
}

TEST_CASE("rels that climb out of the inbox are refused", "[watcher][scan]") {
  ScanFixture f;
  CHECK_FALSE(stat_entry(f.dir.root(), "../etc/passwd").has_value());
  CHECK_FALSE(scan_directory(f.dir.root(), "..", false, {}).has_value());
  CHECK_FALSE(scan_directory(f.dir.root(), "a//b", false, {}).has_value());
}
