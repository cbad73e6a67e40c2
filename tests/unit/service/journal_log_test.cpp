// The journal format of common/log.cpp: when stderr is the journal (systemd
// sets JOURNAL_STREAM to stderr's "device:inode"), lines carry <N> syslog
// priority prefixes and no timestamps of their own.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "common/log.hpp"
#include "common/unique_fd.hpp"
#include "tests/unit/service/notify_fixture.hpp"

namespace inboxd::service {
namespace {

using namespace testing;

// Sends this process's stderr to a file until destroyed, and offers the
// JOURNAL_STREAM value systemd would set for it.
class CapturedStderr {
 public:
  explicit CapturedStderr(const std::filesystem::path& file)
      : file_(file), saved_(::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) {
    REQUIRE(saved_.valid());
    std::fflush(stderr);
    UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    REQUIRE(fd.valid());
    REQUIRE(::dup2(fd.get(), STDERR_FILENO) == STDERR_FILENO);
  }
  ~CapturedStderr() {
    std::fflush(stderr);
    ::dup2(saved_.get(), STDERR_FILENO);
    log::setup(log::Format::kText, spdlog::level::info);
  }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  static std::string journal_stream_of(const std::filesystem::path& file) {
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  }
  std::string journal_stream() const { return journal_stream_of(file_); }
  std::string text() const {
    std::fflush(stderr);
    return read_file(file_);
  }

 private:
  std::filesystem::path file_;
  UniqueFd saved_;
};

TEST_CASE("stderr is the journal only when JOURNAL_STREAM names its device and inode",
          "[service][journal]") {
  ServiceTempDir dir;
  ScopedEnv env;
  CapturedStderr captured(dir.path("stderr"));
  env.unset("JOURNAL_STREAM");
  CHECK_FALSE(log::stderr_is_journal());
  env.set("JOURNAL_STREAM", captured.journal_stream());
  CHECK(log::stderr_is_journal());
  std::ofstream(dir.path("other")) << "x";
  env.set("JOURNAL_STREAM", CapturedStderr::journal_stream_of(dir.path("other")));
  CHECK_FALSE(log::stderr_is_journal());
  env.set("JOURNAL_STREAM", "garbage");
  CHECK_FALSE(log::stderr_is_journal());
}

TEST_CASE("journal lines carry a syslog priority prefix and no timestamp", "[service][journal]") {
  ServiceTempDir dir;
  CapturedStderr captured(dir.path("stderr"));
  log::setup(log::Format::kJournal, spdlog::level::debug);
  auto logger = log::get("journal-test");
  logger->debug("event seen id={}", 1);
  logger->info("job finished id={}", 2);
  logger->warn("inbox unavailable name={}", "scans");
  logger->error("recovery failed");
  CHECK(captured.text() ==
        "<7>journal-test: event seen id=1\n"
        "<6>journal-test: job finished id=2\n"
        "<4>journal-test: inbox unavailable name=scans\n"
        "<3>journal-test: recovery failed\n");
}

}  // namespace
}  // namespace inboxd::service
