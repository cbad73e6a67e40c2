// PidTable: the records of running handlers that a crashed daemon leaves for
// the next process, in real files in a temporary folder.

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "daemon/app/pid_table.hpp"
#include "tests/unit/app/app_test_support.hpp"
#include "tests/unit/watcher/temp_dir.hpp"

using inboxd::app::PidTable;
using inboxd::app::test::read_file;
namespace fs = std::filesystem;

namespace {

// A fresh folder whose handlers/ holds the table, removed with the fixture.
class TableFolder : public inboxd::watcher::testing::TempDir {
 public:
  fs::path dir() const { return root() / "handlers"; }
  void put_file(const std::string& name, const std::string& content) const {
    write("handlers/" + name, content);
  }
};

bool same(const PidTable::Record& a, const PidTable::Record& b) {
  return a.job_id == b.job_id && a.attempt == b.attempt && a.pid == b.pid &&
         a.start_time == b.start_time;
}

}  // namespace

TEST_CASE("records written by one process are found by the next, which starts empty",
          "[pid_table]") {
  TableFolder f;
  PidTable table(f.dir());
  REQUIRE(table.take_over());  // creates the folder
  const PidTable::Record first{41, 1, 1234, 998877};
  const PidTable::Record second{42, 3, 5678, 998878};
  REQUIRE(table.put(first));
  REQUIRE(table.put(second));

  auto left = PidTable(f.dir()).take_over();  // the next process
  REQUIRE(left);
  REQUIRE(left->size() == 2);
  bool found_first = same((*left)[0], first) || same((*left)[1], first);
  bool found_second = same((*left)[0], second) || same((*left)[1], second);
  CHECK(found_first);
  CHECK(found_second);
  CHECK(fs::is_empty(f.dir()));
}

TEST_CASE("a released slot is rewritten in place, with no tail of the longer record before",
          "[pid_table]") {
  TableFolder f;
  PidTable table(f.dir());
  REQUIRE(table.take_over());
  auto slot = table.put({123456789012, 12, 4194303, 18446744073709551615ULL});
  REQUIRE(slot);
  table.release(*slot);
  auto again = table.put({7, 1, 42, 5});
  REQUIRE(again);
  CHECK(*again == *slot);
  auto text = read_file(f.dir() / std::to_string(*slot));
  auto record = PidTable::parse(text);
  REQUIRE(record);
  CHECK(same(*record, {7, 1, 42, 5}));
  auto left = PidTable(f.dir()).take_over();
  REQUIRE(left);
  CHECK(left->size() == 1);
}

TEST_CASE("files that are not records are skipped and removed", "[pid_table]") {
  TableFolder f;
  REQUIRE(PidTable(f.dir()).take_over());
  f.put_file("0", "inboxd handler job=9 attempt=1 pid=77 start=100\n");
  f.put_file("1", "");
  f.put_file("2", "inboxd handler job=9 attempt=1 pid=-5 start=100\n");
  f.put_file("3", "inboxd handler job=9 attempt=1 pid=77 start=100 extra\n");
  f.put_file("4", "something else entirely");
  auto left = PidTable(f.dir()).take_over();
  REQUIRE(left);
  REQUIRE(left->size() == 1);
  CHECK(same(left->front(), {9, 1, 77, 100}));
  CHECK(fs::is_empty(f.dir()));
}

TEST_CASE("a table whose folder cannot be written names the file, and recovers once it can",
          "[pid_table]") {
  TableFolder f;
  PidTable table(f.dir());  // never created
  auto slot = table.put({1, 1, 2, 3});
  REQUIRE_FALSE(slot);
  CHECK_THAT(slot.error().message, Catch::Contains((f.dir() / "0").string()));
  CHECK(table.failing());
  REQUIRE(table.take_over());  // the folder is there now
  CHECK(table.put({1, 1, 2, 3}));
  CHECK_FALSE(table.failing());
}
