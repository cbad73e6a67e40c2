// The queue's cost does not grow with its size: every hot statement walks an
// index (checked with EXPLAIN QUERY PLAN on the exact statement text), and a
// queue of two hundred thousand jobs stays quick to fill and to serve.

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "daemon/queue/statements.hpp"
#include "tests/unit/queue/queue_fixture.hpp"

namespace inboxd::queue::test {
namespace {

struct PlanCase {
  const char* name;
  const char* sql;
  const char* index;  // the index the plan must use
};

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Claims `total` files in batches, each batch one transaction like the
// daemon's group commit.
void claim_in_batches(QueueFixture& q, int total, int per_batch) {
  std::vector<NewClaim> claims(static_cast<std::size_t>(per_batch));
  std::vector<QueueStore::ClaimResult> results(claims.size());
  for (int done = 0; done < total; done += per_batch) {
    for (std::size_t i = 0; i < claims.size(); ++i) {
      auto name = "scan-" + std::to_string(done + static_cast<int>(i)) + ".pdf";
      claims[i] = NewClaim{kInbox, name, name, 4096};
    }
    must(q.store().batch([&]() -> Result<void> {
      auto ids = must(q.store().begin_claims(claims, kT0 + done));
      for (std::size_t i = 0; i < ids.size(); ++i) {
        results[i] = {ids[i], QueueFixture::spool_path(ids[i])};
      }
      return q.store().finish_claims(results, kT0 + done);
    }));
  }
}

TEST_CASE("every hot statement walks an index without sorting", "[queue][plan]") {
  QueueFixture q;
  const PlanCase cases[] = {
      {"next_runnable", sql::kNextRunnable, "INDEX jobs_waiting"},
      {"next_runnable ahead", sql::kNextRunnableAhead, "INDEX jobs_waiting"},
      {"next_retry_due", sql::kNextRetryDue, "INDEX jobs_retry_due"},
      {"oldest_queued_at", sql::kOldestQueued, "INDEX jobs_waiting"},
      {"counts", sql::kCounts, "PRIMARY KEY"},
      {"waiting_count", sql::kWaitingCount, "PRIMARY KEY"},
      {"jobs", sql::kJobsAll, "INTEGER PRIMARY KEY"},
      {"jobs by inbox", sql::kJobsByInbox, "INDEX jobs_by_inbox "},
      {"pending claims", sql::kPendingClaims, "INDEX jobs_by_state"},
      {"interrupted jobs", sql::kRunningJobs, "INDEX jobs_by_state"},
      {"move", sql::kJobForMove, "INTEGER PRIMARY KEY"},
      {"last attempt", sql::kLastAttempt, "sqlite_autoindex_attempts_1"},
  };
  for (const PlanCase& c : cases) {
    INFO(c.name << ":\n" << joined(q.plan(c.sql)));
    const std::string plan = joined(q.plan(c.sql));
    CHECK_THAT(plan, Catch::Contains(c.index));
    CHECK_THAT(plan, !Catch::Contains("SCAN"));
    CHECK_THAT(plan, !Catch::Contains("TEMP B-TREE"));
  }
}

// Waiting jobs come from jobs_waiting and are sorted by id: the state
// indexes leave them out, so that a job's claim and start do not write them.
TEST_CASE("listing jobs by state walks an index for every state, done jobs by id",
          "[queue][plan]") {
  QueueFixture q;
  for (auto state : {JobState::kQueued, JobState::kRunning, JobState::kRetryWait, JobState::kDone,
                     JobState::kFailed, JobState::kCanceled}) {
    const bool done = state == JobState::kDone;
    const bool waiting = state == JobState::kQueued || state == JobState::kRetryWait;
    for (bool of_inbox : {false, true}) {
      const std::string query = sql::jobs_in_state(to_string(state), of_inbox);
      const std::string plan = joined(q.plan(query.c_str()));
      INFO(to_string(state) << (of_inbox ? " of one inbox" : "") << ":\n" << plan);
      const char* index = waiting ? "INDEX jobs_waiting"
                          : done  ? (of_inbox ? "INDEX jobs_by_inbox " : "INTEGER PRIMARY KEY")
                                 : (of_inbox ? "INDEX jobs_by_inbox_state" : "INDEX jobs_by_state");
      CHECK_THAT(plan, Catch::Contains(index));
      if (waiting && !of_inbox) CHECK_THAT(plan, Catch::Contains("job_counts"));
      CHECK_THAT(plan, !Catch::Contains("SCAN jobs"));
      if (!waiting) CHECK_THAT(plan, !Catch::Contains("TEMP B-TREE"));
    }
  }
}

TEST_CASE("two hundred thousand claims stay fast to add and to serve", "[queue][scale]") {
  QueueFixture q;
  constexpr int kJobs = 200'000;
  auto start = std::chrono::steady_clock::now();
  claim_in_batches(q, kJobs, 1000);
  const double insert_s = seconds_since(start);
  WARN("claimed " << kJobs << " jobs in " << insert_s << " s");
  CHECK(insert_s < 60.0);  // about 2 s on a laptop; sanitizers and a busy machine add a lot

  start = std::chrono::steady_clock::now();
  constexpr int kCalls = 200;
  for (int i = 0; i < kCalls; ++i) {
    REQUIRE(must(q.store().next_runnable(kInbox, kT0 + kJobs, 4)).size() == 4);
    REQUIRE(must(q.store().counts(kInbox)).queued == kJobs);
  }
  const double per_call_ms = seconds_since(start) * 1000.0 / kCalls;
  WARN("next_runnable + counts: " << per_call_ms << " ms per call");
  CHECK(per_call_ms < 50.0);
  CHECK(must(q.store().waiting_count(kInbox)) == kJobs);
  CHECK(same_counts(q.counts(), q.recount()));
}

}  // namespace
}  // namespace inboxd::queue::test
