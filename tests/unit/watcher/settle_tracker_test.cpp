#include "watcher/settle_tracker.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using inboxd::Millis;
using inboxd::MonoTime;
using inboxd::watcher::FileInfo;
using inboxd::watcher::SettleTracker;

namespace {

// A tracker with a 2s settle time driven by a hand-moved monotonic clock.
class SettleFixture {
 public:
  explicit SettleFixture(Millis settle = 2s) : tracker(settle) {}

  void advance(Millis by) { now += by; }
  void see(const std::string& rel, std::uint64_t size, std::int64_t mtime_ns = 1) {
    tracker.observe(info(rel, size, mtime_ns), now);
  }
  void writing(const std::string& rel) { tracker.note_writing(rel, now); }
  void closed(const std::string& rel, std::uint64_t size, std::int64_t mtime_ns = 1) {
    tracker.note_closed(info(rel, size, mtime_ns), now);
  }
  std::vector<std::string> due() const { return tracker.due(now); }

  static FileInfo info(const std::string& rel, std::uint64_t size, std::int64_t mtime_ns) {
    FileInfo file;
    file.rel = rel;
    file.size = size;
    file.mtime_ns = mtime_ns;
    return file;
  }

  SettleTracker tracker;
  MonoTime now = MonoTime{} + 1h;
  const std::vector<std::string> none{};
};

}  // namespace

TEST_CASE("a new file is due only once it has been unchanged for the settle time",
          "[watcher][settle]") {
  SettleFixture f;
  f.see("a.pdf", 10);
  CHECK(f.due() == f.none);
  f.advance(1999ms);
  CHECK(f.due() == f.none);
  f.advance(1ms);
  CHECK(f.due() == std::vector<std::string>{"a.pdf"});
}

TEST_CASE("a change in size or mtime restarts the settle clock", "[watcher][settle]") {
  SettleFixture f;
  f.see("a.pdf", 10, 1);
  f.advance(1500ms);
  f.see("a.pdf", 20, 1);
  f.advance(1500ms);
  CHECK(f.due() == f.none);
  f.see("a.pdf", 20, 2);
  f.advance(1999ms);
  CHECK(f.due() == f.none);
  f.advance(1ms);
  CHECK(f.due() == std::vector<std::string>{"a.pdf"});
}

TEST_CASE("seeing the same size and mtime again does not restart the clock", "[watcher][settle]") {
  SettleFixture f;
  f.see("a.pdf", 10);
  f.advance(1500ms);
  f.see("a.pdf", 10);
  f.advance(500ms);
  CHECK(f.due() == std::vector<std::string>{"a.pdf"});
}

TEST_CASE("a file with an open writer is never due until it is closed", "[watcher][settle]") {
  SettleFixture f;
  f.writing("a.pdf");
  f.see("a.pdf", 10);
  f.advance(1h);
  CHECK(f.due() == f.none);
  f.closed("a.pdf", 10);
  f.advance(2s);
  CHECK(f.due() == std::vector<std::string>{"a.pdf"});
}

TEST_CASE("closing restarts the settle clock even when nothing changed", "[watcher][settle]") {
  SettleFixture f;
  f.see("a.pdf", 10);
  f.advance(1500ms);
  f.closed("a.pdf", 10);
  f.advance(1500ms);
  CHECK(f.due() == f.none);
  f.advance(500ms);
  CHECK(f.due() == std::vector<std::string>{"a.pdf"});
}

TEST_CASE("reset_writers clears stale writing marks and settles from then on",
          "[watcher][settle]") {
  SettleFixture f;
  f.writing("a.pdf");
  f.see("a.pdf", 10);
  f.advance(10s);
  f.tracker.reset_writers(f.now);
  f.advance(1999ms);
  CHECK(f.due() == f.none);
  f.advance(1ms);
  CHECK(f.due() == std::vector<std::string>{"a.pdf"});
}

TEST_CASE("a full scan forgets a file marked as written before it started that it did not find",
          "[watcher][settle]") {
  SettleFixture f;
  f.writing("moved-away.pdf");
  f.writing("still-there.pdf");
  f.advance(1s);
  auto scan_start = f.now;
  f.writing("created-during-scan.pdf");
  f.see("settling.pdf", 10);
  f.tracker.forget_missing_writers({SettleFixture::info("still-there.pdf", 0, 1)}, scan_start);
  CHECK(f.tracker.size() == 3);
  CHECK(f.tracker.last_seen("moved-away.pdf") == nullptr);
  // Files with no writer are left to their next stat, which finds them gone.
  f.advance(2s);
  CHECK(f.due() == std::vector<std::string>{"settling.pdf"});
  f.tracker.forget_missing_writers({}, f.now);
  CHECK(f.tracker.size() == 1);
}

TEST_CASE("with a settle time of zero a file is due as soon as it is seen", "[watcher][settle]") {
  SettleFixture f(0ms);
  f.see("a.pdf", 10);
  CHECK(f.due() == std::vector<std::string>{"a.pdf"});
  f.writing("b.pdf");
  CHECK(f.due() == std::vector<std::string>{"a.pdf"});
  f.closed("b.pdf", 3);
  CHECK(f.due() == std::vector<std::string>{"a.pdf", "b.pdf"});
}

TEST_CASE("next_deadline is the earliest pending deadline, ignoring open writers",
          "[watcher][settle]") {
  SettleFixture f;
  CHECK_FALSE(f.tracker.next_deadline().has_value());
  f.writing("open.pdf");
  CHECK_FALSE(f.tracker.next_deadline().has_value());
  const MonoTime first_seen = f.now;
  f.see("b.pdf", 1);
  f.advance(500ms);
  f.see("a.pdf", 1);
  CHECK(f.tracker.next_deadline() == first_seen + 2s);
  f.tracker.forget("b.pdf");
  CHECK(f.tracker.next_deadline() == f.now + 2s);
}

TEST_CASE("a forgotten file is no longer tracked", "[watcher][settle]") {
  SettleFixture f;
  f.see("a.pdf", 10);
  f.tracker.forget("a.pdf");
  f.advance(1h);
  CHECK(f.due() == f.none);
  CHECK(f.tracker.size() == 0);
  CHECK(f.tracker.last_seen("a.pdf") == nullptr);
}

TEST_CASE("due files come in rel order", "[watcher][settle]") {
  SettleFixture f;
  for (const char* rel : {"c", "sub/a", "a", "B", "b"}) f.see(rel, 1);
  f.advance(2s);
  CHECK(f.due() == std::vector<std::string>{"B", "a", "b", "c", "sub/a"});
}

TEST_CASE("last_seen holds the latest stat, and nothing for a file only seen being written",
          "[watcher][settle]") {
  SettleFixture f;
  f.writing("a.pdf");
  CHECK(f.tracker.last_seen("a.pdf") == nullptr);
  f.see("a.pdf", 10, 7);
  REQUIRE(f.tracker.last_seen("a.pdf") != nullptr);
  CHECK(f.tracker.last_seen("a.pdf")->size == 10);
  CHECK(f.tracker.last_seen("a.pdf")->mtime_ns == 7);
}

TEST_CASE("due gives the longest-settled files first, and no more than asked for",
          "[watcher][settle]") {
  SettleFixture f;
  f.see("late.pdf", 1);
  f.advance(1s);
  f.see("a.pdf", 1);
  f.see("b.pdf", 1);
  f.advance(2s);
  CHECK(f.tracker.due(f.now, 2) == std::vector<std::string>{"late.pdf", "a.pdf"});
  CHECK(f.tracker.due(f.now).size() == 3);
}

TEST_CASE("100,000 files seen one by one settle without quadratic work", "[watcher][settle]") {
  SettleFixture f(0ms);
  for (int i = 0; i < 100000; ++i) {
    f.see("f" + std::to_string(i), 1);
    REQUIRE(f.tracker.next_deadline().has_value());  // asked after every event, as the inbox does
  }
  std::size_t claimed = 0;
  for (auto batch = f.tracker.due(f.now, 1000); !batch.empty();
       batch = f.tracker.due(f.now, 1000)) {
    for (const auto& rel : batch) f.tracker.forget(rel);
    claimed += batch.size();
  }
  CHECK(claimed == 100000);
  CHECK(f.tracker.size() == 0);
}
