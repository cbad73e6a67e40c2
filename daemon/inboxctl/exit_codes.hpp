#pragma once
// inboxctl's exit codes (PRODUCT.md "inboxctl").

namespace inboxd::inboxctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitDaemonError = 1;   // the daemon answered with an error
inline constexpr int kExitUsage = 2;         // bad command line
inline constexpr int kExitUnavailable = 69;  // the daemon cannot be reached (EX_UNAVAILABLE)

}  // namespace inboxd::inboxctl
