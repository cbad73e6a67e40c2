#include "watcher/inotify_watcher.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/unique_fd.hpp"
#include "common/uv_handle.hpp"
#include "tests/unit/watcher/temp_dir.hpp"
#include "watcher/file_info.hpp"

using namespace std::chrono_literals;
using inboxd::Millis;
using inboxd::UniqueFd;
using inboxd::UvHandle;
using inboxd::watcher::Event;
using inboxd::watcher::EventKind;
using inboxd::watcher::InotifyWatcher;
using inboxd::watcher::SkipDir;
using inboxd::watcher::testing::TempDir;

namespace {

// A real uv loop and an inbox folder ("inbox") with a sibling ("outside") to
// move things in from and out to. Every test ends with shutdown(), which
// closes the watcher, runs the loop until no handle is left and returns
// uv_loop_close's result.
class WatchFixture {
 public:
  WatchFixture() {
    dir_.mkdir("inbox");
    dir_.mkdir("outside");
    REQUIRE(uv_loop_init(&loop_) == 0);
    REQUIRE(uv_timer_init(&loop_, tick_.get()) == 0);
  }
  ~WatchFixture() {
    if (!shut_down_) shutdown();
  }
  WatchFixture(const WatchFixture&) = delete;
  WatchFixture& operator=(const WatchFixture&) = delete;

  void start(bool recursive = false, SkipDir skip = {}) {
    start_with(recursive, std::move(skip), [this](const Event& event) { events.push_back(event); });
  }
  void start_with(bool recursive, SkipDir skip, InotifyWatcher::Sink sink) {
    auto started =
        InotifyWatcher::start(&loop_, inbox(), recursive, std::move(skip), std::move(sink));
    REQUIRE(started.has_value());
    watcher = std::move(*started);
  }

  // Runs the loop until done() holds or the deadline passes.
  bool run_until(const std::function<bool()>& done, Millis timeout = 10s) {
    const auto deadline = inboxd::mono_now() + timeout;
    uv_timer_start(
        tick_.get(), [](uv_timer_t*) {}, 5, 5);  // bounds each UV_RUN_ONCE
    bool ok = done();
    while (!ok && inboxd::mono_now() < deadline) {
      uv_run(&loop_, UV_RUN_ONCE);
      ok = done();
    }
    uv_timer_stop(tick_.get());
    return ok;
  }
  bool wait_for(EventKind kind, const std::string& rel = "") {
    return run_until([&] { return count(kind, rel) > 0; });
  }
  // Writes a marker file and waits for it: inotify keeps one ordered queue,
  // so every event caused before the marker has been delivered by then.
  bool sync() {
    const std::string marker = ".sync-" + std::to_string(++syncs_);
    write(marker);
    return wait_for(EventKind::kClosed, marker);
  }

  std::size_t count(EventKind kind, const std::string& rel = "") const {
    return static_cast<std::size_t>(
        std::count_if(events.begin(), events.end(),
                      [&](const Event& e) { return e.kind == kind && e.rel == rel; }));
  }
  std::vector<EventKind> kinds_of(const std::string& rel) const {
    std::vector<EventKind> kinds;
    for (const Event& e : events) {
      if (e.rel == rel) kinds.push_back(e.kind);
    }
    return kinds;
  }
  bool any_under(const std::string& folder) const {
    return std::any_of(events.begin(), events.end(), [&](const Event& e) {
      return e.rel == folder || e.rel.rfind(folder + "/", 0) == 0;
    });
  }

  // Creates more files than the kernel queues events for
  // (fs.inotify.max_queued_events) while the loop does not run.
  void overflow_queue() const {
    std::ifstream limit_file("/proc/sys/fs/inotify/max_queued_events");
    int limit = 0;
    REQUIRE(limit_file >> limit);
    for (int i = 0; i < limit + 100; ++i) write("f" + std::to_string(i));
  }

  std::string inbox() const { return dir_.path("inbox"); }
  std::string in(const std::string& rel) const { return dir_.path("inbox/" + rel); }
  void write(const std::string& rel) const { dir_.write("inbox/" + rel); }
  void mkdir(const std::string& rel) const { dir_.mkdir("inbox/" + rel); }
  void remove(const std::string& rel) const { dir_.remove("inbox/" + rel); }
  void write_outside(const std::string& name) const { dir_.write("outside/" + name); }
  void move_in(const std::string& name, const std::string& rel) const {
    dir_.rename("outside/" + name, "inbox/" + rel);
  }
  void move_out(const std::string& rel, const std::string& name) const {
    dir_.rename("inbox/" + rel, "outside/" + name);
  }
  TempDir& dir() { return dir_; }

  int shutdown() {
    shut_down_ = true;
    watcher.reset();
    tick_.close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    return uv_loop_close(&loop_);
  }

  std::vector<Event> events;
  std::unique_ptr<InotifyWatcher> watcher;

 private:
  TempDir dir_;
  uv_loop_t loop_{};
  UvHandle<uv_timer_t> tick_;
  bool shut_down_ = false;
  int syncs_ = 0;
};

}  // namespace

TEST_CASE("a file created, written and closed is reported as writing, then closed",
          "[watcher][inotify]") {
  WatchFixture f;
  f.start();
  UniqueFd fd(::open(f.in("a.pdf").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  REQUIRE(fd.valid());
  REQUIRE(f.wait_for(EventKind::kWriting, "a.pdf"));
  REQUIRE(::write(fd.get(), "data", 4) == 4);
  fd.reset();
  REQUIRE(f.wait_for(EventKind::kClosed, "a.pdf"));
  const auto kinds = f.kinds_of("a.pdf");
  CHECK(kinds.front() == EventKind::kWriting);
  CHECK(kinds.back() == EventKind::kClosed);
  CHECK(f.shutdown() == 0);
}

TEST_CASE("files created and closed before one read are each reported as writing, then closed",
          "[watcher][inotify]") {
  // Their creates and closes arrive in one read: a create whose close
  // follows is a writer that is done, with no stat needed to tell.
  WatchFixture f;
  f.start();
  for (int i = 0; i < 50; ++i) f.write("f" + std::to_string(i));
  UniqueFd held(::open(f.in("held").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  REQUIRE(held.valid());
  REQUIRE(f.sync());
  for (int i = 0; i < 50; ++i) {
    const auto kinds = f.kinds_of("f" + std::to_string(i));
    REQUIRE(!kinds.empty());
    CHECK(kinds.front() == EventKind::kWriting);
    CHECK(kinds.back() == EventKind::kClosed);
  }
  // Created in the same read but still open: its writer is waited for.
  CHECK(f.kinds_of("held") == std::vector<EventKind>{EventKind::kWriting});
  CHECK(f.shutdown() == 0);
}

TEST_CASE("a file renamed into the folder is reported as closed", "[watcher][inotify]") {
  WatchFixture f;
  f.write_outside("x.pdf");
  f.start();
  f.move_in("x.pdf", "x.pdf");
  REQUIRE(f.sync());
  CHECK(f.kinds_of("x.pdf") == std::vector<EventKind>{EventKind::kClosed});
  CHECK(f.shutdown() == 0);
}

TEST_CASE("a hard link into the folder is reported as closed, with no writer to wait for",
          "[watcher][inotify]") {
  WatchFixture f;
  f.write_outside("h.pdf");
  f.start();
  f.dir().link("outside/h.pdf", "inbox/h.pdf");
  REQUIRE(f.sync());
  CHECK(f.kinds_of("h.pdf") == std::vector<EventKind>{EventKind::kClosed});
  CHECK(f.shutdown() == 0);
}

TEST_CASE("a symlink or FIFO created in the folder is reported as closed", "[watcher][inotify]") {
  WatchFixture f;
  f.start();
  f.dir().symlink("/etc/passwd", "inbox/link");
  f.dir().fifo("inbox/pipe");
  REQUIRE(f.sync());
  CHECK(f.kinds_of("link") == std::vector<EventKind>{EventKind::kClosed});
  CHECK(f.kinds_of("pipe") == std::vector<EventKind>{EventKind::kClosed});
  CHECK(f.shutdown() == 0);
}

TEST_CASE("a deleted or moved-away file is reported as removed when recursive",
          "[watcher][inotify]") {
  WatchFixture f;
  f.write("gone.pdf");
  f.write("moved.pdf");
  f.start(true);
  f.remove("gone.pdf");
  f.move_out("moved.pdf", "moved.pdf");
  REQUIRE(f.sync());
  CHECK(f.kinds_of("gone.pdf") == std::vector<EventKind>{EventKind::kRemoved});
  CHECK(f.kinds_of("moved.pdf") == std::vector<EventKind>{EventKind::kRemoved});
  CHECK(f.shutdown() == 0);
}

// Every claim moves a file out of the root: a flat watch must not fill the
// kernel's queue with an event per claimed file.
TEST_CASE("a flat watch reports a deleted file but not one moved away", "[watcher][inotify]") {
  WatchFixture f;
  f.write("gone.pdf");
  f.write("moved.pdf");
  f.start();
  f.remove("gone.pdf");
  f.move_out("moved.pdf", "moved.pdf");
  REQUIRE(f.sync());
  CHECK(f.kinds_of("gone.pdf") == std::vector<EventKind>{EventKind::kRemoved});
  CHECK(f.kinds_of("moved.pdf").empty());
  CHECK(f.shutdown() == 0);
}

// Documents the contract for a new folder: it is watched before kDirAdded is
// delivered, so a file written into it before the watch existed is visible to
// the owner's scan of the folder, and a file written after kDirAdded arrives
// as an event.
TEST_CASE("a new subfolder is watched before it is reported, so a scan then finds earlier files",
          "[watcher][inotify]") {
  WatchFixture f;
  f.start(true);
  f.mkdir("sub");
  f.write("sub/early.txt");  // the loop has not run: no watch on sub exists yet
  REQUIRE(f.wait_for(EventKind::kDirAdded, "sub"));
  auto scanned = inboxd::watcher::scan_directory(f.inbox(), "sub", true, {});
  REQUIRE(scanned.has_value());
  REQUIRE(scanned->size() == 1);
  CHECK(scanned->front().rel == "sub/early.txt");
  f.write("sub/late.txt");
  CHECK(f.wait_for(EventKind::kClosed, "sub/late.txt"));
  CHECK(f.watcher->watch_count() == 2);
  CHECK(f.shutdown() == 0);
}

TEST_CASE("a nested tree created at once is watched down to its leaves", "[watcher][inotify]") {
  WatchFixture f;
  f.start(true);
  f.mkdir("a");
  f.mkdir("a/b");
  f.mkdir("a/b/c");
  REQUIRE(f.wait_for(EventKind::kDirAdded, "a"));
  CHECK(f.watcher->watch_count() == 4);
  f.write("a/b/c/leaf.txt");
  CHECK(f.wait_for(EventKind::kClosed, "a/b/c/leaf.txt"));
  CHECK(f.shutdown() == 0);
}

TEST_CASE("subfolders present at start are watched when recursive", "[watcher][inotify]") {
  WatchFixture f;
  f.mkdir("sub");
  f.mkdir("sub/deep");
  f.start(true);
  CHECK(f.watcher->watch_count() == 3);
  f.write("sub/deep/file.txt");
  CHECK(f.wait_for(EventKind::kClosed, "sub/deep/file.txt"));
  CHECK(f.shutdown() == 0);
}

TEST_CASE("skipped folders are neither watched nor reported", "[watcher][inotify]") {
  WatchFixture f;
  f.mkdir("spool");
  f.start(true, [](std::string_view rel) { return rel == "spool" || rel == "done"; });
  f.mkdir("done");
  f.write("done/report.pdf");
  f.write("spool/job.pdf");
  REQUIRE(f.sync());
  CHECK_FALSE(f.any_under("done"));
  CHECK_FALSE(f.any_under("spool"));
  CHECK(f.watcher->watch_count() == 1);
  CHECK(f.shutdown() == 0);
}

TEST_CASE("without recursive, subfolders are neither watched nor reported", "[watcher][inotify]") {
  WatchFixture f;
  f.start(false);
  f.mkdir("sub");
  f.write("sub/file.txt");
  REQUIRE(f.sync());
  CHECK_FALSE(f.any_under("sub"));
  CHECK(f.watcher->watch_count() == 1);
  CHECK(f.shutdown() == 0);
}

TEST_CASE("a subfolder moved out of the inbox is no longer reported", "[watcher][inotify]") {
  WatchFixture f;
  f.mkdir("sub");
  f.start(true);
  REQUIRE(f.watcher->watch_count() == 2);
  f.move_out("sub", "sub");
  REQUIRE(f.sync());
  CHECK(f.watcher->watch_count() == 1);
  f.dir().write("outside/sub/after.txt");
  REQUIRE(f.sync());
  CHECK_FALSE(f.any_under("sub"));
  CHECK(f.shutdown() == 0);
}

TEST_CASE("a subfolder renamed inside the inbox is reported under its new name",
          "[watcher][inotify]") {
  WatchFixture f;
  f.mkdir("old");
  f.mkdir("old/deep");
  f.start(true);
  f.dir().rename("inbox/old", "inbox/new");
  REQUIRE(f.wait_for(EventKind::kDirAdded, "new"));
  f.write("new/deep/file.txt");
  REQUIRE(f.wait_for(EventKind::kClosed, "new/deep/file.txt"));
  REQUIRE(f.sync());
  CHECK_FALSE(f.any_under("old"));
  CHECK(f.watcher->watch_count() == 3);
  CHECK(f.shutdown() == 0);
}

TEST_CASE("an overflow of the kernel's event queue is reported so the owner rescans",
          "[watcher][inotify]") {
  WatchFixture f;
  f.start();
  f.overflow_queue();
  CHECK(f.wait_for(EventKind::kOverflow));
  CHECK(f.shutdown() == 0);
}

TEST_CASE("after an overflow, folders created while events were lost are watched",
          "[watcher][inotify]") {
  WatchFixture f;
  f.mkdir("gone");
  f.start(true);
  f.overflow_queue();
  f.mkdir("late");  // its IN_CREATE is lost with the rest
  REQUIRE(::rmdir(f.in("gone").c_str()) == 0);
  REQUIRE(f.wait_for(EventKind::kOverflow));
  CHECK(f.watcher->watch_count() == 2);
  f.write("late/file.txt");
  CHECK(f.wait_for(EventKind::kClosed, "late/file.txt"));
  CHECK(f.shutdown() == 0);
}

TEST_CASE("removing the inbox folder is reported once as root gone", "[watcher][inotify]") {
  WatchFixture f;
  f.start();
  REQUIRE(::rmdir(f.inbox().c_str()) == 0);
  REQUIRE(f.wait_for(EventKind::kRootGone));
  REQUIRE(f.run_until([&] { return f.watcher->watch_count() == 0; }));
  CHECK(f.count(EventKind::kRootGone) == 1);
  CHECK(f.shutdown() == 0);
}

TEST_CASE("moving the inbox folder away is reported as root gone", "[watcher][inotify]") {
  WatchFixture f;
  f.start();
  f.dir().rename("inbox", "outside/inbox");
  CHECK(f.wait_for(EventKind::kRootGone));
  CHECK(f.shutdown() == 0);
}

TEST_CASE("a missing inbox folder makes start fail with the operation and the path",
          "[watcher][inotify]") {
  WatchFixture f;
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  const std::string missing = f.inbox() + "/missing";
  auto started = InotifyWatcher::start(&loop, missing, false, {}, [](const Event&) {});
  REQUIRE_FALSE(started.has_value());
  CHECK(started.error().code == ENOENT);
  CHECK(started.error().message == "inotify_add_watch " + missing + ": No such file or directory");
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
  CHECK(f.shutdown() == 0);
}

TEST_CASE("a sink may destroy the watcher, and nothing is delivered after that",
          "[watcher][inotify]") {
  WatchFixture f;
  f.start_with(false, {}, [&f](const Event& event) {
    f.events.push_back(event);
    f.watcher.reset();
  });
  f.write("a.pdf");
  f.write("b.pdf");
  REQUIRE(f.run_until([&] { return !f.events.empty(); }));
  CHECK(f.events.size() == 1);
  CHECK(f.watcher == nullptr);
  CHECK(f.shutdown() == 0);
}

TEST_CASE("a sink may close the watcher, and nothing is delivered after that",
          "[watcher][inotify]") {
  WatchFixture f;
  f.start_with(false, {}, [&f](const Event& event) {
    f.events.push_back(event);
    f.watcher->close();
    f.watcher->close();
  });
  f.write("a.pdf");
  f.write("b.pdf");
  REQUIRE(f.run_until([&] { return !f.events.empty(); }));
  CHECK(f.events.size() == 1);
  CHECK(f.watcher->watch_count() == 0);
  CHECK(f.shutdown() == 0);
}

TEST_CASE("an exception thrown by the sink is contained and later events still arrive",
          "[watcher][inotify]") {
  WatchFixture f;
  f.start_with(false, {}, [&f](const Event& event) {
    f.events.push_back(event);
    if (f.events.size() == 1) throw std::runtime_error("sink failure");
  });
  f.write("a.pdf");
  CHECK(f.wait_for(EventKind::kClosed, "a.pdf"));
  CHECK(f.shutdown() == 0);
}
