#include "daemon/app/pid_table.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "common/sys_error.hpp"

namespace inboxd::app {
namespace {

// Every record has this length, so that rewriting a file in place never
// leaves the tail of a longer earlier record behind.
constexpr std::size_t kRecordSize = 96;

std::string format_record(const PidTable::Record& r) {
  auto text = fmt::format("inboxd handler job={} attempt={} pid={} start={}", r.job_id, r.attempt,
                          r.pid, r.start_time);
  text.resize(kRecordSize - 1, ' ');
  text += '\n';
  return text;
}

}  // namespace

std::optional<PidTable::Record> PidTable::parse(std::string_view text) {
  std::string line(text.substr(0, text.find('\n')));
  Record r;
  long long job = 0;
  unsigned long long start = 0;
  int consumed = 0;
  if (std::sscanf(line.c_str(), "inboxd handler job=%lld attempt=%d pid=%d start=%llu%n", &job,
                  &r.attempt, &r.pid, &start, &consumed) != 4 ||
      line.find_first_not_of(' ', static_cast<std::size_t>(consumed)) != std::string::npos ||
      job <= 0 || r.attempt <= 0 || r.pid <= 0) {
    return std::nullopt;
  }
  r.job_id = job;
  r.start_time = start;
  return r;
}

Result<std::vector<PidTable::Record>> PidTable::take_over() {
  std::vector<Record> records;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    UniqueFd fd(::open(it->path().c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) continue;
    char buf[kRecordSize + 1] = {};
    auto got = ::pread(fd.get(), buf, kRecordSize, 0);
    if (got <= 0) continue;
    if (auto record = parse(std::string_view(buf, static_cast<std::size_t>(got)))) {
      records.push_back(*record);
    }
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return fail("read " + dir_.string() + ": " + ec.message(), ec.value());
  }
  std::filesystem::remove_all(dir_, ec);
  if (ec) return fail("remove " + dir_.string() + ": " + ec.message(), ec.value());
  std::filesystem::create_directories(dir_, ec);
  if (ec) return fail("mkdir " + dir_.string() + ": " + ec.message(), ec.value());
  return records;
}

Result<std::size_t> PidTable::put(const Record& record) {
  auto slot = write(record);
  failing_ = !slot;
  return slot;
}

Result<std::size_t> PidTable::write(const Record& record) {
  std::size_t slot = 0;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    auto path = dir_ / std::to_string(files_.size());
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd.valid()) return fail_errno("open", path.string());
    slot = files_.size();
    files_.push_back(std::move(fd));
  }
  auto text = format_record(record);
  auto wrote = ::pwrite(files_[slot].get(), text.data(), text.size(), 0);
  if (wrote != static_cast<ssize_t>(text.size())) {
    int err = wrote < 0 ? errno : EIO;
    free_.push_back(slot);
    return fail_errno("write", (dir_ / std::to_string(slot)).string(), err);
  }
  return slot;
}

}  // namespace inboxd::app
