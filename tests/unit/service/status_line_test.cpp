#include "daemon/service/status_line.hpp"

#include <catch2/catch.hpp>

namespace inboxd::service {
namespace {

TEST_CASE("the status line counts jobs and names inboxes that are not active", "[service]") {
  StatusCounts counts;
  counts.inboxes = 3;
  counts.tripped = 1;
  counts.unavailable = 1;
  counts.queued = 12;
  counts.running = 2;
  counts.retry_wait = 1;
  counts.failed = 4;
  CHECK(format_status(counts) ==
        "3 inboxes (1 tripped, 1 unavailable), 12 queued, 2 running, 1 retry_wait, 4 failed");
}

TEST_CASE("the status line of one quiet inbox has no parenthesis", "[service]") {
  StatusCounts counts;
  counts.inboxes = 1;
  CHECK(format_status(counts) == "1 inbox, 0 queued, 0 running, 0 retry_wait, 0 failed");
}

}  // namespace
}  // namespace inboxd::service
