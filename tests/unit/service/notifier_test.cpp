#include "daemon/service/notifier.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <string>

#include "tests/unit/service/notify_fixture.hpp"

namespace inboxd::service {
namespace {

using namespace testing;

// A service manager's socket in a temporary folder, with the environment a
// service sees under systemd pointing at it.
class NotifierFixture {
 public:
  explicit NotifierFixture(const std::string& address = "")
      : listener_(address.empty() ? dir_.path("notify").string() : address) {
    env_.set("NOTIFY_SOCKET", listener_.address());
    env_.unset("WATCHDOG_USEC");
    env_.unset("WATCHDOG_PID");
  }

  void watchdog_env(const std::string& usec, const std::string& pid = "") {
    env_.set("WATCHDOG_USEC", usec);
    if (pid.empty()) {
      env_.unset("WATCHDOG_PID");
    } else {
      env_.set("WATCHDOG_PID", pid);
    }
  }
  void no_notify_socket() { env_.unset("NOTIFY_SOCKET"); }
  Notifier notifier() { return Notifier::from_environment(); }
  std::optional<Notification> received() { return listener_.next(2s); }
  std::vector<Notification> nothing_more() { return listener_.drain(); }
  std::string path(const std::string& rel) const { return dir_.path(rel).string(); }

 private:
  ServiceTempDir dir_;
  ScopedEnv env_;
  NotifyListener listener_;
};

unsigned long long monotonic_usec_now() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
         static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
}

TEST_CASE("without NOTIFY_SOCKET the notifier is disabled and every call is a no-op", "[service]") {
  NotifierFixture f;
  f.no_notify_socket();
  auto notifier = f.notifier();
  CHECK_FALSE(notifier.enabled());
  notifier.ready();
  notifier.status("1 inbox");
  CHECK(notifier.notify("READY=1").has_value());
  CHECK_FALSE(notifier.watchdog_interval().has_value());
  CHECK(f.nothing_more().empty());
}

TEST_CASE("ready, status and stopping reach the socket named by NOTIFY_SOCKET from our pid",
          "[service]") {
  NotifierFixture f;
  auto notifier = f.notifier();
  REQUIRE(notifier.enabled());
  notifier.ready();
  notifier.status("1 inbox, 0 queued");
  notifier.stopping();
  auto ready = f.received();
  REQUIRE(ready);
  CHECK(ready->text == "READY=1");
  CHECK(ready->sender == ::getpid());
  CHECK(f.received()->text == "STATUS=1 inbox, 0 queued");
  CHECK(f.received()->text == "STOPPING=1");
}

TEST_CASE("an abstract socket name with a leading @ is supported", "[service]") {
  NotifierFixture f("@inboxd-test-" + std::to_string(::getpid()));
  auto notifier = f.notifier();
  REQUIRE(notifier.enabled());
  notifier.ready();
  auto ready = f.received();
  REQUIRE(ready);
  CHECK(ready->text == "READY=1");
}

TEST_CASE("reloading sends RELOADING=1 with the current CLOCK_MONOTONIC in MONOTONIC_USEC",
          "[service]") {
  NotifierFixture f;
  auto notifier = f.notifier();
  auto before = monotonic_usec_now();
  notifier.reloading();
  auto after = monotonic_usec_now();
  notifier.ready();
  auto reloading = f.received();
  REQUIRE(reloading);
  CHECK(reloading->field("RELOADING") == "1");
  auto stamp = std::stoull(reloading->field("MONOTONIC_USEC").value_or("0"));
  CHECK(stamp >= before);
  CHECK(stamp <= after);
  CHECK(f.received()->text == "READY=1");
}

TEST_CASE("a status line is sent only when it changes, on one line", "[service]") {
  NotifierFixture f;
  auto notifier = f.notifier();
  notifier.status("2 queued");
  notifier.status("2 queued");
  notifier.status("3 queued\nREADY=1");
  CHECK(f.received()->text == "STATUS=2 queued");
  CHECK(f.received()->text == "STATUS=3 queued READY=1");
  CHECK(f.nothing_more().empty());
}

TEST_CASE("the watchdog interval is half of WATCHDOG_USEC", "[service]") {
  NotifierFixture f;
  f.watchdog_env("30000000");
  CHECK(f.notifier().watchdog_interval() == Millis(15000));
  f.watchdog_env("1500");
  CHECK(f.notifier().watchdog_interval() == Millis(1));
}

TEST_CASE("the watchdog is ours only when WATCHDOG_PID is unset or names our pid", "[service]") {
  NotifierFixture f;
  f.watchdog_env("2000000", std::to_string(::getpid()));
  CHECK(f.notifier().watchdog_interval() == Millis(1000));
  f.watchdog_env("2000000", std::to_string(::getppid()));
  CHECK_FALSE(f.notifier().watchdog_interval().has_value());
  auto notifier = f.notifier();
  notifier.watchdog();
  CHECK(f.nothing_more().empty());
}

TEST_CASE("a missing, zero or malformed WATCHDOG_USEC means no watchdog", "[service]") {
  NotifierFixture f;
  CHECK_FALSE(f.notifier().watchdog_interval().has_value());
  for (const char* bad : {"0", "", "-5", "10s", " 100"}) {
    f.watchdog_env(bad);
    CHECK_FALSE(f.notifier().watchdog_interval().has_value());
  }
}

TEST_CASE("a NOTIFY_SOCKET that is neither a path nor an @name disables notifications",
          "[service]") {
  auto relative = Notifier::to_socket("run/notify", std::nullopt);
  REQUIRE_FALSE(relative.has_value());
  CHECK(relative.error().message ==
        "notify socket run/notify: not an absolute path or an @abstract name");
  CHECK_FALSE(Notifier::to_socket("/" + std::string(200, 'x'), std::nullopt).has_value());
  NotifierFixture f;
  ScopedEnv env;
  env.set("NOTIFY_SOCKET", "vsock:2:1234");
  CHECK_FALSE(f.notifier().enabled());
}

TEST_CASE("a lost notification names the socket and the daemon carries on", "[service]") {
  NotifierFixture f;
  auto gone = Notifier::to_socket(f.path("gone"), std::nullopt);
  REQUIRE(gone.has_value());
  auto sent = gone->notify("READY=1");
  REQUIRE_FALSE(sent.has_value());
  CHECK(sent.error().message ==
        "send notification to " + f.path("gone") + ": No such file or directory");
  gone->ready();
  gone->ready();
}

}  // namespace
}  // namespace inboxd::service
