// Claims into the spool, on a real temporary folder: a claim takes a new
// spool folder or nothing.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/app/folder_tasks.hpp"
#include "tests/unit/app/app_test_support.hpp"

namespace fs = std::filesystem;
using inboxd::app::move_into_spool;
using inboxd::app::place_outcome;
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

 private:
  fs::path root_;
};

}  // namespace

TEST_CASE("a claim moves each file into a new spool folder named after its job",
          "[folder_tasks]") {
  InboxFolder f;
  auto dropped = f.put(f.root() / "scan.pdf", "new");
  auto moved = move_into_spool(f.root(), f.spool(), {{dropped, f.spool() / "7" / "scan.pdf", {}}}, {});
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
  auto moved = move_into_spool(f.root(), f.spool(), {{dropped, f.spool() / "7" / "scan.pdf", {}}}, {});
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
  auto moved = move_into_spool(f.root(), f.spool(),
                               {{dropped, f.spool() / "8" / "next.pdf", f.spool() / ".free-7"}}, {});
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
  for (int id : {3, 4, 5, 6}) left += fs::exists(f.spool() / (".free-" + std::to_string(id))) ? 1 : 0;
  CHECK(left == 2);
  for (auto id : survey.free_folders) CHECK(fs::exists(f.spool() / (".free-" + std::to_string(id))));
  CHECK(fs::exists(f.spool() / ".free-x"));
  CHECK(survey.folders.empty());
}

TEST_CASE("a kept folder never lands on a spool folder that exists already", "[folder_tasks]") {
  InboxFolder f;
  fs::create_directories(f.spool() / ".free-3");
  auto waiting = f.put(f.spool() / "8" / "next.pdf", "waiting");
  auto dropped = f.put(f.root() / "next.pdf", "new");
  auto moved = move_into_spool(f.root(), f.spool(),
                               {{dropped, f.spool() / "8" / "next.pdf", f.spool() / ".free-3"}}, {});
  REQUIRE(moved.results.size() == 1);
  CHECK_FALSE(moved.results[0].moved);
  CHECK(moved.results[0].error_code == EEXIST);
  CHECK(read_file(waiting) == "waiting");
  CHECK(read_file(dropped) == "new");
}
