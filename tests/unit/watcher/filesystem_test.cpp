#include "watcher/filesystem.hpp"

#include <catch2/catch.hpp>

using inboxd::watcher::classify_filesystem;
using inboxd::watcher::filesystem_of;

TEST_CASE("network, cluster and FUSE filesystems count as shared", "[watcher][filesystem]") {
  for (unsigned long magic : {0x6969UL, 0xFF534D42UL, 0xFE534D42UL, 0x65735546UL, 0x00C36400UL,
                              0x01021997UL, 0x7461636FUL}) {
    INFO(std::hex << magic);
    CHECK(classify_filesystem(magic).shared);
  }
  CHECK(classify_filesystem(0x6969UL).describe() == "nfs filesystem (statfs type 0x6969)");
}

TEST_CASE("local filesystems and unknown types are watched with inotify", "[watcher][filesystem]") {
  CHECK_FALSE(classify_filesystem(0xEF53UL).shared);
  CHECK(classify_filesystem(0xEF53UL).name == "ext4");
  CHECK_FALSE(classify_filesystem(0x01021994UL).shared);
  auto unknown = classify_filesystem(0x12345678UL);
  CHECK_FALSE(unknown.shared);
  CHECK(unknown.name == "0x12345678");
}

TEST_CASE("the filesystem of a real folder is read with statfs", "[watcher][filesystem]") {
  auto proc = filesystem_of("/proc");
  REQUIRE(proc);
  CHECK(proc->magic == 0x9fa0UL);  // PROC_SUPER_MAGIC
  CHECK_FALSE(proc->shared);
  auto missing = filesystem_of("/nonexistent/inboxd-test");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().message.find("statfs /nonexistent/inboxd-test") != std::string::npos);
}
