#pragma once
// PidTable: where the next daemon process finds the handlers a crashed one
// left running (<state_dir>/handlers). One small file per handler running
// at once, rewritten in place when a handler starts: one pwrite, no sync,
// no transaction. A kill -9 of the daemon leaves the page cache, and with
// it the records, intact; a power loss ends the handlers as well.
//
// A record outlives its handler until its file is reused. That is harmless:
// recovery stops a process group only while a process with the recorded pid
// and start time (runner::spawned_start_time) still leads it
// (runner::kill_orphaned_group).
//
// Threads: the loop thread only.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "common/result.hpp"
#include "common/unique_fd.hpp"

namespace inboxd::app {

class PidTable {
 public:
  struct Record {
    std::int64_t job_id = 0;
    int attempt = 0;
    pid_t pid = 0;
    std::uint64_t start_time = 0;  // /proc/<pid>/stat field 22
  };

  // Nothing is read or written before take_over().
  explicit PidTable(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // The records an earlier process left, after which the folder exists
  // and is empty; unreadable or garbled files are skipped. Call it once,
  // before the first put().
  Result<std::vector<Record>> take_over();
  // Parses one file's content; nullopt when it is not a record.
  static std::optional<Record> parse(std::string_view text);

  // Writes `record` into a free file; returns its slot for release().
  Result<std::size_t> put(const Record& record);
  // The handler of `slot` is gone: its file may be reused.
  void release(std::size_t slot) { free_.push_back(slot); }
  // The last put() failed.
  bool failing() const { return failing_; }

 private:
  Result<std::size_t> write(const Record& record);

  std::filesystem::path dir_;
  std::vector<UniqueFd> files_;
  std::vector<std::size_t> free_;
  bool failing_ = false;
};

}  // namespace inboxd::app
