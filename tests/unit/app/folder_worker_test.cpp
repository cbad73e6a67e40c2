#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "common/log.hpp"
#include "daemon/app/folder_worker.hpp"
#include "tests/unit/app/app_test_support.hpp"

using inboxd::app::FolderWorker;
using namespace std::chrono_literals;

namespace {

// A loop with a FolderWorker on it, and verbs to run the loop until
// something holds. The loop must close with nothing left open.
class WorkerFixture {
 public:
  WorkerFixture() { uv_loop_init(&loop_); }
  ~WorkerFixture() {
    worker_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);
  }

  FolderWorker& worker() {
    if (!worker_) worker_ = std::make_unique<FolderWorker>(&loop_, inboxd::log::get("test"));
    return *worker_;
  }
  void destroy_worker() { worker_.reset(); }

  // Runs the loop until `condition` holds (true) or `timeout` passes.
  template <class F>
  bool run_until(F condition, std::chrono::milliseconds timeout = 5s) {
    return inboxd::app::test::run_loop_until(&loop_, condition, timeout);
  }

 private:
  uv_loop_t loop_{};
  std::unique_ptr<FolderWorker> worker_;
};

}  // namespace

TEST_CASE("folder tasks run in the order posted and their results come back on the loop thread",
          "[folder_worker]") {
  WorkerFixture f;
  auto loop_thread = std::this_thread::get_id();
  std::vector<int> results;
  std::vector<std::thread::id> work_threads;
  for (int i = 0; i < 50; ++i) {
    f.worker().post<int>(
        "task",
        [i, &work_threads] {
          work_threads.push_back(std::this_thread::get_id());
          return i * 2;
        },
        [&results, loop_thread](int value) {
          CHECK(std::this_thread::get_id() == loop_thread);
          results.push_back(value);
        });
  }
  CHECK_FALSE(f.worker().idle());
  REQUIRE(f.run_until([&] { return results.size() == 50; }));
  for (int i = 0; i < 50; ++i) CHECK(results[static_cast<std::size_t>(i)] == i * 2);
  CHECK(work_threads.front() != loop_thread);
  CHECK(f.worker().idle());
}

TEST_CASE("a task stuck in a call is visible with its name and start, and the loop stays free",
          "[folder_worker]") {
  WorkerFixture f;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  bool returned = false;
  f.worker().post<int>(
      "read /srv/hung",
      [fd = fds[0]] {
        char byte = 0;
        return static_cast<int>(::read(fd, &byte, 1));  // blocks like a hung share
      },
      [&returned](int) { returned = true; });
  REQUIRE(f.run_until([&] { return f.worker().current().has_value(); }));
  CHECK(f.worker().current()->what == "read /srv/hung");
  CHECK_FALSE(f.run_until([&] { return returned; }, 100ms));  // the loop keeps turning meanwhile
  REQUIRE(::write(fds[1], "x", 1) == 1);
  REQUIRE(f.run_until([&] { return returned; }));
  CHECK_FALSE(f.worker().current().has_value());
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_CASE("a worker destroyed while its task is stuck does not wait for it, and drops its result",
          "[folder_worker]") {
  WorkerFixture f;
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  auto delivered = std::make_shared<bool>(false);
  f.worker().post<int>(
      "read /srv/hung",
      [fd = fds[0]] {
        char byte = 0;
        return static_cast<int>(::read(fd, &byte, 1));
      },
      [delivered](int) { *delivered = true; });
  REQUIRE(f.run_until([&] { return f.worker().current().has_value(); }));
  auto started = std::chrono::steady_clock::now();
  f.destroy_worker();
  CHECK(std::chrono::steady_clock::now() - started < 1s);
  REQUIRE(::write(fds[1], "x", 1) == 1);  // the stuck call returns after its worker is gone
  f.run_until([] { return false; }, 100ms);
  CHECK_FALSE(*delivered);
  ::close(fds[1]);
  // fds[0] stays open: the detached thread may still be reading it.
}

TEST_CASE("a task that throws is logged and its caller gets a default result", "[folder_worker]") {
  WorkerFixture f;
  std::optional<int> got;
  f.worker().post<int>(
      "bad", []() -> int { throw std::runtime_error("boom"); }, [&got](int value) { got = value; });
  REQUIRE(f.run_until([&] { return got.has_value(); }));
  CHECK(*got == 0);
}
