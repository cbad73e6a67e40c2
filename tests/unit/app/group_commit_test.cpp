// GroupCommit: actions wait for the sync of the commits before them, the
// actions waiting at once share one fdatasync, and a lone commit is synced
// within the lazy delay, all on a real queue database.

#include <uv.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/log.hpp"
#include "daemon/app/group_commit.hpp"
#include "daemon/queue/queue_store.hpp"
#include "tests/unit/app/app_test_support.hpp"

using inboxd::app::GroupCommit;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A grouped queue in a temporary folder, a loop, and a GroupCommit on them.
class CommitFixture {
 public:
  CommitFixture() {
    char tmpl[] = "/tmp/inboxd-commit-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    uv_loop_init(&loop_);
    auto store =
        inboxd::queue::QueueStore::open(dir_ / "queue.db", inboxd::queue::Durability::kGrouped);
    REQUIRE(store);
    store_ = std::move(*store);
    auto wal = inboxd::queue::WalSync::open(dir_ / "queue.db");
    REQUIRE(wal);
    commit_ = std::make_unique<GroupCommit>(&loop_, *wal, inboxd::log::get("test"));
    store_->on_commit([this] { commit_->committed(store_->wal_bytes()); });
  }
  ~CommitFixture() {
    commit_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);
    store_.reset();
    fs::remove_all(dir_);
  }

  GroupCommit& commit() { return *commit_; }
  void claim(const std::string& name) {
    std::vector<inboxd::queue::NewClaim> claims{{"scans", name, name, 1}};
    REQUIRE(store_->begin_claims(claims, 1'700'000'000'000));
  }
  // Claims `count` files with long names in one transaction.
  void claim_many(const std::string& prefix, int count) {
    std::vector<inboxd::queue::NewClaim> claims;
    for (int i = 0; i < count; ++i) {
      auto name = prefix + std::to_string(i) + std::string(200, 'x');
      claims.push_back({"scans", name, name, i});
    }
    REQUIRE(store_->begin_claims(claims, 1'700'000'000'000));
  }
  std::uint64_t wal_bytes() const { return store_->wal_bytes(); }
  // Waits for the next sync; durable() counts those that came back.
  void count_when_durable() {
    commit_->after_durable([this](const std::optional<inboxd::Error>& error) {
      CHECK_FALSE(error);
      ++durable_;
    });
  }
  int durable() const { return durable_; }
  // Waits for a sync that covers every commit made so far.
  bool wait_until_durable() {
    int expected = durable_ + 1;
    count_when_durable();
    return run_until([&] { return durable_ >= expected; });
  }

  template <class F>
  bool run_until(F condition, std::chrono::milliseconds timeout = 5s) {
    return inboxd::app::test::run_loop_until(&loop_, condition, timeout);
  }
  void run_for(std::chrono::milliseconds span) {
    run_until([] { return false; }, span);
  }

 private:
  fs::path dir_;
  uv_loop_t loop_{};
  std::unique_ptr<inboxd::queue::QueueStore> store_;
  std::unique_ptr<GroupCommit> commit_;
  int durable_ = 0;
};

}  // namespace

TEST_CASE("actions waiting at once share one sync of the queue", "[group_commit]") {
  CommitFixture f;
  std::vector<int> done;
  for (int i = 0; i < 10; ++i) {
    f.claim("file-" + std::to_string(i));
    f.commit().after_durable([&done, i](const std::optional<inboxd::Error>& error) {
      CHECK_FALSE(error);
      done.push_back(i);
    });
  }
  CHECK(done.empty());  // never before the sync came back on the loop
  REQUIRE(f.run_until([&] { return done.size() == 10; }));
  CHECK(done == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  // The first started a sync at once; the nine after it shared the next.
  CHECK(f.commit().syncs() == 2);
  CHECK(f.commit().idle());
}

TEST_CASE("a commit nobody waits for is synced within the lazy delay, once", "[group_commit]") {
  CommitFixture f;
  auto start = std::chrono::steady_clock::now();
  f.claim("a");
  f.claim("b");
  REQUIRE(f.run_until([&] { return f.commit().syncs() == 1; }, 5s));
  CHECK(std::chrono::steady_clock::now() - start >= GroupCommit::kLazyDelay - 50ms);
  f.run_for(GroupCommit::kLazyDelay + 300ms);
  CHECK(f.commit().syncs() == 1);  // nothing new was committed
}

TEST_CASE("with nothing committed no sync runs", "[group_commit]") {
  CommitFixture f;
  f.run_for(GroupCommit::kLazyDelay + 300ms);
  CHECK(f.commit().syncs() == 0);
}

TEST_CASE("actions that come within the sync gap after a sync share the next one",
          "[group_commit]") {
  CommitFixture f;
  auto first_started = std::chrono::steady_clock::now();
  f.claim("first");
  REQUIRE(f.wait_until_durable());
  REQUIRE(f.commit().syncs() == 1);
  for (int i = 0; i < 4; ++i) {
    f.claim("next-" + std::to_string(i));
    f.count_when_durable();
  }
  bool within_gap = std::chrono::steady_clock::now() - first_started < GroupCommit::kMinSyncGap;
  REQUIRE(f.run_until([&] { return f.durable() == 5; }));
  if (within_gap) {
    CHECK(f.commit().syncs() == 2);
  } else {
    WARN("the first sync took longer than the gap: nothing to compare");
  }
  CHECK(f.commit().idle());
}

TEST_CASE("the queue is checkpointed once its WAL holds enough commits, not at every sync after",
          "[group_commit]") {
  CommitFixture f;
  for (int batch = 0; f.wal_bytes() < GroupCommit::kCheckpointBytes; ++batch) {
    REQUIRE(batch < 1000);
    f.claim_many("batch" + std::to_string(batch) + "-", 100);
  }
  REQUIRE(f.wait_until_durable());
  CHECK(f.commit().checkpoints() == 1);
  // The WAL file is as large as before; what it holds is one small commit.
  for (int i = 0; i < 3; ++i) {
    f.claim("after-" + std::to_string(i));
    REQUIRE(f.wait_until_durable());
  }
  CHECK(f.wal_bytes() < GroupCommit::kCheckpointBytes);
  CHECK(f.commit().checkpoints() == 1);
}
