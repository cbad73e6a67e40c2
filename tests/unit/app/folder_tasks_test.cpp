// Claims into the spool and outcomes out of it, on a real temporary folder:
// a batch of claims takes new spool folders or nothing, and a folder is
// kept for reuse only once it is empty.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/app/folder_tasks.hpp"
#include "tests/unit/app/app_test_support.hpp"

namespace fs = std::filesystem;
using inboxd::app::folder_is_empty;
using inboxd::app::move_into_spool;
using inboxd::app::place_outcome;
using inboxd::app::place_outcomes;
using inboxd::app::PlaceRequest;
using inboxd::app::SpoolMove;
using inboxd::app::survey_spool;
using inboxd::app::test::read_file;

namespace {

class InboxFolder {
 public:
  InboxFolder() {
    std::string tmpl = (fs::temp_directory_path() / "inboxd-claim-XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
    fs::create_directories(spool());
  }
  ~InboxFolder() { fs::remove_all(root_); }
  InboxFolder(const InboxFolder&) = delete;
  InboxFolder& operator=(const InboxFolder&) = delete;

  const fs::path& root() const { return root_; }
  fs::path spool() const { return root_ / ".inboxd" / "spool"; }
  fs::path put(const fs::path& file, const std::string& content) const {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << content;
    return file;
  }
  // A move of `file` into spool/<folder>/ under its own name.
  SpoolMove into(const fs::path& file, const std::string& folder, bool joins = false) const {
    return {file, spool() / folder / file.filename(), joins, {}};
  }
  inboxd::app::ClaimMoves claim(const std::vector<SpoolMove>& moves) const {
    return move_into_spool(root_, spool(), moves, {});
  }

 private:
  fs::path root_;
};

}  // namespace

TEST_CASE("a claim moves each file into a new spool folder named after its job", "[folder_tasks]") {
  InboxFolder f;
  auto dropped = f.put(f.root() / "scan.pdf", "new");
  auto moved = f.claim({f.into(dropped, "7")});
  REQUIRE(moved.results.size() == 1);
  CHECK(moved.results[0].moved);
  CHECK_FALSE(fs::exists(dropped));
  CHECK(read_file(f.spool() / "7" / "scan.pdf") == "new");
}

TEST_CASE("a claim never moves a file into a spool folder that exists already", "[folder_tasks]") {
  InboxFolder f;
  // Left by a job whose row a power loss took: its file waits for adoption.
  auto waiting = f.put(f.spool() / "7" / "scan.pdf", "waiting");
  auto dropped = f.put(f.root() / "scan.pdf", "new");
  auto moved = f.claim({f.into(dropped, "7")});
  REQUIRE(moved.results.size() == 1);
  CHECK_FALSE(moved.results[0].moved);
  CHECK(moved.results[0].error_code == EEXIST);
  CHECK(read_file(waiting) == "waiting");
  CHECK(read_file(dropped) == "new");
}

TEST_CASE("a finished job's emptied spool folder is kept, and the next claim takes it",
          "[folder_tasks]") {
  InboxFolder f;
  auto spooled = f.put(f.spool() / "7" / "scan.pdf", "done");
  PlaceRequest request;
  request.inbox = f.root();
  request.from = spooled;
  request.dest_dir = f.root() / "done";
  request.rel = "scan.pdf";
  request.keep_folder_as = f.spool() / ".free-7";
  auto placed = place_outcome(request);
  CHECK_FALSE(placed.error);
  CHECK(placed.kept_folder == f.spool() / ".free-7");
  CHECK(fs::is_empty(f.spool() / ".free-7"));
  CHECK_FALSE(fs::exists(f.spool() / "7"));
  auto survey = survey_spool(f.spool(), {}, 10);
  CHECK(survey.folders.empty());  // a kept folder is no job's folder
  CHECK(survey.free_folders == std::vector<std::int64_t>{7});

  auto dropped = f.put(f.root() / "next.pdf", "next");
  auto moved =
      move_into_spool(f.root(), f.spool(),
                      {{dropped, f.spool() / "8" / "next.pdf", false, f.spool() / ".free-7"}}, {});
  REQUIRE(moved.results.size() == 1);
  CHECK(moved.results[0].moved);
  CHECK(read_file(f.spool() / "8" / "next.pdf") == "next");
  CHECK_FALSE(fs::exists(f.spool() / ".free-7"));
}

TEST_CASE("the spool survey keeps as many emptied folders as asked and removes the rest",
          "[folder_tasks]") {
  InboxFolder f;
  for (int id : {3, 4, 5, 6}) fs::create_directories(f.spool() / (".free-" + std::to_string(id)));
  fs::create_directories(f.spool() / ".free-x");  // not ours: left alone
  auto survey = survey_spool(f.spool(), {}, 2);
  CHECK(survey.free_folders.size() == 2);
  int left = 0;
  for (int id : {3, 4, 5, 6})
    left += fs::exists(f.spool() / (".free-" + std::to_string(id))) ? 1 : 0;
  CHECK(left == 2);
  for (auto id : survey.free_folders)
    CHECK(fs::exists(f.spool() / (".free-" + std::to_string(id))));
  CHECK(fs::exists(f.spool() / ".free-x"));
  CHECK(survey.folders.empty());
}

TEST_CASE("a kept folder never lands on a spool folder that exists already", "[folder_tasks]") {
  InboxFolder f;
  fs::create_directories(f.spool() / ".free-3");
  auto waiting = f.put(f.spool() / "8" / "next.pdf", "waiting");
  auto dropped = f.put(f.root() / "next.pdf", "new");
  auto moved =
      move_into_spool(f.root(), f.spool(),
                      {{dropped, f.spool() / "8" / "next.pdf", false, f.spool() / ".free-3"}}, {});
  REQUIRE(moved.results.size() == 1);
  CHECK_FALSE(moved.results[0].moved);
  CHECK(moved.results[0].error_code == EEXIST);
  CHECK(read_file(waiting) == "waiting");
  CHECK(read_file(dropped) == "new");
}

TEST_CASE("files claimed together share one spool folder, each under its own name",
          "[folder_tasks]") {
  InboxFolder f;
  auto a = f.put(f.root() / "a.pdf", "a");
  auto b = f.put(f.root() / "b.pdf", "b");
  auto moved = f.claim({f.into(a, "7"), f.into(b, "7", true)});
  REQUIRE(moved.results.size() == 2);
  CHECK(moved.results[0].moved);
  CHECK(moved.results[1].moved);
  CHECK(read_file(f.spool() / "7" / "a.pdf") == "a");
  CHECK(read_file(f.spool() / "7" / "b.pdf") == "b");
}

TEST_CASE("a file never joins a spool folder that existed before its batch", "[folder_tasks]") {
  InboxFolder f;
  auto waiting = f.put(f.spool() / "7" / "b.pdf", "waiting");
  auto a = f.put(f.root() / "a.pdf", "a");
  auto b = f.put(f.root() / "b.pdf", "b");
  auto moved = f.claim({f.into(a, "7"), f.into(b, "7", true)});
  REQUIRE(moved.results.size() == 2);
  CHECK(moved.results[0].error_code == EEXIST);
  CHECK(moved.results[1].error_code == EEXIST);
  CHECK(moved.results[1].retry);
  CHECK(read_file(a) == "a");
  CHECK(read_file(b) == "b");
  CHECK(read_file(waiting) == "waiting");
  CHECK_FALSE(fs::exists(f.spool() / "7" / "a.pdf"));
}

TEST_CASE(
    "a later batch joins the folder an earlier one made, and a file whose folder is gone is "
    "left to be claimed again",
    "[folder_tasks]") {
  InboxFolder f;
  f.put(f.spool() / "7" / "a.pdf", "a");
  auto b = f.put(f.root() / "b.pdf", "b");
  auto c = f.put(f.root() / "c.pdf", "c");
  auto moved = f.claim({f.into(b, "7", true), f.into(c, "8", true)});
  REQUIRE(moved.results.size() == 2);
  CHECK(moved.results[0].moved);
  CHECK(read_file(f.spool() / "7" / "b.pdf") == "b");
  CHECK_FALSE(moved.results[1].moved);
  CHECK(moved.results[1].retry);  // folder 8 is not there: the file stays for its next claim
  CHECK(read_file(c) == "c");
  CHECK(fs::exists(f.spool() / "7" / "a.pdf"));
}

TEST_CASE("a file joining a spool folder never replaces one of the same name there",
          "[folder_tasks]") {
  InboxFolder f;
  // Two names that one filesystem might take for the same file.
  auto first = f.put(f.root() / "a.pdf", "first");
  auto second = f.put(f.root() / "sub" / "a.pdf", "second");
  auto moved = f.claim({f.into(first, "7"), f.into(second, "7", true)});
  REQUIRE(moved.results.size() == 2);
  CHECK(moved.results[0].moved);
  CHECK(moved.results[1].error_code == EEXIST);
  CHECK(moved.results[1].retry);
  CHECK(read_file(f.spool() / "7" / "a.pdf") == "first");
  CHECK(read_file(second) == "second");
}

TEST_CASE("a spool folder that took no file of its batch is removed again", "[folder_tasks]") {
  InboxFolder f;
  auto b = f.put(f.root() / "b.pdf", "b");
  auto moved = f.claim({f.into(f.root() / "gone.pdf", "7"),
                        f.into(f.root() / "gone2.pdf", "7", true), f.into(b, "9")});
  REQUIRE(moved.results.size() == 3);
  CHECK(moved.results[0].error_code == ENOENT);
  CHECK_FALSE(moved.results[0].retry);  // the file is gone, not the folder
  CHECK(moved.results[1].error_code == ENOENT);
  CHECK(moved.results[2].moved);
  CHECK_FALSE(fs::exists(f.spool() / "7"));
  CHECK(read_file(f.spool() / "9" / "b.pdf") == "b");
}

TEST_CASE("a shared spool folder is kept for reuse only once its last file has left",
          "[folder_tasks]") {
  InboxFolder f;
  auto a = f.put(f.spool() / "7" / "a.pdf", "a");
  auto b = f.put(f.spool() / "7" / "b.pdf", "b");
  auto place = [&](const fs::path& from, const std::string& rel, int id) {
    PlaceRequest request;
    request.inbox = f.root();
    request.from = from;
    request.dest_dir = f.root() / "done";
    request.rel = rel;
    request.keep_folder_as = f.spool() / (".free-" + std::to_string(id));
    return place_outcome(request);
  };
  auto first = place(a, "a.pdf", 7);
  CHECK_FALSE(first.error);
  CHECK_FALSE(first.kept_folder);
  CHECK(read_file(b) == "b");  // still where its job expects it
  auto last = place(b, "b.pdf", 8);
  CHECK_FALSE(last.error);
  CHECK(last.kept_folder == f.spool() / ".free-8");
  CHECK_FALSE(fs::exists(f.spool() / "7"));
  CHECK(read_file(f.root() / "done" / "a.pdf") == "a");
  CHECK(read_file(f.root() / "done" / "b.pdf") == "b");
}

TEST_CASE("outcomes moved together land under names of their own, and a missing file is told apart",
          "[folder_tasks]") {
  InboxFolder f;
  auto a = f.put(f.spool() / "7" / "report.pdf", "first");
  auto b = f.put(f.spool() / "8" / "report.pdf", "second");
  auto request = [&](const fs::path& from) {
    PlaceRequest r;
    r.inbox = f.root();
    r.from = from;
    r.dest_dir = f.root() / "done";
    r.rel = "report.pdf";
    return r;
  };
  auto gone = request(f.spool() / "9" / "report.pdf");
  auto shared = request(a);
  shared.folder_shared = true;  // another file of this run still lies beside it
  auto f2 = f.put(f.spool() / "7" / "other.pdf", "other");
  auto placed = place_outcomes({shared, gone, request(b)});
  REQUIRE(placed.size() == 3);
  CHECK(placed[0].final_path == f.root() / "done" / "report.pdf");
  CHECK(placed[1].source_missing);
  CHECK(placed[2].final_path == f.root() / "done" / "report~1.pdf");
  CHECK(read_file(f.root() / "done" / "report.pdf") == "first");
  CHECK(read_file(f.root() / "done" / "report~1.pdf") == "second");
  CHECK(read_file(f2) == "other");
  CHECK_FALSE(fs::exists(f.spool() / "8"));
}

TEST_CASE("a folder is empty only when it holds no entry at all, and only when it is a folder",
          "[folder_tasks]") {
  InboxFolder f;
  auto dir = f.root() / "work";
  fs::create_directories(dir);
  CHECK(folder_is_empty(dir));
  f.put(dir / ".hidden", "x");
  CHECK_FALSE(folder_is_empty(dir));
  fs::remove(dir / ".hidden");
  fs::create_directories(dir / "sub");
  CHECK_FALSE(folder_is_empty(dir));
  fs::remove(dir / "sub");
  for (int i = 0; i < 300; ++i) f.put(dir / ("file-with-a-longer-name-" + std::to_string(i)), "x");
  CHECK_FALSE(folder_is_empty(dir));
  CHECK_FALSE(folder_is_empty(dir / "file-with-a-longer-name-0"));
  CHECK_FALSE(folder_is_empty(f.root() / "missing"));
  fs::create_directories(f.root() / "empty");
  fs::create_directory_symlink(f.root() / "empty", f.root() / "link");
  CHECK(folder_is_empty(f.root() / "empty"));
  CHECK_FALSE(folder_is_empty(f.root() / "link"));
}
