// Grouped durability: commits without a sync, a notification per commit,
// the write-ahead log synced from outside, and spooled files adopted under
// the id their folder names.

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>

#include "daemon/queue/wal_sync.hpp"
#include "tests/unit/queue/queue_fixture.hpp"

namespace inboxd::queue::test {
namespace {

namespace fs = std::filesystem;

// A grouped store on a fresh queue database, and the WalSync beside it.
struct GroupedQueue {
  GroupedQueue() {
    q.close();
    store = must(QueueStore::open(q.db_path(), Durability::kGrouped));
    wal = must(WalSync::open(q.db_path()));
  }
  QueueFixture q;
  std::unique_ptr<QueueStore> store;
  std::shared_ptr<WalSync> wal;
};

// Claims 100 files with long names in one transaction (40 of them pass 4 MiB
// of WAL).
void claim_batch(QueueStore& store, int batch) {
  std::vector<NewClaim> claims;
  for (int i = 0; i < 100; ++i) {
    auto name =
        "file-" + std::to_string(batch) + "-" + std::to_string(i) + "-" + std::string(200, 'x');
    claims.push_back({kInbox, name, name, i});
  }
  must(store.begin_claims(claims, kT0));
}

TEST_CASE("the store tells of each commit once, a batch as one and a refused call not at all",
          "[queue][durability]") {
  QueueFixture q;
  int commits = 0;
  q.store().on_commit([&] { ++commits; });
  auto id = q.claim("a.pdf");  // begin and finish: two commits
  CHECK(commits == 2);
  must(q.store().batch([&]() -> Result<void> {
    must(q.store().start_attempt(id, 1, kT0));
    return q.store().set_attempt_pid(id, 1, 4242, 7);
  }));
  CHECK(commits == 3);
  CHECK_FALSE(q.store().start_attempt(id, 5, kT0));  // out of sequence
  CHECK(commits == 3);
}

TEST_CASE("a grouped store's commits reach the write-ahead log, which WalSync flushes",
          "[queue][durability]") {
  GroupedQueue g;
  CHECK(g.wal->path() == fs::path(g.q.db_path().string() + "-wal"));
  auto size_before = fs::file_size(g.wal->path());
  must(g.store->begin_claims(std::vector<NewClaim>{{kInbox, "a.pdf", "a.pdf", 1}}, kT0));
  CHECK(fs::file_size(g.wal->path()) > size_before);
  (void)must(g.wal->sync());
}

TEST_CASE("a grouped store leaves checkpoints to WalSync", "[queue][durability]") {
  GroupedQueue g;
  auto db_before = fs::file_size(g.q.db_path());
  for (int batch = 0; batch < 40; ++batch)
    claim_batch(*g.store, batch);                    // far past SQLite's 1,000-page auto-checkpoint
  CHECK(fs::file_size(g.q.db_path()) == db_before);  // nothing was checkpointed by the store
  auto wal_size = must(g.wal->sync());
  CHECK(wal_size > 1000u * 1024);  // a thousand pages of a new queue's 1 KiB
  must(g.wal->checkpoint());
  CHECK(fs::file_size(g.q.db_path()) > db_before);
}

TEST_CASE(
    "a grouped store counts the commits no checkpoint has copied, though the WAL file keeps its "
    "size",
    "[queue][durability]") {
  GroupedQueue g;
  for (int batch = 0; batch < 20; ++batch) claim_batch(*g.store, batch);
  auto full = g.store->wal_bytes();
  CHECK(full > 1024u * 1024);
  CHECK(full <= fs::file_size(g.wal->path()));
  (void)must(g.wal->sync());
  must(g.wal->checkpoint());
  claim_batch(*g.store, 20);  // the first commit after a checkpoint starts the WAL over
  CHECK(g.store->wal_bytes() < full / 4);
  CHECK(fs::file_size(g.wal->path()) >= full);
}

TEST_CASE("WalSync refuses a database without a write-ahead log and names the file",
          "[queue][durability]") {
  QueueFixture q;
  q.close();
  auto missing = q.dir() / "other.db";
  auto wal = WalSync::open(missing);
  REQUIRE_FALSE(wal);
  CHECK_THAT(wal.error().message, Catch::StartsWith("open " + missing.string() + "-wal: "));
}

TEST_CASE("a spooled file without a job is adopted under the id its folder names",
          "[queue][durability]") {
  QueueFixture q;
  q.claim("first.pdf");
  const QueueStore::SpooledClaim lost{
      500, {kInbox, "lost.pdf", "lost.pdf", 7}, QueueFixture::spool_path(500)};
  must(q.store().record_claims({&lost, 1}, kT0));
  auto adopted = q.job(500);
  CHECK(adopted.state == JobState::kQueued);
  CHECK(adopted.name == "lost.pdf");
  CHECK(adopted.path == QueueFixture::spool_path(500));
  CHECK(q.counts().queued == 2);
  CHECK(same_counts(q.counts(), q.recount()));
  CHECK(q.claim("next.pdf") > 500);  // ids never go back below an adopted one
}

TEST_CASE("adopting under an id a job already has is refused and changes nothing",
          "[queue][durability]") {
  QueueFixture q;
  auto id = q.claim("mine.pdf");
  auto before = q.counts();
  const QueueStore::SpooledClaim taken{id, {kInbox, "other.pdf", "other.pdf", 1}, "/x"};
  CHECK_FALSE(q.store().record_claims({&taken, 1}, kT0));
  CHECK(q.job(id).name == "mine.pdf");
  CHECK(same_counts(q.counts(), before));
}

}  // namespace
}  // namespace inboxd::queue::test
