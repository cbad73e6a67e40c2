#include "daemon/runner/proc_stat.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "daemon/runner/handler_process.hpp"
#include "tests/unit/runner/runner_fixture.hpp"

namespace inboxd::runner::test {

namespace fs = std::filesystem;

TEST_CASE("stat fields are read after the last parenthesis of the command name", "[proc_stat]") {
  auto stat = parse_proc_stat(
      "1234 (a) (b c) S 1 1234 1234 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 0 0\n");
  REQUIRE(stat);
  CHECK(stat->state == 'S');
  CHECK(stat->ppid == 1);
  CHECK(stat->pgrp == 1234);
  CHECK(stat->session == 1234);
  CHECK(stat->start_time == 987654);
}

TEST_CASE("a truncated or garbled stat line is rejected", "[proc_stat]") {
  CHECK_FALSE(parse_proc_stat("1234 (sleep) S 1 1234 1234 0"));
  CHECK_FALSE(parse_proc_stat("1234 sleep S 1 1234 1234 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 9"));
  CHECK_FALSE(parse_proc_stat("1234 (x) S one 1234 1234 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 9"));
}

TEST_CASE("a process that does not exist has no start time", "[proc_stat]") {
  CHECK_FALSE(process_start_time(0x3fffffff));
  CHECK(process_start_time(::getpid()));
}

TEST_CASE_METHOD(RunnerFixture, "a handler leads its own session and group even with an odd name",
                 "[proc_stat]") {
  auto odd = dir() / "sl) (eep x";
  fs::copy_file("/usr/bin/sleep", odd);
  auto id = start(spec({odd.string(), "300"}));
  auto pid = *runner().pid(id);
  auto stat = read_proc_stat(pid);
  REQUIRE(stat);
  CHECK(stat->pgrp == pid);
  CHECK(stat->session == pid);
  CHECK(process_start_time(pid) == stat->start_time);
  CHECK(stat->start_time >= *process_start_time(::getpid()));
  CHECK(process_group_alive(pid));
  runner().stop(id, Millis(1000));
  wait(id);
  CHECK_FALSE(process_group_alive(pid));
}

}  // namespace inboxd::runner::test
