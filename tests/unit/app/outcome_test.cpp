#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/app/outcome.hpp"
#include "tests/unit/app/app_test_support.hpp"

namespace fs = std::filesystem;
using inboxd::app::format_error_report;
using inboxd::app::move_into;
using inboxd::app::suffixed_name;
using inboxd::app::test::read_file;

namespace {

// A temporary folder with a spool and a destination, and verbs to fill them.
class OutcomeFixture {
 public:
  OutcomeFixture() {
    std::string tmpl = (fs::temp_directory_path() / "inboxd-outcome-XXXXXX").string();
    root_ = ::mkdtemp(tmpl.data());
    fs::create_directories(root_ / "spool");
  }
  ~OutcomeFixture() { fs::remove_all(root_); }

  fs::path spooled(const std::string& name, const std::string& content) {
    auto p = root_ / "spool" / name;
    std::ofstream(p) << content;
    return p;
  }
  void put(const std::string& rel, const std::string& content) {
    fs::create_directories((dest() / rel).parent_path());
    std::ofstream(dest() / rel) << content;
  }
  fs::path dest() const { return root_ / "done"; }

 private:
  fs::path root_;
};

}  // namespace

TEST_CASE("a suffix goes before the last extension", "[outcome]") {
  CHECK(suffixed_name("report.pdf", 1) == "report~1.pdf");
  CHECK(suffixed_name("report.pdf", 2) == "report~2.pdf");
  CHECK(suffixed_name("archive.tar.gz", 1) == "archive.tar~1.gz");
  CHECK(suffixed_name("README", 3) == "README~3");
}

TEST_CASE("a file moves to its relative path, creating folders", "[outcome]") {
  OutcomeFixture f;
  auto moved = move_into(f.spooled("a.txt", "A"), f.dest(), "sub/dir/a.txt", false);
  REQUIRE(moved);
  CHECK(*moved == f.dest() / "sub/dir/a.txt");
  CHECK(read_file(*moved) == "A");
}

TEST_CASE("an existing name is never overwritten", "[outcome]") {
  OutcomeFixture f;
  f.put("report.pdf", "old");
  f.put("report~1.pdf", "older");
  auto moved = move_into(f.spooled("report.pdf", "new"), f.dest(), "report.pdf", false);
  REQUIRE(moved);
  CHECK(moved->filename() == "report~2.pdf");
  CHECK(read_file(f.dest() / "report.pdf") == "old");
  CHECK(read_file(f.dest() / "report~1.pdf") == "older");
  CHECK(read_file(*moved) == "new");
}

TEST_CASE("a failed file gets a name whose report name is free too", "[outcome]") {
  OutcomeFixture f;
  f.put("scan.pdf.error.txt", "someone else's report");
  auto moved = move_into(f.spooled("scan.pdf", "x"), f.dest(), "scan.pdf", true);
  REQUIRE(moved);
  CHECK(moved->filename() == "scan~1.pdf");
}

TEST_CASE("the error report names the job, each attempt and the last stderr lines", "[outcome]") {
  inboxd::queue::Job job;
  job.id = 42;
  job.inbox = "scans";
  job.rel = "invoice.pdf";
  job.size = 1234;
  inboxd::queue::Attempt first;
  first.attempt = 1;
  first.exit_code = 3;
  first.finished_at = 1000;
  inboxd::queue::Attempt second;
  second.attempt = 2;
  second.timed_out = true;
  second.signal = "SIGKILL";
  second.stderr_tail = "line 1\nline 2\nconverter: cannot parse page 3\n";
  auto text = format_error_report(job, {first, second}, "timed out after 10m");
  CHECK(text.find("job:      42") != std::string::npos);
  CHECK(text.find("attempt 1: exit code 3") != std::string::npos);
  CHECK(text.find("attempt 2: timed out, killed by SIGKILL") != std::string::npos);
  CHECK(text.find("    converter: cannot parse page 3\n") != std::string::npos);
  CHECK(text.find("inboxctl retry 42") != std::string::npos);
}
