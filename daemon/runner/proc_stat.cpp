#include "daemon/runner/proc_stat.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <memory>
#include <string>

#include "common/unique_fd.hpp"

namespace inboxd::runner {
namespace {

// Field 3 (state) is the first after comm; field 22 (start time) the 20th.
constexpr std::size_t kFieldsAfterComm = 20;

template <class T>
bool parse_number(std::string_view text, T& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

// Calls fn(pid, stat) for every process in /proc until fn returns false.
// Returns false when /proc cannot be read.
template <class F>
bool for_each_process(F&& fn) {
  std::unique_ptr<DIR, DirCloser> proc(::opendir("/proc"));  // glibc opens it O_CLOEXEC
  if (!proc) return false;
  while (const dirent* entry = ::readdir(proc.get())) {
    pid_t pid = 0;
    if (!parse_number(std::string_view(entry->d_name), pid)) continue;
    auto stat = read_proc_stat(pid);
    if (stat && !fn(pid, *stat)) break;
  }
  return true;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view line) {
  auto close = line.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  line.remove_prefix(close + 1);
  std::array<std::string_view, kFieldsAfterComm> fields;
  std::size_t count = 0;
  while (count < fields.size()) {
    auto begin = line.find_first_not_of(" \n");
    if (begin == std::string_view::npos) break;
    line.remove_prefix(begin);
    auto end = std::min(line.find_first_of(" \n"), line.size());
    fields[count++] = line.substr(0, end);
    line.remove_prefix(end);
  }
  ProcStat stat;
  if (count < fields.size() || fields[0].size() != 1) return std::nullopt;
  stat.state = fields[0][0];
  bool ok = parse_number(fields[1], stat.ppid) && parse_number(fields[2], stat.pgrp) &&
            parse_number(fields[3], stat.session) && parse_number(fields[19], stat.start_time);
  if (!ok) return std::nullopt;
  return stat;
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  // A stat line is far shorter than this: 52 numeric fields and a 16-byte comm.
  std::array<char, 4096> buffer{};
  std::size_t used = 0;
  while (used < buffer.size()) {
    auto n = ::read(fd.get(), buffer.data() + used, buffer.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += static_cast<std::size_t>(n);
  }
  return parse_proc_stat(std::string_view(buffer.data(), used));
}

bool process_group_alive(pid_t pgid) {
  if (pgid <= 0) return false;
  // EPERM means a member exists that we may not signal: still alive.
  if (::kill(-pgid, 0) != 0) return errno == EPERM;
  bool alive = false;
  bool readable = for_each_process([&](pid_t, const ProcStat& stat) {
    alive = stat.pgrp == pgid && stat.state != 'Z' && stat.state != 'X';
    return !alive;
  });
  return alive || !readable;
}

std::uint64_t boot_ticks_now() {
  static const auto ns_per_tick =
      static_cast<std::uint64_t>(1'000'000'000 / std::max(1L, ::sysconf(_SC_CLK_TCK)));
  struct timespec now {};
  ::clock_gettime(CLOCK_BOOTTIME, &now);
  auto ns = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000 +
            static_cast<std::uint64_t>(now.tv_nsec);
  return ns / ns_per_tick;
}

std::uint64_t spawned_start_time(pid_t pid, std::uint64_t ticks_before, std::uint64_t ticks_after) {
  if (ticks_after - ticks_before <= kStartTimeSlack) return ticks_before;
  auto stat = read_proc_stat(pid);
  return stat ? stat->start_time : 0;
}

int kill_orphaned_group(pid_t leader, std::uint64_t leader_start) {
  if (leader <= 0 || (::kill(-leader, 0) != 0 && errno == ESRCH)) return 0;
  int killed = 0;
  for_each_process([&](pid_t pid, const ProcStat& stat) {
    bool member = stat.pgrp == leader && stat.start_time >= leader_start &&
                  (pid != leader || stat.start_time <= leader_start + kStartTimeSlack);
    if (member && ::kill(pid, SIGKILL) == 0) ++killed;
    return true;
  });
  return killed;
}

}  // namespace inboxd::runner
