#include "tests/unit/queue/queue_fixture.hpp"

#include <sqlite3.h>
#include <stdlib.h>

#include <fstream>
#include <iterator>

namespace inboxd::queue::test {
namespace {

// A raw connection for looking at the database from outside the store.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& file) {
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      FAIL("raw open " << file << ": " << sqlite3_errmsg(db_));
    }
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  ~RawDb() { sqlite3_close_v2(db_); }

  // Runs sql (binding ?1 to text when given) and returns every row's columns as text.
  std::vector<std::vector<std::string>> rows(const std::string& sql,
                                             std::optional<std::string> text = std::nullopt) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      FAIL("prepare " << sql << ": " << sqlite3_errmsg(db_));
    }
    if (text) {
      sqlite3_bind_text(stmt, 1, text->data(), static_cast<int>(text->size()), SQLITE_TRANSIENT);
    }
    std::vector<std::vector<std::string>> out;
    int rc = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        const unsigned char* value = sqlite3_column_text(stmt, i);
        row.emplace_back(value != nullptr ? reinterpret_cast<const char*>(value) : "");
      }
      out.push_back(std::move(row));
    }
    std::string error = sqlite3_errmsg(db_);
    sqlite3_finalize(stmt);
    if (rc != SQLITE_DONE) FAIL("step " << sql << ": " << error);
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace

QueueFixture::QueueFixture() {
  std::string pattern = "/tmp/inboxd-queue-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) FAIL("mkdtemp failed");
  dir_ = pattern;
  reopen();
}

QueueFixture::~QueueFixture() {
  store_.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void QueueFixture::reopen() {
  store_.reset();
  store_ = must(QueueStore::open(db_path()));
}

std::int64_t QueueFixture::begin_claim(const std::string& name, EpochMs now,
                                       const std::string& inbox) {
  NewClaim claim{inbox, name, name, 1234};
  auto ids = must(store().begin_claims(std::span(&claim, 1), now));
  REQUIRE(ids.size() == 1);
  return ids.front();
}

void QueueFixture::finish_claim(std::int64_t id, std::optional<std::string> spool_path,
                                EpochMs now) {
  QueueStore::ClaimResult result{id, std::move(spool_path)};
  must(store().finish_claims(std::span(&result, 1), now));
}

std::int64_t QueueFixture::claim(const std::string& name, EpochMs now, const std::string& inbox) {
  auto id = begin_claim(name, now, inbox);
  finish_claim(id, spool_path(id), now);
  return id;
}

void QueueFixture::start(std::int64_t id, EpochMs now) {
  must(store().start_attempt(id, job(id).attempts + 1, now));
}

Attempt QueueFixture::finished_attempt(std::int64_t id, std::optional<int> exit_code) {
  Attempt attempt;
  attempt.job_id = id;
  attempt.attempt = job(id).attempts;
  attempt.exit_code = exit_code;
  attempt.duration_ms = 118;
  attempt.stderr_tail = "boom\n";
  return attempt;
}

void QueueFixture::fail_for_retry(std::int64_t id, EpochMs retry_at, EpochMs now) {
  Transition to{id, JobState::kRetryWait, retry_at, "exit 1"};
  must(store().finish_attempt(finished_attempt(id, 1), to, now));
}

void QueueFixture::succeed(std::int64_t id, EpochMs now) {
  Transition to{id, JobState::kDone, std::nullopt, std::nullopt};
  must(store().finish_attempt(finished_attempt(id, 0), to, now));
}

void QueueFixture::move(std::int64_t id, JobState state, EpochMs now,
                        std::optional<EpochMs> next_attempt_at) {
  must(store().transition(Transition{id, state, next_attempt_at, std::nullopt}, now));
}

Job QueueFixture::job(std::int64_t id) {
  auto found = must(store().job(id));
  REQUIRE(found.has_value());
  return *found;
}

Counts QueueFixture::counts(const std::string& inbox) { return must(store().counts(inbox)); }

std::vector<std::int64_t> QueueFixture::runnable(EpochMs now, int limit, const std::string& inbox) {
  std::vector<std::int64_t> ids;
  for (const Job& j : must(store().next_runnable(inbox, now, limit))) ids.push_back(j.id);
  return ids;
}

std::vector<std::int64_t> QueueFixture::listed(const QueueStore::JobFilter& filter) {
  std::vector<std::int64_t> ids;
  for (const Job& j : must(store().jobs(filter))) ids.push_back(j.id);
  return ids;
}

Counts QueueFixture::recount(const std::string& inbox) {
  RawDb raw(db_path());
  Counts counts;
  for (const auto& row :
       raw.rows("SELECT state, count(*) FROM jobs WHERE inbox = ?1 GROUP BY state", inbox)) {
    const std::int64_t n = std::stoll(row[1]);
    if (row[0] == "queued") counts.queued = n;
    if (row[0] == "running") counts.running = n;
    if (row[0] == "retry_wait") counts.retry_wait = n;
    if (row[0] == "done") counts.done = n;
    if (row[0] == "failed") counts.failed = n;
    if (row[0] == "canceled") counts.canceled = n;
  }
  return counts;
}

std::vector<std::string> QueueFixture::plan(const char* sql) {
  RawDb raw(db_path());
  std::vector<std::string> details;
  for (const auto& row : raw.rows(std::string("EXPLAIN QUERY PLAN ") + sql)) {
    details.push_back(row.at(3));
  }
  return details;
}

std::vector<std::vector<std::string>> QueueFixture::raw_exec(const std::string& sql) {
  RawDb raw(db_path());
  return raw.rows(sql);
}

bool same_counts(const Counts& a, const Counts& b) {
  return a.queued == b.queued && a.running == b.running && a.retry_wait == b.retry_wait &&
         a.done == b.done && a.failed == b.failed && a.canceled == b.canceled;
}

std::string read_file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file_bytes(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

}  // namespace inboxd::queue::test
