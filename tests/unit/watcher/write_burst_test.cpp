#include "watcher/write_burst.hpp"

#include <catch2/catch.hpp>
#include <chrono>

using namespace std::chrono_literals;
using inboxd::Millis;
using inboxd::MonoTime;
using inboxd::watcher::WriteBurst;

namespace {

// A gauge driven by a hand-moved monotonic clock.
class BurstFixture {
 public:
  // `count` closes, `gap` apart; the clock ends at the last one.
  void closes(int count, Millis gap) {
    for (int i = 0; i < count; ++i) {
      if (i > 0) now += gap;
      burst.note_close(now);
    }
  }
  bool busy() const { return burst.busy(now); }

  WriteBurst burst;
  MonoTime now = MonoTime{} + 1h;
};

}  // namespace

TEST_CASE("a folder nobody writes to is not busy", "[write_burst]") {
  BurstFixture f;
  CHECK_FALSE(f.busy());
  CHECK(f.burst.quiet_at() <= f.now);
}

TEST_CASE("kCloses closes within kSpan make the folder busy", "[write_burst]") {
  BurstFixture f;
  f.closes(WriteBurst::kCloses - 1, 1ms);
  CHECK_FALSE(f.busy());
  f.closes(1, 1ms);
  CHECK(f.busy());
  CHECK(f.burst.quiet_at() == f.now + WriteBurst::kQuiet);
}

TEST_CASE("closes just slower than the burst rate never count as a burst", "[write_burst]") {
  BurstFixture f;
  // kCloses closes 3 ms apart span 45 ms, more than kSpan; for a minute.
  f.closes(20000, 3ms);
  CHECK_FALSE(f.busy());
  BurstFixture faster;
  faster.closes(WriteBurst::kCloses, 2ms);  // 30 ms
  CHECK(faster.busy());
}

TEST_CASE("a writer's pauses within the span do not end its burst", "[write_burst]") {
  BurstFixture f;
  f.closes(WriteBurst::kCloses, 1ms);
  // Bursts of four closes, then a 10 ms pause: still 16 closes in 40 ms.
  for (int round = 0; round < 100; ++round) {
    f.now += 10ms;
    f.closes(4, 0ms);
    CHECK(f.busy());
  }
}

TEST_CASE("a burst is over kQuiet after its last busy window", "[write_burst]") {
  BurstFixture f;
  f.closes(WriteBurst::kCloses, 0ms);
  f.now += WriteBurst::kQuiet - 1ms;
  CHECK(f.busy());
  f.now += 1ms;
  CHECK_FALSE(f.busy());
}

TEST_CASE("a burst that goes on stays busy and keeps the time it began", "[write_burst]") {
  BurstFixture f;
  auto start = f.now;
  f.closes(WriteBurst::kCloses, 0ms);
  // Two closes a millisecond for half a second: every window is busy.
  for (int ms = 0; ms < 500; ++ms) {
    f.closes(2, 0ms);
    CHECK(f.busy());
    f.now += 1ms;
  }
  CHECK(f.burst.began() == start);
}

TEST_CASE("a burst after a quiet spell begins anew", "[write_burst]") {
  BurstFixture f;
  f.closes(WriteBurst::kCloses, 0ms);
  auto first = f.burst.began();
  f.now += 1s;
  CHECK_FALSE(f.busy());
  f.closes(WriteBurst::kCloses, 0ms);
  CHECK(f.busy());
  CHECK(f.burst.began() == first + 1s);
}
