#include "daemon/runner/proc_stat.hpp"

#include <signal.h>
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

TEST_CASE("a process that does not exist has no stat", "[proc_stat]") {
  CHECK_FALSE(read_proc_stat(0x3fffffff));
  CHECK(read_proc_stat(::getpid()));
}

TEST_CASE_METHOD(RunnerFixture, "a handler leads its own session and group even with an odd name",
                 "[proc_stat]") {
  auto odd = dir() / "sl) (eep x";
  fs::copy_file("/usr/bin/sleep", odd);
  auto id = start(spec({odd.string(), "300"}));
  auto pid = session_leader(id);
  auto stat = read_proc_stat(pid);
  REQUIRE(stat);
  CHECK(stat->pgrp == pid);
  CHECK(stat->session == pid);
  CHECK(stat->start_time >= read_proc_stat(::getpid())->start_time);
  CHECK(process_group_alive(pid));
  runner().stop(id, Millis(1000));
  wait(id);
  CHECK_FALSE(process_group_alive(pid));
}

TEST_CASE_METHOD(RunnerFixture,
                 "a spawn bracketed by the boot clock records the tick it started in or the one "
                 "before",
                 "[proc_stat]") {
  auto before = boot_ticks_now();
  auto id = start(spec({"/usr/bin/sleep", "300"}));
  auto after = boot_ticks_now();
  auto pid = session_leader(id);
  auto exact = read_proc_stat(pid);
  REQUIRE(exact);
  // The same clock as the kernel's start times.
  CHECK(before <= exact->start_time);
  CHECK(exact->start_time <= after);
  auto recorded = spawned_start_time(pid, before, after);
  CHECK(recorded <= exact->start_time);
  CHECK(exact->start_time <= recorded + kStartTimeSlack);
  // A spawn that took longer than the slack reads the exact time.
  CHECK(spawned_start_time(pid, before - 100, after) == exact->start_time);
  runner().stop(id, Millis(1000));
  wait(id);
}

TEST_CASE_METHOD(RunnerFixture,
                 "an orphaned group is killed when its leader's recorded start is exact or up to "
                 "the slack early",
                 "[proc_stat]") {
  for (std::uint64_t early = 0; early <= kStartTimeSlack; ++early) {
    auto id = start(spec({"/usr/bin/sleep", "300"}));
    auto pid = session_leader(id);
    auto exact = read_proc_stat(pid);
    REQUIRE(exact);
    CHECK(kill_orphaned_group(pid, exact->start_time - early) == 1);
    CHECK(wait(id).signal == SIGKILL);
  }
}

TEST_CASE_METHOD(RunnerFixture,
                 "a leader whose start differs from the record by more than the slack is left "
                 "alone",
                 "[proc_stat]") {
  auto id = start(spec({"/usr/bin/sleep", "300"}));
  auto pid = session_leader(id);
  auto exact = read_proc_stat(pid);
  REQUIRE(exact);
  // A pid recycled since the record, or a record newer than the process.
  CHECK(kill_orphaned_group(pid, exact->start_time - kStartTimeSlack - 1) == 0);
  CHECK(kill_orphaned_group(pid, exact->start_time + 1) == 0);
  CHECK(process_group_alive(pid));
  runner().stop(id, Millis(1000));
  wait(id);
}

}  // namespace inboxd::runner::test
