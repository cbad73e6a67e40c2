// Path safety of the watcher's reads: a drop folder is written by people who
// may be careless or hostile, so the scan and the stat of a candidate never
// follow a symlink, never open anything but folders, and never leave the inbox.

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <climits>
#include <cstdio>
#include <string>
#include <vector>

#include "common/unique_fd.hpp"
#include "tests/unit/watcher/temp_dir.hpp"
#include "watcher/directory.hpp"
#include "watcher/file_info.hpp"

using inboxd::UniqueFd;
using inboxd::watcher::DirAccess;
using inboxd::watcher::FileInfo;
using inboxd::watcher::open_folder;
using inboxd::watcher::scan_directory;
using inboxd::watcher::stat_entry;
using inboxd::watcher::testing::TempDir;

namespace {

std::vector<std::string> scanned_rels(const TempDir& dir, const std::string& rel_dir = "",
                                      bool recursive = true) {
  auto files = scan_directory(dir.root(), rel_dir, recursive, {});
  REQUIRE(files.has_value());
  std::vector<std::string> rels;
  for (const FileInfo& file : *files) rels.push_back(file.rel);
  return rels;
}

bool stat_finds(const TempDir& dir, const std::string& rel) {
  auto entry = stat_entry(dir.root(), rel);
  REQUIRE(entry.has_value());
  return entry->has_value();
}

// Watches one folder for IN_OPEN: the kernel reports every open of an entry
// in it (O_PATH opens excepted, which cannot read or block).
class OpenSpy {
 public:
  explicit OpenSpy(const std::vector<std::string>& folders)
      : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    REQUIRE(fd_.valid());
    for (const auto& folder : folders) {
      REQUIRE(::inotify_add_watch(fd_.get(), folder.c_str(), IN_OPEN) >= 0);
    }
  }
  // Names of the entries other than folders opened since the spy started.
  std::vector<std::string> opened_non_folders() const {
    std::vector<std::string> names;
    alignas(inotify_event) char buffer[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(fd_.get(), buffer, sizeof buffer);
      if (n <= 0) return names;
      for (ssize_t at = 0; at < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        if ((event->mask & IN_ISDIR) == 0) names.emplace_back(event->len ? event->name : "");
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
  }

 private:
  UniqueFd fd_;
};

// Replaces rel by a symlink to target in one atomic step, as a writer racing
// the daemon would (the old entry ends up at rel + ".old").
void exchange_with_symlink(const TempDir& dir, const std::string& rel, const std::string& target) {
  dir.symlink(target, rel + ".old");
  REQUIRE(::renameat2(AT_FDCWD, dir.path(rel + ".old").c_str(), AT_FDCWD, dir.path(rel).c_str(),
                      RENAME_EXCHANGE) == 0);
}

// Removes a tree whose paths may be longer than PATH_MAX (std::filesystem
// cannot), working relative to each folder's fd.
void remove_tree_at(int parent_fd, const std::string& name) {
  UniqueFd fd(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid()) {
    auto entries = inboxd::watcher::read_entries(fd.get(), name);
    for (const auto& entry : entries ? *entries : std::vector<inboxd::watcher::DirEntry>{}) {
      if (::unlinkat(fd.get(), entry.name.c_str(), 0) != 0) remove_tree_at(fd.get(), entry.name);
    }
  }
  ::unlinkat(parent_fd, name.c_str(), AT_REMOVEDIR);
}

}  // namespace

TEST_CASE("scan and stat_entry open no entry of a drop folder, only folders",
          "[watcher][path_safety]") {
  TempDir dir;
  dir.write("plain.pdf");
  dir.fifo("idle.fifo");  // opening it for reading would block until a writer came
  dir.fifo("held.fifo");
  UniqueFd writer(::open(dir.path("held.fifo").c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE(writer.valid());
  REQUIRE(::write(writer.get(), "data", 4) == 4);
  dir.socket("sock");
  dir.symlink(dir.path("plain.pdf"), "link.pdf");
  const bool have_device =
      ::mknod(dir.path("null.dev").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
  if (!have_device) WARN("no device node: mknod needs CAP_MKNOD");
  dir.mkdir("sub");
  dir.fifo("sub/deep.fifo");
  OpenSpy spy({dir.root().string(), dir.path("sub")});

  CHECK(scanned_rels(dir) == std::vector<std::string>{"plain.pdf"});
  for (const char* rel :
       {"plain.pdf", "idle.fifo", "held.fifo", "sock", "link.pdf", "null.dev", "sub/deep.fifo"}) {
    CHECK(stat_finds(dir, rel) == (std::string(rel) == "plain.pdf"));
  }
  CHECK(spy.opened_non_folders().empty());
  // The spy does see an open when there is one.
  UniqueFd reader(::open(dir.path("plain.pdf").c_str(), O_RDONLY | O_CLOEXEC));
  CHECK(spy.opened_non_folders() == std::vector<std::string>{"plain.pdf"});
}

TEST_CASE("a recursive scan never descends into a symlink to a folder outside the inbox",
          "[watcher][path_safety]") {
  TempDir inbox;
  TempDir outside;
  outside.write("secret.txt", "secret");
  inbox.mkdir("sub");
  inbox.write("sub/mine.txt");
  inbox.symlink(outside.root().string(), "alias");
  inbox.symlink(outside.root().string(), "sub/deeper-alias");
  inbox.symlink("..", "sub/up");

  CHECK(scanned_rels(inbox) == std::vector<std::string>{"sub/mine.txt"});
  CHECK(scanned_rels(inbox, "alias").empty());
  CHECK(scanned_rels(inbox, "sub/deeper-alias").empty());
  CHECK(scanned_rels(inbox, "sub/up").empty());
  CHECK_FALSE(stat_finds(inbox, "alias/secret.txt"));
  CHECK_FALSE(stat_finds(inbox, "sub/deeper-alias/secret.txt"));
}

TEST_CASE("a subfolder swapped for a symlink between two scans is not entered",
          "[watcher][path_safety]") {
  TempDir inbox;
  TempDir outside;
  outside.write("secret.txt", "secret");
  inbox.mkdir("sub");
  inbox.write("sub/mine.txt");
  CHECK(scanned_rels(inbox) == std::vector<std::string>{"sub/mine.txt"});
  exchange_with_symlink(inbox, "sub", outside.root().string());
  // The old folder now sits at "sub.old"; "sub" points outside the inbox.
  CHECK(scanned_rels(inbox) == std::vector<std::string>{"sub.old/mine.txt"});
  CHECK_FALSE(stat_finds(inbox, "sub/secret.txt"));
}

TEST_CASE("a file swapped for a symlink, a FIFO or a folder after its scan is no longer found",
          "[watcher][path_safety]") {
  TempDir inbox;
  TempDir outside;
  outside.write("secret.txt", "secret");
  inbox.write("swap.txt", "innocent");
  REQUIRE(scanned_rels(inbox, "", false) == std::vector<std::string>{"swap.txt"});
  const std::string kind = GENERATE("symlink", "fifo", "folder");
  if (kind == "symlink") {
    exchange_with_symlink(inbox, "swap.txt", outside.path("secret.txt"));
  } else {
    if (kind == "fifo") {
      inbox.fifo("staged");
    } else {
      inbox.mkdir("staged");
    }
    REQUIRE(::renameat2(AT_FDCWD, inbox.path("staged").c_str(), AT_FDCWD,
                        inbox.path("swap.txt").c_str(), RENAME_EXCHANGE) == 0);
  }
  INFO("swap.txt is now a " << kind);
  CHECK_FALSE(stat_finds(inbox, "swap.txt"));
  CHECK(scanned_rels(inbox, "", false) ==
        std::vector<std::string>{kind == "symlink" ? "swap.txt.old" : "staged"});
}

TEST_CASE("open_folder neither follows nor opens an entry that is not a folder",
          "[watcher][path_safety]") {
  TempDir inbox;
  TempDir outside;
  inbox.mkdir("real");
  inbox.write("file");
  inbox.fifo("pipe");  // an open for reading would block here
  inbox.symlink(outside.root().string(), "alias");
  for (auto access : {DirAccess::kList, DirAccess::kLookup}) {
    for (const char* rel : {"alias", "alias/x", "pipe", "file", "file/x", "real/alias"}) {
      auto folder = open_folder(inbox.root(), rel, access);
      INFO(rel);
      REQUIRE(folder.has_value());
      CHECK_FALSE(folder->valid());
    }
    CHECK(open_folder(inbox.root(), "real", access)->valid());
    CHECK_FALSE(open_folder(inbox.root(), "real/..", access).has_value());
    CHECK_FALSE(open_folder(inbox.root(), "/etc", access).has_value());
  }
}

TEST_CASE("a tree deeper than PATH_MAX allows is scanned without failing, down to that depth",
          "[watcher][path_safety]") {
  TempDir inbox;
  const std::string segment(200, 'd');
  UniqueFd folder(::open(inbox.root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::string rel;
  std::vector<std::string> reachable;
  // 30 levels of 201 bytes: about 6 KiB, past PATH_MAX (4 KiB).
  for (int depth = 0; depth < 30; ++depth) {
    REQUIRE(::mkdirat(folder.get(), segment.c_str(), 0755) == 0);
    folder = UniqueFd(::openat(folder.get(), segment.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    REQUIRE(folder.valid());
    rel += (rel.empty() ? "" : "/") + segment;
    UniqueFd file(::openat(folder.get(), "f", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    REQUIRE(file.valid());
    if (inbox.root().native().size() + rel.size() + 3 < PATH_MAX) reachable.push_back(rel + "/f");
  }
  auto files = scan_directory(inbox.root(), "", true, {});
  REQUIRE(files.has_value());
  std::vector<std::string> rels;
  for (const FileInfo& file : *files) rels.push_back(file.rel);
  std::sort(reachable.begin(), reachable.end());
  CHECK(rels == reachable);
  CHECK(reachable.size() > 10);
  UniqueFd root(::open(inbox.root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  remove_tree_at(root.get(), segment);
}
