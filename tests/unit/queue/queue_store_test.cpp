// The queue store's behaviour: the claim protocol, job transitions, the order
// of runnable work, counters, byte-exact names, batches and the queries the
// admin socket and recovery rely on.

#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <csignal>

#include "tests/unit/queue/queue_fixture.hpp"

namespace inboxd::queue::test {
namespace {

using namespace std::string_literals;
using Ids = std::vector<std::int64_t>;
constexpr EpochMs kSecond = 1000;

// --- Claim protocol -------------------------------------------------------------

TEST_CASE("a claim becomes a queued job once its rename succeeded", "[queue][claim]") {
  QueueFixture q;
  auto id = q.begin_claim("scan.pdf");
  q.finish_claim(id, QueueFixture::spool_path(id), kT0 + 5);
  Job job = q.job(id);
  CHECK(job.state == JobState::kQueued);
  CHECK(job.path == QueueFixture::spool_path(id));
  CHECK(job.created_at == kT0);
  CHECK(job.updated_at == kT0 + 5);
  CHECK(q.runnable(kT0) == Ids{id});
}

TEST_CASE("a claim whose rename failed leaves no job", "[queue][claim]") {
  QueueFixture q;
  auto id = q.begin_claim("scan.pdf");
  q.finish_claim(id, std::nullopt);
  CHECK_FALSE(must(q.store().job(id)).has_value());
  CHECK(must(q.store().pending_claims()).empty());
  CHECK(same_counts(q.counts(), Counts{}));
}

TEST_CASE("pending claims are visible only as pending claims", "[queue][claim]") {
  QueueFixture q;
  auto id = q.begin_claim("scan.pdf");
  auto pending = must(q.store().pending_claims());
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == id);
  CHECK(pending[0].state == JobState::kClaiming);
  CHECK_FALSE(must(q.store().job(id)).has_value());
  CHECK(q.listed({}).empty());
  CHECK(q.runnable(kT0 + kSecond).empty());
  CHECK(same_counts(q.counts(), Counts{}));
  CHECK(must(q.store().waiting_count(kInbox)) == 0);
}

TEST_CASE("pending claims survive a restart for recovery to settle", "[queue][claim]") {
  QueueFixture q;
  auto kept = q.begin_claim("kept.pdf");
  auto lost = q.begin_claim("lost.pdf");
  q.reopen();
  REQUIRE(must(q.store().pending_claims()).size() == 2);
  std::vector<QueueStore::ClaimResult> settled{{kept, QueueFixture::spool_path(kept)},
                                               {lost, std::nullopt}};
  must(q.store().finish_claims(settled, kT0));
  CHECK(must(q.store().pending_claims()).empty());
  CHECK(q.job(kept).state == JobState::kQueued);
  CHECK_FALSE(must(q.store().job(lost)).has_value());
}

TEST_CASE("begin_claims returns ids in input order", "[queue][claim]") {
  QueueFixture q;
  std::vector<NewClaim> claims{
      {kInbox, "a", "a", 1}, {kInbox, "b", "b", 2}, {"other", "c", "c", 3}};
  auto ids = must(q.store().begin_claims(claims, kT0));
  REQUIRE(ids.size() == 3);
  auto pending = must(q.store().pending_claims());
  REQUIRE(pending.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(pending[i].id == ids[i]);
    CHECK(pending[i].name == claims[i].name);
    CHECK(pending[i].inbox == claims[i].inbox);
  }
}

TEST_CASE("finishing a claim that is not pending is an error and changes nothing",
          "[queue][claim]") {
  QueueFixture q;
  auto queued = q.claim("a.pdf");
  auto pending = q.begin_claim("b.pdf");
  std::vector<QueueStore::ClaimResult> results{{pending, QueueFixture::spool_path(pending)},
                                               {queued, std::nullopt}};
  auto result = q.store().finish_claims(results, kT0);
  REQUIRE_FALSE(result);
  CHECK(result.error().code == kUnknownJob);
  CHECK_THAT(result.error().message,
             Catch::Contains("finish_claims") && Catch::Contains(std::to_string(queued)));
  CHECK(must(q.store().pending_claims()).size() == 1);
  CHECK(q.job(queued).state == JobState::kQueued);
}

TEST_CASE("job ids are never reused after a dropped claim", "[queue][claim]") {
  QueueFixture q;
  auto first = q.begin_claim("a.pdf");
  q.finish_claim(first, std::nullopt);
  CHECK(q.begin_claim("b.pdf") > first);
}

TEST_CASE("a file renamed before its claim is recorded queued at once", "[queue][claim]") {
  QueueFixture q;
  auto ids = must(q.store().reserve_ids(2));
  REQUIRE(ids.size() == 2);
  const QueueStore::SpooledClaim renamed[] = {
      {ids[0], {kInbox, "a.pdf", "a.pdf", 10}, QueueFixture::spool_path(ids[0])},
      {ids[1], {kInbox, "b.pdf", "b.pdf", 20}, QueueFixture::spool_path(ids[1])}};
  must(q.store().record_claims(renamed, kT0));
  CHECK(q.job(ids[1]).state == JobState::kQueued);
  CHECK(q.job(ids[1]).path == QueueFixture::spool_path(ids[1]));
  CHECK(q.job(ids[1]).size == 20);
  CHECK(q.runnable(kT0) == Ids{ids[0], ids[1]});
  CHECK(same_counts(q.counts(), q.recount()));
}

TEST_CASE("reserved ids are never handed out twice, recorded or not", "[queue][claim]") {
  QueueFixture q;
  auto used = q.claim("a.pdf");
  auto reserved = must(q.store().reserve_ids(3));
  CHECK(reserved == Ids{used + 1, used + 2, used + 3});
  // None of them recorded: later claims still go past them.
  auto next = q.claim("b.pdf");
  CHECK(next == used + 4);
  CHECK(must(q.store().reserve_ids(1)) == Ids{next + 1});
}

TEST_CASE("reserved ids go past an id recorded from outside the reservation", "[queue][claim]") {
  QueueFixture q;
  const QueueStore::SpooledClaim adopted{
      900, {kInbox, "lost.pdf", "lost.pdf", 1}, QueueFixture::spool_path(900)};
  must(q.store().record_claims({&adopted, 1}, kT0));
  CHECK(must(q.store().reserve_ids(1)) == Ids{901});
}

TEST_CASE(
    "ids skipped below a spool folder's span are never reserved, and skipping never goes back",
    "[queue][claim]") {
  QueueFixture q;
  auto used = q.claim("a.pdf");
  must(q.store().skip_ids_below(used + 1000));
  CHECK(must(q.store().reserve_ids(2)) == Ids{used + 1000, used + 1001});
  must(q.store().skip_ids_below(used + 5));
  CHECK(must(q.store().reserve_ids(1)) == Ids{used + 1002});
}

TEST_CASE("jobs between two ids are listed by id, claims in progress left out", "[queue][claim]") {
  QueueFixture q;
  auto a = q.claim("a.pdf");
  auto b = q.claim("b.pdf");
  must(q.store().begin_claims(std::vector<NewClaim>{{kInbox, "c.pdf", "sub/c.pdf", 1}}, kT0));
  auto d = q.claim("d.pdf");
  auto jobs_between = [&](std::int64_t first, std::int64_t end) {
    std::vector<Job> found;
    must(q.store().visit_jobs_between(first, end, [&](const Job& job) {
      found.push_back(job);
      return true;
    }));
    return found;
  };
  auto found = jobs_between(a, d);
  REQUIRE(found.size() == 2);
  CHECK(found[0].id == a);
  CHECK(found[1].id == b);
  CHECK(jobs_between(a + 1, d + 1).size() == 2);  // b and d; c is still claiming
  int visited = 0;
  must(q.store().visit_jobs_between(a, d + 1, [&](const Job&) { return ++visited < 1; }));
  CHECK(visited == 1);  // the walk stops when asked
}

TEST_CASE("a batch of recorded claims with one taken id records none", "[queue][claim]") {
  QueueFixture q;
  auto taken = q.claim("mine.pdf");
  auto fresh = must(q.store().reserve_ids(1))[0];
  const QueueStore::SpooledClaim batch[] = {
      {fresh, {kInbox, "new.pdf", "new.pdf", 1}, QueueFixture::spool_path(fresh)},
      {taken, {kInbox, "other.pdf", "other.pdf", 1}, "/x"}};
  auto result = q.store().record_claims(batch, kT0);
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message,
             Catch::Contains("record_claims") && Catch::Contains("job " + std::to_string(taken)));
  CHECK_FALSE(must(q.store().job(fresh)));
  CHECK(q.counts().queued == 1);
  CHECK(same_counts(q.counts(), q.recount()));
}

// --- Transitions ----------------------------------------------------------------

TEST_CASE("a job runs, fails, waits for its retry and succeeds", "[queue][transition]") {
  QueueFixture q;
  auto id = q.claim("scan.pdf");
  q.start(id, kT0 + 1);
  CHECK(q.job(id).state == JobState::kRunning);
  CHECK(q.job(id).attempts == 1);
  q.fail_for_retry(id, kT0 + 10 * kSecond, kT0 + 2);
  Job waiting = q.job(id);
  CHECK(waiting.state == JobState::kRetryWait);
  CHECK(waiting.next_attempt_at == kT0 + 10 * kSecond);
  CHECK(waiting.last_error == "exit 1");
  q.start(id, kT0 + 10 * kSecond);
  q.succeed(id, kT0 + 11 * kSecond);
  Job done = q.job(id);
  CHECK(done.state == JobState::kDone);
  CHECK(done.attempts == 2);
  CHECK_FALSE(done.next_attempt_at.has_value());
  CHECK(done.last_error == "exit 1");
}

TEST_CASE("attempt rows record each attempt's outcome", "[queue][transition]") {
  QueueFixture q;
  auto id = q.claim("scan.pdf");
  q.start(id, kT0 + 100);
  must(q.store().set_attempt_pid(id, 1, 4242, 987654));
  Attempt outcome = q.finished_attempt(id, std::nullopt);
  outcome.signal = "SIGKILL";
  outcome.timed_out = true;
  outcome.stdout_tail = "out\0put"s;
  must(q.store().finish_attempt(outcome, {id, JobState::kFailed, std::nullopt, "timed out"},
                                kT0 + 200));
  auto attempts = must(q.store().attempts(id));
  REQUIRE(attempts.size() == 1);
  const Attempt& a = attempts[0];
  CHECK(a.attempt == 1);
  CHECK(a.started_at == kT0 + 100);
  CHECK(a.finished_at == kT0 + 200);
  CHECK(a.duration_ms == 118);
  CHECK_FALSE(a.exit_code.has_value());
  CHECK(a.signal == "SIGKILL");
  CHECK(a.timed_out);
  CHECK(a.counted);
  CHECK(a.stdout_tail == "out\0put"s);
  CHECK(a.stderr_tail == "boom\n");
  CHECK(a.pid == 4242);
  CHECK(a.pid_start_time == 987654);
  CHECK(q.job(id).last_error == "timed out");
}

TEST_CASE("an attempt cut short by a graceful stop gives its number back", "[queue][transition]") {
  QueueFixture q;
  auto id = q.claim("scan.pdf");
  q.start(id, kT0);
  Attempt stopped = q.finished_attempt(id, std::nullopt);
  stopped.signal = "SIGTERM";
  stopped.counted = false;
  must(q.store().finish_attempt(stopped, {id, JobState::kQueued, std::nullopt, std::nullopt}, kT0));
  CHECK(q.job(id).attempts == 0);
  REQUIRE(must(q.store().attempts(id)).size() == 1);
  CHECK_FALSE(must(q.store().attempts(id))[0].counted);
  q.start(id, kT0 + 5);
  CHECK(q.job(id).attempts == 1);
  auto attempts = must(q.store().attempts(id));
  REQUIRE(attempts.size() == 1);
  CHECK(attempts[0].counted);
  CHECK(attempts[0].started_at == kT0 + 5);
  CHECK_FALSE(attempts[0].signal.has_value());
}

TEST_CASE("attempt numbers must follow on from the last one", "[queue][transition]") {
  QueueFixture q;
  auto id = q.claim("scan.pdf");
  auto result = q.store().start_attempt(id, 2, kT0);
  REQUIRE_FALSE(result);
  CHECK(result.error().code == kBadTransition);
  CHECK(q.job(id).state == JobState::kQueued);
}

TEST_CASE("a failed job retried by an admin gets a fresh budget and is due now",
          "[queue][transition]") {
  QueueFixture q;
  auto id = q.claim("scan.pdf", kT0);
  q.start(id);
  must(q.store().finish_attempt(q.finished_attempt(id, 65),
                                {id, JobState::kFailed, std::nullopt, "exit 65"}, kT0));
  auto later = q.claim("later.pdf", kT0 + kSecond);
  q.move(id, JobState::kQueued, kT0 + 2 * kSecond);
  Job retried = q.job(id);
  CHECK(retried.state == JobState::kQueued);
  CHECK(retried.budget_base == 1);
  CHECK(retried.attempts == 1);
  CHECK(q.runnable(kT0 + 2 * kSecond) == Ids{later, id});
}

TEST_CASE("a finished job can only go back to queued", "[queue][transition]") {
  QueueFixture q;
  auto id = q.claim("scan.pdf");
  q.start(id);
  q.succeed(id);
  auto result = q.store().transition({id, JobState::kCanceled, std::nullopt, std::nullopt}, kT0);
  REQUIRE_FALSE(result);
  CHECK(result.error().code == kBadTransition);
  CHECK_THAT(result.error().message,
             Catch::Contains("transition job=") && Catch::Contains("done -> canceled"));
  CHECK(q.job(id).state == JobState::kDone);
}

TEST_CASE("a job enters running only through start_attempt", "[queue][transition]") {
  QueueFixture q;
  auto id = q.claim("scan.pdf");
  auto result = q.store().transition({id, JobState::kRunning, std::nullopt, std::nullopt}, kT0);
  REQUIRE_FALSE(result);
  CHECK(result.error().code == kBadTransition);
}

TEST_CASE("retry_wait without a due time is refused", "[queue][transition]") {
  QueueFixture q;
  auto id = q.claim("scan.pdf");
  q.start(id);
  auto result = q.store().finish_attempt(
      q.finished_attempt(id, 1), {id, JobState::kRetryWait, std::nullopt, std::nullopt}, kT0);
  REQUIRE_FALSE(result);
  CHECK(result.error().code == kBadTransition);
  CHECK(q.job(id).state == JobState::kRunning);
  CHECK_FALSE(must(q.store().attempts(id))[0].finished_at.has_value());
}

TEST_CASE("finishing a job that is not running is refused", "[queue][transition]") {
  QueueFixture q;
  auto id = q.claim("scan.pdf");
  auto result = q.store().finish_attempt(q.finished_attempt(id, 0),
                                         {id, JobState::kDone, std::nullopt, std::nullopt}, kT0);
  REQUIRE_FALSE(result);
  CHECK(result.error().code == kBadTransition);
}

TEST_CASE("transitions of an unknown job are errors", "[queue][transition]") {
  QueueFixture q;
  auto moved = q.store().transition({999, JobState::kCanceled, std::nullopt, std::nullopt}, kT0);
  REQUIRE_FALSE(moved);
  CHECK(moved.error().code == kUnknownJob);
  CHECK(moved.error().message == "queue: transition job=999: unknown job");
  CHECK(q.store().start_attempt(999, 1, kT0).error().code == kUnknownJob);
  CHECK(q.store().set_path(999, std::nullopt, kT0).error().code == kUnknownJob);
  CHECK(q.store().set_attempt_pid(999, 1, 1, 1).error().code == kUnknownJob);
  CHECK_FALSE(must(q.store().job(999)).has_value());
}

TEST_CASE("a queued job can be canceled", "[queue][transition]") {
  QueueFixture q;
  auto id = q.claim("scan.pdf");
  must(q.store().transition({id, JobState::kCanceled, std::nullopt, "canceled by uid=0"}, kT0));
  CHECK(q.job(id).state == JobState::kCanceled);
  CHECK(q.job(id).last_error == "canceled by uid=0");
  CHECK(q.runnable(kT0).empty());
}

TEST_CASE("set_path records where the file is and clears it once deleted", "[queue][transition]") {
  QueueFixture q;
  auto id = q.claim("scan.pdf");
  must(q.store().set_path(id, "/srv/in/done/scan~1.pdf", kT0 + 7));
  CHECK(q.job(id).path == "/srv/in/done/scan~1.pdf");
  CHECK(q.job(id).updated_at == kT0 + 7);
  must(q.store().set_path(id, std::nullopt, kT0 + 8));
  CHECK_FALSE(q.job(id).path.has_value());
}

// --- Order of runnable work -----------------------------------------------------

TEST_CASE("queued jobs run in claim order", "[queue][order]") {
  QueueFixture q;
  auto a = q.claim("a", kT0);
  auto b = q.claim("b", kT0);
  auto c = q.claim("c", kT0 + 1);
  CHECK(q.runnable(kT0 + kSecond) == Ids{a, b, c});
  CHECK(q.runnable(kT0 + kSecond, 2) == Ids{a, b});
}

TEST_CASE("due retries merge with queued jobs by due time", "[queue][order]") {
  QueueFixture q;
  auto retry = q.claim("retry", kT0);
  q.start(retry, kT0);
  q.fail_for_retry(retry, kT0 + 5 * kSecond, kT0);
  auto early = q.claim("early", kT0 + 1 * kSecond);
  auto late = q.claim("late", kT0 + 9 * kSecond);
  CHECK(q.runnable(kT0 + 10 * kSecond) == Ids{early, retry, late});
}

TEST_CASE("retries that are not yet due are skipped", "[queue][order]") {
  QueueFixture q;
  auto retry = q.claim("retry", kT0);
  q.start(retry, kT0);
  q.fail_for_retry(retry, kT0 + 60 * kSecond, kT0);
  auto fresh = q.claim("fresh", kT0 + kSecond);
  CHECK(q.runnable(kT0 + 2 * kSecond) == Ids{fresh});
  CHECK(q.runnable(kT0 + 60 * kSecond) == Ids{fresh, retry});
}

TEST_CASE("next_retry_due is the earliest retry of the inbox", "[queue][order]") {
  QueueFixture q;
  CHECK_FALSE(must(q.store().next_retry_due(kInbox)).has_value());
  for (EpochMs due : {kT0 + 30 * kSecond, kT0 + 10 * kSecond, kT0 + 20 * kSecond}) {
    auto id = q.claim("f", kT0);
    q.start(id);
    q.fail_for_retry(id, due);
  }
  q.claim("queued", kT0);
  CHECK(must(q.store().next_retry_due(kInbox)) == kT0 + 10 * kSecond);
  CHECK_FALSE(must(q.store().next_retry_due("other")).has_value());
}

TEST_CASE("queued jobs stay runnable after the wall clock steps back", "[queue][order]") {
  QueueFixture q;
  auto before = q.claim("claimed before the step", kT0);
  auto retry = q.claim("retry", kT0 - 2 * kSecond);
  q.start(retry, kT0 - 2 * kSecond);
  q.fail_for_retry(retry, kT0 + kSecond, kT0 - 2 * kSecond);
  auto after = q.claim("claimed after the step", kT0 - 3600 * kSecond);
  CHECK(q.runnable(kT0 - 3599 * kSecond) == Ids{after, before});
}

TEST_CASE("a job requeued from running keeps its place in line", "[queue][order]") {
  QueueFixture q;
  auto first = q.claim("first", kT0);
  auto second = q.claim("second", kT0 + kSecond);
  q.start(first, kT0 + 2 * kSecond);
  q.move(first, JobState::kQueued, kT0 + 3 * kSecond);
  CHECK(q.runnable(kT0 + 4 * kSecond) == Ids{first, second});
}

TEST_CASE("runnable work is per inbox", "[queue][order]") {
  QueueFixture q;
  auto mine = q.claim("a", kT0, "scans");
  q.claim("b", kT0, "invoices");
  CHECK(q.runnable(kT0, 10, "scans") == Ids{mine});
  CHECK(q.runnable(kT0, 0, "scans").empty());
}

TEST_CASE("oldest_queued_at is the due time of the oldest queued job", "[queue][order]") {
  QueueFixture q;
  CHECK_FALSE(must(q.store().oldest_queued_at(kInbox)).has_value());
  auto retry = q.claim("retry", kT0);
  q.start(retry);
  q.fail_for_retry(retry, kT0 + kSecond);
  q.claim("a", kT0 + 5 * kSecond);
  q.claim("b", kT0 + 6 * kSecond);
  CHECK(must(q.store().oldest_queued_at(kInbox)) == kT0 + 5 * kSecond);
}

// --- Counts ---------------------------------------------------------------------

TEST_CASE("counts follow every transition and match a recount", "[queue][counts]") {
  QueueFixture q;
  auto check = [&] { CHECK(same_counts(q.counts(), q.recount())); };
  auto a = q.claim("a");
  auto b = q.claim("b");
  auto c = q.claim("c");
  q.begin_claim("pending");
  check();
  q.start(a);
  q.start(b);
  check();
  q.fail_for_retry(a, kT0 + kSecond);
  q.succeed(b);
  q.move(c, JobState::kCanceled);
  check();
  q.move(c, JobState::kQueued);
  q.claim("elsewhere", kT0, "other");
  check();
  Counts counts = q.counts();
  CHECK(counts.queued == 1);
  CHECK(counts.running == 0);
  CHECK(counts.retry_wait == 1);
  CHECK(counts.done == 1);
  CHECK(counts.canceled == 0);
  CHECK(must(q.store().waiting_count(kInbox)) == 2);
  CHECK(q.counts("other").queued == 1);
}

// --- Bytes ----------------------------------------------------------------------

TEST_CASE("names, relative paths and paths keep every byte", "[queue][bytes]") {
  QueueFixture q;
  const std::string name = "-rf \xff\xfe line\nbreak \0nul.pdf"s;
  const std::string rel = "sub dir/" + name;
  const std::string path = "/srv/in/\x80\x81/" + name;
  NewClaim claim{kInbox, name, rel, 1};
  auto id = must(q.store().begin_claims(std::span(&claim, 1), kT0)).front();
  q.finish_claim(id, path);
  q.reopen();
  Job job = q.job(id);
  CHECK(job.name == name);
  CHECK(job.rel == rel);
  CHECK(job.path == path);
  CHECK(q.listed({}) == Ids{id});
}

TEST_CASE("empty names are stored as empty, not missing", "[queue][bytes]") {
  QueueFixture q;
  auto id = q.claim("");
  CHECK(q.job(id).name.empty());
  must(q.store().set_path(id, std::string(), kT0));
  CHECK(q.job(id).path == std::string());
}

// --- Batches --------------------------------------------------------------------

TEST_CASE("a batch commits all of its calls together", "[queue][batch]") {
  QueueFixture q;
  auto a = q.claim("a");
  std::int64_t b = 0;
  must(q.store().batch([&]() -> Result<void> {
    q.start(a);
    b = q.claim("b");
    return {};
  }));
  q.reopen();
  CHECK(q.job(a).state == JobState::kRunning);
  CHECK(q.job(b).state == JobState::kQueued);
}

TEST_CASE("a batch rolls back every call when its function fails", "[queue][batch]") {
  QueueFixture q;
  auto a = q.claim("a");
  auto result = q.store().batch([&]() -> Result<void> {
    q.start(a);
    q.claim("b");
    return fail("handler slot vanished");
  });
  REQUIRE_FALSE(result);
  CHECK(result.error().message == "handler slot vanished");
  CHECK(q.job(a).state == JobState::kQueued);
  CHECK(q.listed({}) == Ids{a});
  CHECK(same_counts(q.counts(), q.recount()));
}

TEST_CASE("a nested batch joins the outer one", "[queue][batch]") {
  QueueFixture q;
  auto result = q.store().batch([&]() -> Result<void> {
    must(q.store().batch([&]() -> Result<void> {
      q.claim("inner");
      return {};
    }));
    q.claim("outer");
    return fail("outer gives up");
  });
  REQUIRE_FALSE(result);
  CHECK(q.listed({}).empty());
}

TEST_CASE("a failed call inside a batch leaves none of its writes", "[queue][batch]") {
  QueueFixture q;
  auto a = q.claim("a");
  must(q.store().batch([&]() -> Result<void> {
    std::vector<NewClaim> claims{{kInbox, "x", "x", 1}};
    auto ids = must(q.store().begin_claims(claims, kT0));
    std::vector<QueueStore::ClaimResult> results{{ids[0], "/spool/x"}, {a, std::nullopt}};
    CHECK_FALSE(q.store().finish_claims(results, kT0));
    return {};
  }));
  auto pending = must(q.store().pending_claims());
  REQUIRE(pending.size() == 1);
  CHECK_FALSE(pending[0].path.has_value());
  CHECK(q.job(a).state == JobState::kQueued);
}

TEST_CASE("a failed nested batch, whole or not, undoes only its own writes", "[queue][batch]") {
  QueueFixture q;
  const bool whole = GENERATE(false, true);
  auto inner = [&]() -> Result<void> {
    q.claim("inner");
    return fail("inner gives up");
  };
  must(q.store().batch([&]() -> Result<void> {
    q.claim("outer");
    const bool ok =
        static_cast<bool>(whole ? q.store().batch_whole(inner) : q.store().batch(inner));
    CHECK_FALSE(ok);
    return {};
  }));
  auto listed = must(q.store().jobs({}));
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].name == "outer");
}

TEST_CASE("a whole batch commits all of its calls together", "[queue][batch]") {
  QueueFixture q;
  auto a = q.claim("a");
  auto b = q.claim("b");
  q.start(a);
  must(q.store().batch_whole([&]() -> Result<void> {
    q.succeed(a);
    q.start(b);
    return {};
  }));
  q.reopen();
  CHECK(q.job(a).state == JobState::kDone);
  CHECK(q.job(b).state == JobState::kRunning);
  CHECK(same_counts(q.counts(), q.recount()));
}

TEST_CASE("a call that fails inside a whole batch rolls back the batch, whatever it returns",
          "[queue][batch]") {
  QueueFixture q;
  auto a = q.claim("a");
  auto b = q.claim("b");
  q.start(a);
  auto result = q.store().batch_whole([&]() -> Result<void> {
    q.succeed(a);
    CHECK_FALSE(q.store().start_attempt(b, 5, kT0));  // out of sequence
    q.start(b);
    return {};
  });
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message, Catch::Contains("start_attempt job=" + std::to_string(b)));
  q.reopen();
  CHECK(q.job(a).state == JobState::kRunning);
  CHECK(q.job(b).state == JobState::kQueued);
  CHECK(same_counts(q.counts(), q.recount()));
}

TEST_CASE("a batch inside a whole batch fails the whole batch with it", "[queue][batch]") {
  QueueFixture q;
  auto result = q.store().batch_whole([&]() -> Result<void> {
    q.claim("outer");
    CHECK_FALSE(q.store().batch([&]() -> Result<void> { return fail("inner gives up"); }));
    return {};
  });
  REQUIRE_FALSE(result);
  CHECK(result.error().message == "inner gives up");
  CHECK(q.listed({}).empty());
}

// --- Disk errors ----------------------------------------------------------------

// Makes every write past `bytes` into any regular file fail (EFBIG) while in
// scope, the way a full disk makes the queue's writes fail.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{bytes, saved_.rlim_max};
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = nullptr;
};

TEST_CASE("a claim that cannot be written leaves the queue as it was", "[queue][errors]") {
  QueueFixture q;
  auto kept = q.claim("kept.pdf");
  NewClaim huge{kInbox, std::string(4 << 20, 'x'), "huge", 1};
  Result<std::vector<std::int64_t>> result = std::vector<std::int64_t>{};
  {
    FileSizeLimit limit(1 << 20);
    result = q.store().begin_claims(std::span(&huge, 1), kT0);
  }
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message, Catch::StartsWith("queue: begin_claims: "));
  CHECK(((result.error().code & 0xff) == SQLITE_IOERR ||
         (result.error().code & 0xff) == SQLITE_FULL));
  CHECK(must(q.store().pending_claims()).empty());
  q.start(kept);
  q.reopen();
  CHECK(q.job(kept).state == JobState::kRunning);
}

TEST_CASE("a batch that cannot be written commits none of its calls", "[queue][errors]") {
  QueueFixture q;
  auto kept = q.claim("kept.pdf");
  Result<void> result;
  {
    FileSizeLimit limit(1 << 20);
    result = q.store().batch([&]() -> Result<void> {
      q.start(kept);
      NewClaim huge{kInbox, std::string(4 << 20, 'x'), "huge", 1};
      auto ids = q.store().begin_claims(std::span(&huge, 1), kT0);
      return ids ? Result<void>() : fail(ids.error());
    });
  }
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message, Catch::StartsWith("queue: "));
  q.reopen();
  CHECK(q.job(kept).state == JobState::kQueued);
  CHECK(must(q.store().pending_claims()).empty());
  CHECK(same_counts(q.counts(), q.recount()));
}

// --- Listing --------------------------------------------------------------------

TEST_CASE("jobs are listed newest first and page with before_id", "[queue][jobs]") {
  QueueFixture q;
  Ids ids;
  for (int i = 0; i < 5; ++i) ids.push_back(q.claim("f" + std::to_string(i)));
  CHECK(q.listed({.limit = 2}) == Ids{ids[4], ids[3]});
  CHECK(q.listed({.limit = 2, .before_id = ids[3]}) == Ids{ids[2], ids[1]});
  CHECK(q.listed({.limit = 2, .before_id = ids[1]}) == Ids{ids[0]});
  CHECK(q.listed({.limit = 0}).empty());
}

TEST_CASE("jobs can be filtered by inbox and state", "[queue][jobs]") {
  QueueFixture q;
  auto a = q.claim("a", kT0, "scans");
  auto b = q.claim("b", kT0, "scans");
  auto c = q.claim("c", kT0, "invoices");
  q.begin_claim("pending", kT0, "scans");
  q.start(b);
  q.succeed(b);
  CHECK(q.listed({.inbox = "scans"}) == Ids{b, a});
  CHECK(q.listed({.state = JobState::kQueued}) == Ids{c, a});
  CHECK(q.listed({.inbox = "scans", .state = JobState::kDone}) == Ids{b});
  CHECK(q.listed({.inbox = "nowhere"}).empty());
  CHECK(q.listed({.state = JobState::kClaiming}).empty());
}

// Waiting jobs are listed from jobs_waiting, which is ordered by due time:
// the listing still runs newest first and pages by id.
TEST_CASE("waiting jobs are listed newest first across inboxes, whatever their due times",
          "[queue][jobs]") {
  QueueFixture q;
  // Due times run the other way round from ids in both states.
  auto a = q.claim("a", kT0, "scans");
  auto b = q.claim("b", kT0 + 10, "invoices");
  auto c = q.claim("c", kT0, "scans");
  auto d = q.claim("d", kT0 + 40, "invoices");
  q.start(a);
  q.fail_for_retry(a, kT0 + 5);
  q.start(c);
  q.fail_for_retry(c, kT0 + 1'000'000);
  CHECK(q.listed({.state = JobState::kQueued}) == Ids{d, b});
  CHECK(q.listed({.state = JobState::kRetryWait}) == Ids{c, a});
  CHECK(q.listed({.state = JobState::kRetryWait, .limit = 1}) == Ids{c});
  CHECK(q.listed({.state = JobState::kRetryWait, .limit = 1, .before_id = c}) == Ids{a});
  CHECK(q.listed({.inbox = "invoices", .state = JobState::kQueued, .before_id = d}) == Ids{b});
  CHECK(q.listed({.inbox = "scans", .state = JobState::kQueued}).empty());
}

// --- Recovery -------------------------------------------------------------------

TEST_CASE("interrupted jobs come back with their last attempt", "[queue][recovery]") {
  QueueFixture q;
  auto running = q.claim("running");
  q.start(running);
  q.fail_for_retry(running, kT0);
  q.start(running, kT0 + 1);
  must(q.store().set_attempt_pid(running, 2, 777, 123));
  auto finished = q.claim("finished");
  q.start(finished);
  q.succeed(finished);
  q.reopen();
  auto interrupted = must(q.store().interrupted_jobs());
  REQUIRE(interrupted.size() == 1);
  CHECK(interrupted[0].first.id == running);
  CHECK(interrupted[0].second.attempt == 2);
  CHECK(interrupted[0].second.pid == 777);
  CHECK(interrupted[0].second.pid_start_time == 123);
  CHECK_FALSE(interrupted[0].second.finished_at.has_value());
}

TEST_CASE("a crashed attempt still counts when its job is requeued", "[queue][recovery]") {
  QueueFixture q;
  auto id = q.claim("crashes the daemon");
  q.start(id);
  q.reopen();
  Attempt crashed = must(q.store().interrupted_jobs())[0].second;
  crashed.exit_code = std::nullopt;
  must(
      q.store().finish_attempt(crashed, {id, JobState::kQueued, std::nullopt, "interrupted"}, kT0));
  CHECK(q.job(id).attempts == 1);
  CHECK(q.job(id).state == JobState::kQueued);
}

}  // namespace
}  // namespace inboxd::queue::test
