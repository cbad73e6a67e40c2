#pragma once
// Formatting in the configuration's own syntax, for messages that quote a
// value back to the reader ("10m is longer than retry_backoff_max (5m)").
// parse_duration and parse_size themselves are public, in config.hpp.
//
// Internal to the config module.

#include <string>

#include "common/clock.hpp"

namespace inboxd::config::detail {

// 90000ms -> "90s", 300000ms -> "5m": the largest unit that divides exactly.
std::string spell_duration(Millis duration);

}  // namespace inboxd::config::detail
