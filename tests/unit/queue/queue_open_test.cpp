// Opening the queue: creation, reopening, and refusing files it must not
// touch (not a database, damaged, written by a newer inboxd).

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "daemon/queue/schema.hpp"
#include "tests/unit/queue/queue_fixture.hpp"

namespace inboxd::queue::test {
namespace {

namespace fs = std::filesystem;

// Fills the database with enough jobs to span many pages, then closes it.
void fill_and_close(QueueFixture& q, int jobs) {
  std::vector<NewClaim> claims;
  for (int i = 0; i < jobs; ++i) {
    claims.push_back({kInbox, "file-" + std::to_string(i) + ".pdf", "r", i});
  }
  must(q.store().begin_claims(claims, kT0));
  q.close();
}

// Opens the fixture's database expecting a refusal; checks the file is
// byte-identical afterwards and returns the error message.
std::string refused_untouched(QueueFixture& q) {
  q.close();
  const std::string before = read_file_bytes(q.db_path());
  auto opened = QueueStore::open(q.db_path());
  REQUIRE_FALSE(opened);
  CHECK(read_file_bytes(q.db_path()) == before);
  CHECK_THAT(opened.error().message,
             Catch::StartsWith("queue: open " + q.db_path().string() + ": "));
  return opened.error().message;
}

TEST_CASE("a new queue gets the current schema and a random instance id", "[queue][open]") {
  QueueFixture first;
  QueueFixture second;
  const std::string& id = first.store().instance_id();
  CHECK(id.size() == 32);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(id != second.store().instance_id());
  CHECK(first.store().instance_id() == id);
}

TEST_CASE("the queue uses write-ahead logging", "[queue][open]") {
  QueueFixture q;
  q.claim("a");
  CHECK(fs::exists(q.dir() / "queue.db-wal"));
  q.close();
  CHECK_FALSE(fs::exists(q.dir() / "queue.db-wal"));
  CHECK(read_file_bytes(q.db_path()).substr(18, 2) == "\x02\x02");  // WAL in the file header
}

TEST_CASE("reopening keeps jobs, attempts, counts and the instance id", "[queue][open]") {
  QueueFixture q;
  const std::string id = q.store().instance_id();
  auto job = q.claim("a.pdf");
  q.start(job);
  q.fail_for_retry(job, kT0 + 1000);
  q.claim("b.pdf");
  q.reopen();
  CHECK(q.store().instance_id() == id);
  CHECK(q.job(job).state == JobState::kRetryWait);
  CHECK(must(q.store().attempts(job)).size() == 1);
  CHECK(q.counts().queued == 1);
  CHECK(q.counts().retry_wait == 1);
  CHECK(same_counts(q.counts(), q.recount()));
}

TEST_CASE("a version 1 queue is upgraded in place and lists its jobs by state as before",
          "[queue][open]") {
  QueueFixture q;
  auto done = q.claim("done.pdf");
  q.start(done);
  q.succeed(done);
  auto failed = q.claim("failed.pdf");
  q.start(failed);
  q.move(failed, JobState::kFailed);
  auto queued = q.claim("queued.pdf");
  q.close();
  // The version 1 indexes, as a database written by an older inboxd has them.
  for (const char* sql : {"DROP INDEX jobs_by_state", "DROP INDEX jobs_by_inbox_state",
                          "CREATE INDEX jobs_by_inbox_state ON jobs (inbox, state)",
                          "CREATE INDEX jobs_by_state ON jobs (state)",
                          "CREATE INDEX jobs_settled_path ON jobs (path) WHERE (state = 'done' OR "
                          "state = 'failed' OR state = 'canceled') AND path IS NOT NULL",
                          "PRAGMA user_version = 1"}) {
    q.raw_exec(sql);
  }
  q.reopen();
  CHECK(q.raw_exec("PRAGMA user_version")[0][0] == std::to_string(schema::current_version()));
  CHECK(q.raw_exec("SELECT name FROM sqlite_master WHERE name = 'jobs_settled_path'").empty());
  CHECK(q.listed({.state = JobState::kDone}) == std::vector<std::int64_t>{done});
  CHECK(q.listed({.inbox = kInbox, .state = JobState::kFailed}) ==
        std::vector<std::int64_t>{failed});
  CHECK(q.listed({.state = JobState::kQueued}) == std::vector<std::int64_t>{queued});
  CHECK(same_counts(q.counts(), q.recount()));
}

TEST_CASE("facts recorded in the meta table survive reopening and can be replaced",
          "[queue][open]") {
  QueueFixture q;
  CHECK_FALSE(must(q.store().meta("boot_id")).has_value());
  must(q.store().set_meta("boot_id", "first"));
  must(q.store().set_meta("boot_id", "second"));
  q.reopen();
  CHECK(must(q.store().meta("boot_id")) == std::optional<std::string>("second"));
  CHECK_FALSE(q.store().instance_id().empty());
}

TEST_CASE("a file that is not a database is refused and left untouched", "[queue][open]") {
  QueueFixture q;
  q.close();
  std::string garbage;
  for (int i = 0; i < 200; ++i) garbage += "this is a spreadsheet, not a queue\n";
  write_file_bytes(q.db_path(), garbage);
  CHECK_THAT(refused_untouched(q), Catch::EndsWith("file is not a database"));
  CHECK_FALSE(fs::exists(q.dir() / "queue.db-wal"));
  CHECK_FALSE(fs::exists(q.dir() / "queue.db-journal"));
}

TEST_CASE("a truncated database is refused and left untouched", "[queue][open]") {
  QueueFixture q;
  fill_and_close(q, 3000);
  const std::string whole = read_file_bytes(q.db_path());
  REQUIRE(whole.size() > 64 * 1024);
  write_file_bytes(q.db_path(), whole.substr(0, whole.size() / 2));
  auto message = refused_untouched(q);
  CHECK_THAT(message, Catch::Contains("integrity check failed") || Catch::Contains("malformed") ||
                          Catch::Contains("not a database"));
}

TEST_CASE("a database from a newer inboxd is refused and left untouched", "[queue][open]") {
  QueueFixture q;
  q.claim("a.pdf");
  q.close();
  q.raw_exec("PRAGMA user_version = " + std::to_string(schema::current_version() + 1));
  CHECK_THAT(refused_untouched(q), Catch::Contains("created by a newer inboxd"));
}

TEST_CASE("a queue in a missing folder cannot be opened and the error names it", "[queue][open]") {
  QueueFixture q;
  auto missing = q.dir() / "no-such-dir" / "queue.db";
  auto opened = QueueStore::open(missing);
  REQUIRE_FALSE(opened);
  CHECK_THAT(opened.error().message, Catch::Contains(missing.string()));
  CHECK((opened.error().code & 0xff) == SQLITE_CANTOPEN);
  CHECK_FALSE(fs::exists(missing.parent_path()));
}

TEST_CASE("an empty file becomes a new queue", "[queue][open]") {
  QueueFixture q;
  q.close();
  write_file_bytes(q.db_path(), "");
  q.reopen();
  CHECK(q.store().instance_id().size() == 32);
  q.claim("a.pdf");
}

TEST_CASE("a new queue uses pages of 1 KiB", "[queue][open]") {
  QueueFixture q;
  q.claim("a.pdf");
  q.close();
  CHECK(q.raw_exec("PRAGMA page_size")[0][0] == "1024");
  CHECK(read_file_bytes(q.db_path()).substr(16, 2) == std::string("\x04\x00", 2));
}

TEST_CASE("a queue created with larger pages keeps them and its jobs", "[queue][open]") {
  QueueFixture q;
  q.close();
  fs::remove(q.db_path());
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(q.db_path().c_str(), &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "PRAGMA page_size = 4096; VACUUM", nullptr, nullptr, nullptr) ==
        SQLITE_OK);
  sqlite3_close(db);
  q.reopen();
  auto job = q.claim("a.pdf");
  q.reopen();
  CHECK(q.job(job).name == "a.pdf");
  q.close();
  CHECK(q.raw_exec("PRAGMA page_size")[0][0] == "4096");
}

}  // namespace
}  // namespace inboxd::queue::test
