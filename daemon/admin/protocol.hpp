#pragma once
// protocol: the JSON shapes of the admin socket (PRODUCT.md "Admin socket"),
// built from typed values so the application never writes protocol JSON.
//
// Wire format: newline-delimited JSON, one object per line. File names, tails
// and other byte strings may hold invalid UTF-8; encode_line() writes such
// bytes as U+FFFD, so a strange name never breaks a reply. Times are RFC 3339
// UTC strings with milliseconds.

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "daemon/admin/admin_backend.hpp"
#include "daemon/admin/admin_error.hpp"
#include "daemon/queue/queue_store.hpp"

namespace inboxd::admin {

// A request line longer than this (without its newline) answers bad_request
// and closes the connection.
inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;

// `jobs`: limit defaults to 100; larger than 1000 is clamped to 1000.
inline constexpr int kDefaultJobsLimit = 100;
inline constexpr int kMaxJobsLimit = 1000;

// id, inbox, name, rel, state, size, attempts, created_at, updated_at,
// next_attempt_at (null unless retry_wait), path (null once deleted),
// last_error (null when empty).
nlohmann::json to_json(const queue::Job& job);

// attempt, started_at, finished_at (null while running), duration_ms,
// exit_code (null when signalled), signal ("SIGKILL" or null), timed_out,
// stdout_tail, stderr_tail.
nlohmann::json to_json(const queue::Attempt& attempt);

// One element of status.inboxes.
nlohmann::json to_json(const InboxStatus& inbox);

// {"ok":false,"error":{"code":...,"message":...}}
nlohmann::json error_reply(ErrorCode code, std::string_view message);

// Stream events for `watch`: {"event":"job","id","inbox","name","state",
// "attempt"} on every job transition (attempt: the job's attempts so far,
// i.e. the running attempt while running) and {"event":"inbox","inbox",
// "state"} on every inbox state change.
nlohmann::json job_event(const queue::Job& job);
// The same from loose values, for a transition the caller's Job copy does not
// show yet.
nlohmann::json job_event(std::int64_t id, std::string_view inbox, std::string_view name,
                         queue::JobState state, int attempt);
nlohmann::json inbox_event(std::string_view inbox, std::string_view state);

// The first line of a `watch` stream: {"event":"watching","ok":true}. It tells
// the client that every later transition will reach it.
nlohmann::json watching_event();

// One wire line: compact JSON, invalid UTF-8 replaced by U+FFFD, then '\n'.
std::string encode_line(const nlohmann::json& message);

}  // namespace inboxd::admin
