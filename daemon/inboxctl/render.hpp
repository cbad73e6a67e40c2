#pragma once
// render: inboxctl's human-readable output for each reply (--json prints the
// daemon's line instead). Replies are read defensively: a missing field
// shows as "-", never as a crash.

#include <string>

#include <nlohmann/json.hpp>

#include "daemon/inboxctl/text.hpp"

namespace inboxd::inboxctl {

// One row per inbox, then a note for each inbox whose watching is degraded.
std::string render_status(const nlohmann::json& reply, const Style& style);
// id, inbox, state, attempts, updated, name.
std::string render_jobs(const nlohmann::json& reply, const Style& style);
// Every field, then every attempt with its outcome, duration and stderr tail.
std::string render_job(const nlohmann::json& reply, const Style& style);
// The confirmation line of retry, cancel, pause, resume and reload.
std::string render_change(const nlohmann::json& request, const nlohmann::json& reply);
// One line for an event of the watch stream.
std::string render_event(const nlohmann::json& event, const Style& style);
// "not_found: job 42 does not exist"; multi-line messages indented.
std::string render_error(const nlohmann::json& reply);

// j[key] if j is an object holding it, null otherwise.
const nlohmann::json& field(const nlohmann::json& j, const char* key);

}  // namespace inboxd::inboxctl
