#pragma once
// Handlers must inherit only fds 0-2. Every fd the daemon opens itself carries
// O_CLOEXEC, but fds it inherited from whoever started it (a shell, a wrapper,
// a test harness) do not. The runner's spawn closes every fd from 3 up in the
// child; as a second line of defence (and for anything else the daemon might
// exec), main() also calls mark_inherited_fds_cloexec() once at start-up.
// (Marking, not closing: the daemon itself may still use them.)

#include "common/result.hpp"

namespace inboxd::runner {

// Sets FD_CLOEXEC on every fd >= 3 of this process: close_range(3, ~0U,
// CLOSE_RANGE_CLOEXEC) on Linux 5.11+, otherwise by walking /proc/self/fd.
// A failure is logged as an error (the runner logger) and otherwise ignored.
void mark_inherited_fds_cloexec();

// The /proc/self/fd fallback on its own (also used by tests): sets FD_CLOEXEC
// on every open fd >= first_fd.
Result<void> mark_fds_cloexec_by_scan(int first_fd = 3);

}  // namespace inboxd::runner
