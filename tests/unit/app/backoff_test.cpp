#include <catch2/catch.hpp>

#include "daemon/app/backoff.hpp"

using inboxd::Millis;
using inboxd::app::jittered_backoff;
using inboxd::app::nominal_backoff;

TEST_CASE("the nominal backoff doubles from retry_backoff and stops at the cap", "[backoff]") {
  Millis base{10000}, cap{600000};
  CHECK(nominal_backoff(base, cap, 1) == Millis{10000});
  CHECK(nominal_backoff(base, cap, 2) == Millis{20000});
  CHECK(nominal_backoff(base, cap, 3) == Millis{40000});
  CHECK(nominal_backoff(base, cap, 6) == Millis{320000});
  CHECK(nominal_backoff(base, cap, 7) == cap);
  CHECK(nominal_backoff(base, cap, 1000) == cap);
}

TEST_CASE("a zero retry_backoff retries at once", "[backoff]") {
  CHECK(nominal_backoff(Millis{0}, Millis{600000}, 3) == Millis{0});
}

TEST_CASE("the jittered delay lies between half the nominal delay and all of it", "[backoff]") {
  std::mt19937_64 rng(42);
  Millis base{1000}, cap{8000};
  for (int n = 1; n <= 6; ++n) {
    auto nominal = nominal_backoff(base, cap, n);
    Millis low = nominal, high{0};
    for (int i = 0; i < 500; ++i) {
      auto d = jittered_backoff(base, cap, n, rng);
      REQUIRE(d >= nominal / 2);
      REQUIRE(d <= nominal);
      low = std::min(low, d);
      high = std::max(high, d);
    }
    // The draws spread over the range rather than sticking to one end.
    CHECK(low < nominal * 6 / 10);
    CHECK(high > nominal * 9 / 10);
  }
}
