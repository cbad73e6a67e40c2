#pragma once
// StateLock: one inboxd per state directory. An flock(LOCK_EX|LOCK_NB) on
// <state_dir>/inboxd.lock held for the life of the process; the kernel drops it
// when the process dies, so a crash never leaves a stale lock behind.

#include <filesystem>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace inboxd::app {

class StateLock {
 public:
  enum class Failure { kHeld, kIo };

  // On failure, *failure says whether another instance holds the lock (exit
  // 75) or the file could not be created (exit 73).
  static Result<StateLock> acquire(const std::filesystem::path& state_dir, Failure* failure);

 private:
  explicit StateLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace inboxd::app
