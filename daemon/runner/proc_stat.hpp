#pragma once
// Reading /proc/<pid>/stat: the few fields the runner needs to tell whether a
// handler's process group still has live members, and to identify a process
// across pid reuse (pid + start time).
//
// The second field (comm, in parentheses) is chosen by the process itself and
// may contain spaces and ')' characters, so every field after it is located
// from the LAST ')' in the line.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace inboxd::runner {

struct ProcStat {
  char state = '?';              // field 3: R, S, D, Z, ...
  pid_t ppid = 0;                // field 4
  pid_t pgrp = 0;                // field 5
  pid_t session = 0;             // field 6
  std::uint64_t start_time = 0;  // field 22, clock ticks after boot
};

// Parses one /proc/<pid>/stat line; nullopt when it is malformed.
std::optional<ProcStat> parse_proc_stat(std::string_view line);

// Reads /proc/<pid>/stat; nullopt when there is no such process.
std::optional<ProcStat> read_proc_stat(pid_t pid);

// True while process group `pgid` has at least one member that is not a
// zombie. kill(-pgid, 0) alone also counts zombies, and an orphaned zombie
// that nobody reaps (some container inits never do) holds nothing and cannot
// be signalled away, so it must not keep a finished handler "running". When
// /proc cannot be read the answer is true: the caller then escalates to
// SIGKILL instead of finishing early.
bool process_group_alive(pid_t pgid);

// The boot clock in the ticks of ProcStat::start_time (which a process's
// start is, floored), to bracket a spawn.
std::uint64_t boot_ticks_now();

// A spawned process's start time, for kill_orphaned_group, from the boot
// clock read right before and right after its spawn: the tick before when
// the two are at most kStartTimeSlack apart (the process started in that
// tick or the next; no file to read), else the exact start time from /proc
// (0 when it is gone already).
inline constexpr std::uint64_t kStartTimeSlack = 1;
std::uint64_t spawned_start_time(pid_t pid, std::uint64_t ticks_before, std::uint64_t ticks_after);

// SIGKILLs what is left of a handler's process group started by an earlier
// daemon process, identified by its leader's pid and start time (exact, or
// up to kStartTimeSlack ticks early: spawned_start_time). A process belongs
// to it when its process group is `leader` and it started no earlier than
// the leader did: the kernel never reuses a pid while a group of that id
// exists, and the start time rules out a recycled leader pid (to reuse it
// within a tick, the kernel would have to run through every pid). Returns
// how many processes were signalled.
int kill_orphaned_group(pid_t leader, std::uint64_t leader_start);

}  // namespace inboxd::runner
