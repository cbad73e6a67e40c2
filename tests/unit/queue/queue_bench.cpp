// queue_bench: how the queue store behaves with a million jobs. Not run by
// ctest; build it optimised and run it by hand:
//
//   queue_bench [JOBS] [DIR]
//
// Claims JOBS files (default 1,000,000) in batches of 1,000 (one transaction
// each, like the daemon's group commit), measures next_runnable and counts,
// finishes half of the jobs and measures again (finished jobs must not slow
// the runnable query), reopens the database (quick_check reads all of it) and
// prints the peak resident set size. DIR defaults to a fresh folder in /tmp,
// removed at the end.
//
//   queue_bench --lifecycle [JOBS] [DIR]
//
// Runs JOBS jobs (default 10,000) one after another through the writes the
// daemon makes for each file at the top of an inbox, in its transactions at
// grouped durability: the claim (recorded after its rename); the previous
// job's outcome together with this job's attempt start (one commit, as when
// a finished handler's slot goes to the next job); the handler's pid; the
// previous job's file placed. Prints the time and the WAL bytes and frames
// (pages written) per job.

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/queue/queue_store.hpp"

namespace {

using inboxd::EpochMs;
using inboxd::Result;
using inboxd::queue::JobState;
using inboxd::queue::NewClaim;
using inboxd::queue::QueueStore;
using Clock = std::chrono::steady_clock;

constexpr int kBatch = 1000;
constexpr EpochMs kT0 = 1'700'000'000'000;
constexpr const char* kInbox = "scans";

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <class T>
T must(Result<T> result) {
  if (!result) {
    fmt::print(stderr, "queue_bench: {}\n", result.error().message);
    std::exit(1);
  }
  return std::move(*result);
}

void must(Result<void> result) {
  if (!result) {
    fmt::print(stderr, "queue_bench: {}\n", result.error().message);
    std::exit(1);
  }
}

std::string peak_rss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0)
      return line.substr(6 + line.substr(6).find_first_not_of(" \t"));
  }
  return "unknown";
}

void claim_all(QueueStore& store, int jobs) {
  std::vector<NewClaim> claims(kBatch);
  std::vector<QueueStore::ClaimResult> results(kBatch);
  for (int done = 0; done < jobs; done += kBatch) {
    for (int i = 0; i < kBatch; ++i) {
      auto name = fmt::format("scan-{:07}.pdf", done + i);
      claims[static_cast<std::size_t>(i)] = NewClaim{kInbox, name, name, 123456};
    }
    const EpochMs now = kT0 + done;
    must(store.batch([&]() -> Result<void> {
      auto ids = must(store.begin_claims(claims, now));
      for (std::size_t i = 0; i < ids.size(); ++i) {
        results[i] = {ids[i], fmt::format("/srv/in/.inboxd/spool/{}", ids[i])};
      }
      return store.finish_claims(results, now);
    }));
  }
}

// Runs and finishes the `jobs` oldest runnable jobs, kBatch per transaction.
void finish_oldest(QueueStore& store, int jobs) {
  for (int done = 0; done < jobs; done += kBatch) {
    const EpochMs now = kT0 + 10'000'000 + done;
    must(store.batch([&]() -> Result<void> {
      for (const auto& job : must(store.next_runnable(kInbox, now, kBatch))) {
        must(store.start_attempt(job.id, job.attempts + 1, now));
        inboxd::queue::Attempt attempt;
        attempt.job_id = job.id;
        attempt.attempt = job.attempts + 1;
        must(store.finish_attempt(attempt, {job.id, JobState::kDone, std::nullopt, std::nullopt},
                                  now));
      }
      return {};
    }));
  }
}

// One job's writes, in the order and transactions the daemon makes them;
// `previous` is the job whose slot this one takes (0 for the first).
std::int64_t one_lifecycle(QueueStore& store, int n, EpochMs now, std::int64_t previous) {
  auto name = fmt::format("scan-{:07}.pdf", n);
  const auto id = must(store.reserve_ids(1)).at(0);
  const QueueStore::SpooledClaim claimed{
      id, {kInbox, name, name, 123456}, fmt::format("/srv/in/.inboxd/spool/{}/{}", id, name)};
  must(store.record_claims({&claimed, 1}, now));
  must(store.batch_whole([&]() -> Result<void> {
    if (previous != 0) {
      inboxd::queue::Attempt attempt;
      attempt.job_id = previous;
      attempt.attempt = 1;
      attempt.exit_code = 0;
      must(store.finish_attempt(attempt, {previous, JobState::kDone, std::nullopt, std::string()},
                                now));
    }
    return store.start_attempt(id, 1, now);
  }));
  must(store.set_attempt_pid(id, 1, 4242 + n, 1234567));
  if (previous != 0) must(store.set_path(previous, fmt::format("/srv/in/done/{}", name), now));
  return id;
}

int lifecycle(int jobs, const std::filesystem::path& file) {
  auto store = must(QueueStore::open(file, inboxd::queue::Durability::kGrouped));
  auto wal = std::filesystem::path(file.string() + "-wal");
  auto previous = one_lifecycle(*store, -1, kT0, 0);  // creates the WAL and warms the caches
  const auto wal_before = std::filesystem::file_size(wal);
  auto start = Clock::now();
  for (int i = 0; i < jobs; ++i) previous = one_lifecycle(*store, i, kT0 + i, previous);
  const double secs = seconds_since(start);
  // Each WAL frame is a 24-byte header and one page; autocheckpoint is off
  // at grouped durability, so the WAL only grows.
  const auto bytes = static_cast<double>(std::filesystem::file_size(wal) - wal_before);
  const double page = 4096 + 24;
  fmt::print(
      "lifecycle: {} jobs in {:.2f} s: {:.1f} us/job, {:.0f} WAL bytes/job ({:.1f} frames)\n", jobs,
      secs, secs * 1e6 / jobs, bytes / jobs, bytes / page / jobs);
  return 0;
}

// Mean and worst latency of next_runnable(limit 4) plus counts, in ms.
void measure_serving(QueueStore& store, const char* label) {
  constexpr int kCalls = 2000;
  double worst = 0;
  auto start = Clock::now();
  for (int i = 0; i < kCalls; ++i) {
    auto one = Clock::now();
    auto jobs = must(store.next_runnable(kInbox, kT0 + 100'000'000, 4));
    (void)must(store.counts(kInbox));
    if (jobs.size() != 4) {
      fmt::print(stderr, "queue_bench: expected 4 runnable jobs, got {}\n", jobs.size());
      std::exit(1);
    }
    worst = std::max(worst, seconds_since(one) * 1000.0);
  }
  fmt::print("{:<44} mean {:.3f} ms, worst {:.3f} ms\n", label,
             seconds_since(start) * 1000.0 / kCalls, worst);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--lifecycle") {
    const int jobs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 10'000;
    std::string dir = argc > 3 ? argv[3] : "/tmp/inboxd-queue-bench-XXXXXX";
    if (argc <= 3 && ::mkdtemp(dir.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    const int rc = lifecycle(jobs, std::filesystem::path(dir) / "queue.db");
    if (argc <= 3) std::filesystem::remove_all(dir);
    return rc;
  }
  const int jobs = argc > 1 ? std::max(kBatch, std::atoi(argv[1]) / kBatch * kBatch) : 1'000'000;
  std::string dir = argc > 2 ? argv[2] : "/tmp/inboxd-queue-bench-XXXXXX";
  const bool own_dir = argc <= 2;
  if (own_dir && ::mkdtemp(dir.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const auto file = std::filesystem::path(dir) / "queue.db";
  {
    auto store = must(QueueStore::open(file));
    auto start = Clock::now();
    claim_all(*store, jobs);
    const double secs = seconds_since(start);
    fmt::print("claimed {} jobs in {:.2f} s: {:.0f} claims/s\n", jobs, secs, jobs / secs);
    measure_serving(*store, "next_runnable+counts, all queued:");
    start = Clock::now();
    finish_oldest(*store, jobs / 2);
    fmt::print("ran {} jobs to done in {:.2f} s\n", jobs / 2, seconds_since(start));
    measure_serving(*store, "next_runnable+counts, half of them done:");
  }
  auto start = Clock::now();
  auto reopened = must(QueueStore::open(file));
  fmt::print("reopen (quick_check) {:.2f} s; database {} MiB; peak RSS {}\n", seconds_since(start),
             std::filesystem::file_size(file) >> 20, peak_rss());
  reopened.reset();
  if (own_dir) std::filesystem::remove_all(dir);
  return 0;
}
