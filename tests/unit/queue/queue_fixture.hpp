#pragma once
// QueueFixture: a real queue database in a fresh temporary directory, and the
// verbs the queue tests are written in (claim, start, fail, succeed, ...).
// Every verb REQUIREs success, so a test only spells out what it checks.
// Raw SQL here is for checking the store from outside (recounts, query
// plans), never for changing it.

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/queue/queue_store.hpp"

namespace inboxd::queue::test {

inline constexpr const char* kInbox = "scans";
inline constexpr EpochMs kT0 = 1'700'000'000'000;  // an arbitrary wall-clock start

// Unwraps a Result, failing the test with its error message.
template <class T>
T must(Result<T> result) {
  if (!result) FAIL(result.error().message);
  return std::move(*result);
}
inline void must(Result<void> result) {
  if (!result) FAIL(result.error().message);
}

class QueueFixture {
 public:
  QueueFixture();
  ~QueueFixture();
  QueueFixture(const QueueFixture&) = delete;
  QueueFixture& operator=(const QueueFixture&) = delete;

  QueueStore& store() { return *store_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path db_path() const { return dir_ / "queue.db"; }
  void close() { store_.reset(); }
  void reopen();

  // Claims one file completely (begin, rename succeeded, finish) at `now`.
  std::int64_t claim(const std::string& name, EpochMs now = kT0, const std::string& inbox = kInbox);
  std::int64_t begin_claim(const std::string& name, EpochMs now = kT0,
                           const std::string& inbox = kInbox);
  void finish_claim(std::int64_t id, std::optional<std::string> spool_path, EpochMs now = kT0);
  static std::string spool_path(std::int64_t id) {
    return "/srv/in/.inboxd/spool/" + std::to_string(id);
  }

  // Starts the job's next attempt.
  void start(std::int64_t id, EpochMs now = kT0);
  // Ends the running attempt with exit 1, waiting for a retry at retry_at.
  void fail_for_retry(std::int64_t id, EpochMs retry_at, EpochMs now = kT0);
  // Ends the running attempt with exit 0: done.
  void succeed(std::int64_t id, EpochMs now = kT0);
  void move(std::int64_t id, JobState state, EpochMs now = kT0,
            std::optional<EpochMs> next_attempt_at = std::nullopt);
  Attempt finished_attempt(std::int64_t id, std::optional<int> exit_code);

  Job job(std::int64_t id);
  Counts counts(const std::string& inbox = kInbox);
  std::vector<std::int64_t> runnable(EpochMs now, int limit = 100,
                                     const std::string& inbox = kInbox);
  std::vector<std::int64_t> listed(const QueueStore::JobFilter& filter);

  // Counts by GROUP BY over the jobs table on a separate connection.
  Counts recount(const std::string& inbox = kInbox);
  // EXPLAIN QUERY PLAN details of sql, one string per plan line.
  std::vector<std::string> plan(const char* sql);
  // Runs one raw SQL statement on a separate connection (to set up damage)
  // and returns its rows, each column as text.
  std::vector<std::vector<std::string>> raw_exec(const std::string& sql);

 private:
  std::filesystem::path dir_;
  std::unique_ptr<QueueStore> store_;
};

bool same_counts(const Counts& a, const Counts& b);
std::string read_file_bytes(const std::filesystem::path& file);
void write_file_bytes(const std::filesystem::path& file, const std::string& bytes);

}  // namespace inboxd::queue::test
