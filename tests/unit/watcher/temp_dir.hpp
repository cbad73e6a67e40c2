#pragma once
// TempDir: a real folder under /tmp for watcher tests, removed at the end, with
// verbs that create the kinds of entries a drop folder can hold.

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "common/unique_fd.hpp"

namespace inboxd::watcher::testing {

class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/inboxd-watcher-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    root_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& root() const { return root_; }
  std::string path(const std::string& rel) const { return root_.string() + "/" + rel; }

  // Creates or replaces rel with content, through one open/write/close.
  void write(const std::string& rel, const std::string& content = "x") const {
    UniqueFd fd(::open(path(rel).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    REQUIRE(fd.valid());
    REQUIRE(::write(fd.get(), content.data(), content.size()) ==
            static_cast<ssize_t>(content.size()));
  }
  void mkdir(const std::string& rel) const { REQUIRE(::mkdir(path(rel).c_str(), 0755) == 0); }
  void symlink(const std::string& target, const std::string& rel) const {
    REQUIRE(::symlink(target.c_str(), path(rel).c_str()) == 0);
  }
  void fifo(const std::string& rel) const { REQUIRE(::mkfifo(path(rel).c_str(), 0644) == 0); }
  // A bound unix socket leaves a socket file behind once its fd is closed.
  void socket(const std::string& rel) const {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.valid());
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const std::string full = path(rel);
    REQUIRE(full.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, full.c_str(), full.size() + 1);
    REQUIRE(::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  }
  void link(const std::string& from, const std::string& to) const {
    REQUIRE(::link(path(from).c_str(), path(to).c_str()) == 0);
  }
  void rename(const std::string& from, const std::string& to) const {
    REQUIRE(::rename(path(from).c_str(), path(to).c_str()) == 0);
  }
  void remove(const std::string& rel) const { REQUIRE(::remove(path(rel).c_str()) == 0); }

 private:
  std::filesystem::path root_;
};

}  // namespace inboxd::watcher::testing
