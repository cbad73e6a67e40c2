// The real inboxd under a service manager's environment: journal lines now;
// the notification sequence once the application sends it (tagged
// , hidden until then: run it with `unit_service
// ""`).

#include <signal.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/unit/service/inboxd_process.hpp"
#include "tests/unit/service/notify_fixture.hpp"

namespace inboxd::service {
namespace {

using namespace testing;

TEST_CASE("inboxd writes journal lines when JOURNAL_STREAM names its stderr",
          "[service][journal][inboxd]") {
  InboxdProcess inboxd;
  std::ofstream(inboxd.log_file()).flush();
  struct stat st {};
  REQUIRE(::stat(inboxd.log_file().c_str(), &st) == 0);
  inboxd.start({{"JOURNAL_STREAM", std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)}});
  REQUIRE(inboxd.wait_ready());
  REQUIRE(inboxd.stop() == 0);
  std::istringstream lines(inboxd.log());
  const std::regex journal_line("<[0-7]>[a-z]+: [a-z].*");
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    INFO(line);
    CHECK(std::regex_match(line, journal_line));
  }
  CHECK(count >= 3);
  CHECK(inboxd.log().find("<6>app: inboxd ready") != std::string::npos);
}

// Stops inboxd gracefully and returns what it sent meanwhile.
class ManagedInboxd {
 public:
  ManagedInboxd() : manager_(inboxd_.path("notify").string()) {}

  void start(const std::string& watchdog_usec) {
    inboxd_.start({{"NOTIFY_SOCKET", manager_.address()}, {"WATCHDOG_USEC", watchdog_usec}});
    pid_ = inboxd_.pid();
  }
  std::optional<Notification> expect(const std::string& line, std::chrono::milliseconds t = 20s) {
    return manager_.next_with(line, t);
  }
  InboxdProcess& inboxd() { return inboxd_; }
  pid_t pid() const { return pid_; }
  // True when every notification so far came from inboxd's main process
  // (NotifyAccess=main drops the others).
  bool all_from_main_process() const {
    for (const auto& n : manager_.history()) {
      if (n.sender != pid_) return false;
    }
    return true;
  }
  bool sent_status() const {
    for (const auto& n : manager_.history()) {
      if (n.field("STATUS")) return true;
    }
    return false;
  }

 private:
  InboxdProcess inboxd_;
  NotifyListener manager_;
  pid_t pid_ = -1;
};

TEST_CASE("inboxd tells its service manager when it is ready, alive, reloading and stopping",
          "[service][inboxd]") {
  ManagedInboxd f;
  f.start("1000000");
  auto ready = f.expect("READY=1");
  REQUIRE(ready);
  CHECK(f.inboxd().admin_socket_accepts());
  CHECK(f.expect("WATCHDOG=1", 2s));
  CHECK(f.expect("WATCHDOG=1", 2s));

  f.inboxd().signal(SIGHUP);
  auto reloading = f.expect("RELOADING=1", 5s);
  REQUIRE(reloading);
  CHECK(reloading->field("MONOTONIC_USEC"));
  CHECK(f.expect("READY=1", 5s));

  f.inboxd().break_config();
  f.inboxd().signal(SIGHUP);
  CHECK(f.expect("RELOADING=1", 5s));
  CHECK(f.expect("READY=1", 5s));

  CHECK(f.inboxd().stop() == 0);
  CHECK(f.expect("STOPPING=1", 1s));
  CHECK(f.sent_status());
  CHECK(f.all_from_main_process());
}

}  // namespace
}  // namespace inboxd::service
