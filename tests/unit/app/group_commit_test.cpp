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
    auto store = inboxd::queue::QueueStore::open(dir_ / "queue.db",
                                                  inboxd::queue::Durability::kGrouped);
    REQUIRE(store);
    store_ = std::move(*store);
    auto wal = inboxd::queue::WalSync::open(dir_ / "queue.db");
    REQUIRE(wal);
    commit_ = std::make_unique<GroupCommit>(&loop_, *wal, inboxd::log::get("test"));
    store_->on_commit([this] { commit_->committed(); });
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
