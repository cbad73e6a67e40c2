#include "daemon/service/watchdog_timer.hpp"

#include <uv.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "common/uv_handle.hpp"
#include "tests/unit/service/notify_fixture.hpp"

namespace inboxd::service {
namespace {

using namespace testing;
using Clock = std::chrono::steady_clock;

// A real uv loop, a notify socket it watches itself (so each ping is stamped
// when it arrives), and a WatchdogTimer on a notifier whose watchdog timeout
// is WATCHDOG_USEC.
class WatchdogFixture {
 public:
  explicit WatchdogFixture(long long watchdog_usec) : listener_(dir_.path("notify").string()) {
    REQUIRE(uv_loop_init(&loop_) == 0);
    env_.set("NOTIFY_SOCKET", listener_.address());
    env_.set("WATCHDOG_USEC", std::to_string(watchdog_usec));
    env_.unset("WATCHDOG_PID");
    notifier_ = Notifier::from_environment();
    timer_ = std::make_unique<WatchdogTimer>(&loop_, notifier_);
    REQUIRE(uv_poll_init(&loop_, poll_.get(), listener_.fd()) == 0);
    poll_->data = this;
    REQUIRE(uv_poll_start(poll_.get(), UV_READABLE, &WatchdogFixture::on_readable) == 0);
  }
  ~WatchdogFixture() {
    timer_.reset();
    poll_.close();
    staller_.close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);
  }
  WatchdogFixture(const WatchdogFixture&) = delete;
  WatchdogFixture& operator=(const WatchdogFixture&) = delete;

  WatchdogTimer& timer() { return *timer_; }
  // Runs the loop until nothing keeps it alive; the socket watcher does not.
  void run_until_idle() {
    uv_unref(poll_.base());
    uv_run(&loop_, UV_RUN_DEFAULT);
  }

  // Runs the loop for `duration`, stamping every ping that arrives.
  void run_for(std::chrono::milliseconds duration) {
    UvHandle<uv_timer_t> stop;
    uv_timer_init(&loop_, stop.get());
    uv_timer_start(
        stop.get(), [](uv_timer_t* t) { uv_stop(t->loop); },
        static_cast<std::uint64_t>(duration.count()), 0);
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  // Makes the loop hang in a callback for `duration` after `delay`, as a
  // stuck daemon would.
  void stall_after(std::chrono::milliseconds delay, std::chrono::milliseconds duration) {
    stall_ = duration;
    uv_timer_init(&loop_, staller_.get());
    staller_->data = this;
    uv_timer_start(
        staller_.get(),
        [](uv_timer_t* t) {
          std::this_thread::sleep_for(static_cast<WatchdogFixture*>(t->data)->stall_);
        },
        static_cast<std::uint64_t>(delay.count()), 0);
  }

  const std::vector<Clock::time_point>& pings() const { return pings_; }
  // The longest gap between two consecutive pings.
  std::chrono::milliseconds longest_gap() const {
    std::chrono::milliseconds longest{0};
    for (std::size_t i = 1; i < pings_.size(); ++i) {
      longest = std::max(longest, std::chrono::duration_cast<std::chrono::milliseconds>(
                                      pings_[i] - pings_[i - 1]));
    }
    return longest;
  }
  std::chrono::milliseconds shortest_gap() const {
    std::chrono::milliseconds shortest{std::chrono::hours(1)};
    for (std::size_t i = 1; i < pings_.size(); ++i) {
      shortest = std::min(shortest, std::chrono::duration_cast<std::chrono::milliseconds>(
                                        pings_[i] - pings_[i - 1]));
    }
    return shortest;
  }

 private:
  static void on_readable(uv_poll_t* handle, int status, int /*events*/) {
    auto* self = static_cast<WatchdogFixture*>(handle->data);
    if (status < 0) return;
    for (const auto& message : self->listener_.drain()) {
      if (message.text == "WATCHDOG=1") self->pings_.push_back(Clock::now());
    }
  }

  ServiceTempDir dir_;
  ScopedEnv env_;
  NotifyListener listener_;
  uv_loop_t loop_{};
  Notifier notifier_;
  std::unique_ptr<WatchdogTimer> timer_;
  UvHandle<uv_poll_t> poll_;
  UvHandle<uv_timer_t> staller_;
  std::chrono::milliseconds stall_{0};
  std::vector<Clock::time_point> pings_;
};

TEST_CASE("the watchdog is pinged from the event loop at half of WATCHDOG_USEC",
          "[service][watchdog]") {
  WatchdogFixture f(200000);
  REQUIRE(f.timer().start().has_value());
  f.run_for(std::chrono::milliseconds(560));
  // One ping at start, then one every 100 ms.
  CHECK(f.pings().size() >= 5);
  CHECK(f.pings().size() <= 7);
  CHECK(f.shortest_gap() >= std::chrono::milliseconds(90));
  CHECK(f.longest_gap() < std::chrono::milliseconds(200));
}

TEST_CASE("a stuck event loop stops the watchdog pings", "[service][watchdog]") {
  WatchdogFixture f(200000);
  REQUIRE(f.timer().start().has_value());
  f.stall_after(std::chrono::milliseconds(150), std::chrono::milliseconds(450));
  f.run_for(std::chrono::milliseconds(800));
  // No ping may arrive while the loop hangs: the gap spans the whole stall,
  // which is past WATCHDOG_USEC, so systemd would have restarted us.
  CHECK(f.longest_gap() >= std::chrono::milliseconds(400));
  CHECK(f.pings().size() >= 4);
}

TEST_CASE("the watchdog timer does not keep the event loop running", "[service][watchdog]") {
  WatchdogFixture f(60000000);
  REQUIRE(f.timer().start().has_value());
  CHECK(f.timer().active());
  auto started = Clock::now();
  f.run_until_idle();
  CHECK(Clock::now() - started < std::chrono::seconds(1));
  CHECK(f.timer().active());
}

TEST_CASE("without a watchdog timeout the timer never starts", "[service][watchdog]") {
  WatchdogFixture f(0);
  REQUIRE(f.timer().start().has_value());
  CHECK_FALSE(f.timer().active());
  f.run_for(std::chrono::milliseconds(50));
  CHECK(f.pings().empty());
}

}  // namespace
}  // namespace inboxd::service
