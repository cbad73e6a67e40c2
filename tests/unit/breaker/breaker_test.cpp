#include <catch2/catch.hpp>

#include "daemon/breaker/breaker.hpp"

using inboxd::MonoTime;
using inboxd::breaker::Breaker;
using namespace std::chrono_literals;

namespace {

// A breaker with the default threshold (window 20, min_samples 5, rate 0.5,
// cooldown 5m) and a clock the test moves by hand.
class BreakerFixture {
 public:
  Breaker breaker{inboxd::config::ErrorThreshold{}};
  MonoTime now{};

  bool fail(int n = 1) {
    bool tripped = false;
    for (int i = 0; i < n; ++i) tripped = breaker.record(false, now) || tripped;
    return tripped;
  }
  void succeed(int n = 1) {
    for (int i = 0; i < n; ++i) breaker.record(true, now);
  }
  void wait(inboxd::Millis d) { now += d; }
};

}  // namespace

TEST_CASE("the breaker stays closed below min_samples", "[breaker]") {
  BreakerFixture f;
  CHECK_FALSE(f.fail(4));
  CHECK(f.breaker.may_start(f.now));
}

TEST_CASE("the breaker trips when the failure rate reaches the threshold", "[breaker]") {
  BreakerFixture f;
  f.succeed(3);
  CHECK_FALSE(f.fail(2));  // 2/5 = 0.4
  CHECK(f.fail(1));        // 3/6 = 0.5
  CHECK(f.breaker.open());
  CHECK_FALSE(f.breaker.may_start(f.now));
}

TEST_CASE("only the last window attempts count", "[breaker]") {
  BreakerFixture f;
  f.succeed(10);
  CHECK_FALSE(f.fail(4));  // 4/14
  f.succeed(20);           // the failures slide out of the window
  CHECK(f.breaker.failure_rate() == 0.0);
  CHECK_FALSE(f.fail(9));  // 9/20 < 0.5
  CHECK(f.fail(1));        // 10/20
}

TEST_CASE("after the cooldown one probe runs and its success closes the breaker", "[breaker]") {
  BreakerFixture f;
  f.fail(5);
  f.wait(4min);
  CHECK_FALSE(f.breaker.may_start(f.now));
  f.wait(1min);
  REQUIRE(f.breaker.probe_due(f.now));
  f.breaker.start_probe();
  CHECK_FALSE(f.breaker.may_start(f.now));  // exactly one probe
  CHECK(f.breaker.probe_finished(true, f.now));
  CHECK_FALSE(f.breaker.open());
  CHECK(f.breaker.samples() == 0);  // the window is cleared on close
}

TEST_CASE("a failed probe trips the breaker again for another cooldown", "[breaker]") {
  BreakerFixture f;
  f.fail(5);
  f.wait(5min);
  f.breaker.start_probe();
  CHECK_FALSE(f.breaker.probe_finished(false, f.now));
  CHECK(f.breaker.open());
  CHECK(f.breaker.cooldown_ends() == f.now + 5min);
}

TEST_CASE("results of attempts running when it tripped do not change an open breaker",
          "[breaker]") {
  BreakerFixture f;
  f.fail(5);
  f.succeed(10);
  CHECK(f.breaker.open());
}

TEST_CASE("reset closes the breaker at once and clears the window", "[breaker]") {
  BreakerFixture f;
  f.fail(5);
  f.breaker.reset();
  CHECK(f.breaker.may_start(f.now));
  CHECK(f.breaker.samples() == 0);
}

TEST_CASE("a disabled threshold never trips", "[breaker]") {
  inboxd::config::ErrorThreshold off;
  off.enabled = false;
  Breaker b(off);
  for (int i = 0; i < 100; ++i) CHECK_FALSE(b.record(false, MonoTime{}));
}

TEST_CASE("an abandoned probe lets another probe run", "[breaker]") {
  BreakerFixture f;
  f.fail(5);
  f.wait(5min);
  f.breaker.start_probe();
  f.breaker.probe_abandoned();
  CHECK(f.breaker.probe_due(f.now));
}
