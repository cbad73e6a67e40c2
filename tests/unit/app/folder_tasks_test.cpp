// Claims into the spool, on a real temporary folder: a claim takes a new
// spool folder or nothing.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/app/folder_tasks.hpp"

namespace fs = std::filesystem;
using inboxd::app::move_into_spool;
using inboxd::app::SpoolMove;

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
  static std::string read(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  fs::path root_;
};

}  // namespace

TEST_CASE("a claim moves each file into a new spool folder named after its job",
          "[folder_tasks]") {
  InboxFolder f;
  auto dropped = f.put(f.root() / "scan.pdf", "new");
  auto moved = move_into_spool(f.root(), f.spool(), {{dropped, f.spool() / "7" / "scan.pdf"}}, {});
  REQUIRE(moved.results.size() == 1);
  CHECK(moved.results[0].moved);
  CHECK_FALSE(fs::exists(dropped));
  CHECK(InboxFolder::read(f.spool() / "7" / "scan.pdf") == "new");
}

TEST_CASE("a claim never moves a file into a spool folder that exists already", "[folder_tasks]") {
  InboxFolder f;
  // Left by a job whose row a power loss took: its file waits for adoption.
  auto waiting = f.put(f.spool() / "7" / "scan.pdf", "waiting");
  auto dropped = f.put(f.root() / "scan.pdf", "new");
  auto moved = move_into_spool(f.root(), f.spool(), {{dropped, f.spool() / "7" / "scan.pdf"}}, {});
  REQUIRE(moved.results.size() == 1);
  CHECK_FALSE(moved.results[0].moved);
  CHECK(moved.results[0].error_code == EEXIST);
  CHECK(InboxFolder::read(waiting) == "waiting");
  CHECK(InboxFolder::read(dropped) == "new");
}
