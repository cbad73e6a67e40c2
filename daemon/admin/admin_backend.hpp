#pragma once
// Backend: what the admin server asks of the application. The application
// implements it; the server owns the socket, the protocol, access control and
// the audit log, so a Backend only answers typed questions and performs
// already-authorised changes.
//
// Every method runs on the loop thread, inside a libuv callback of the
// server, and must not block for long (it stalls the loop). A method refuses
// by throwing AdminError with the code the client should see:
//   not_found       no such job or inbox
//   conflict        the job's state does not allow the command
//   invalid_config  reload found errors (message: the file:line:col lines,
//                   one per line); the running configuration stays
//   bad_request     arguments the server could not check itself
// Any other exception becomes `internal` and is logged by the server.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/admin/admin_error.hpp"
#include "daemon/queue/queue_store.hpp"

namespace inboxd::admin {

// One inbox in the `status` reply (PRODUCT.md "Admin socket").
struct InboxStatus {
  std::string name;
  std::string path;
  std::string state;                // active, paused, tripped, unavailable
  std::string watch;                // the mode in effect: inotify or poll
  std::string watch_health = "ok";  // ok or degraded
  std::string watch_note;           // why degraded; empty (shown as null) when ok
  queue::Counts counts;
  std::optional<std::int64_t> oldest_queued_age_s;  // null when nothing is queued
  double failure_rate = 0.0;                        // 0..1 over the breaker's window
  double rate_per_min = 0.0;                        // finished jobs per minute, recently
  std::optional<std::int64_t> eta_s;                // null when there is no rate yet
};

// A job with its attempts, oldest attempt first.
struct JobDetail {
  queue::Job job;
  std::vector<queue::Attempt> history;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // --- Read-only ------------------------------------------------------------
  // Every configured inbox, in configuration order. The server adds version,
  // pid and uptime.
  virtual std::vector<InboxStatus> status() = 0;
  // Newest first. The server has validated the filter: limit is 1..1000, the
  // state is never `claiming`. An unknown inbox may throw not_found.
  virtual std::vector<queue::Job> jobs(const queue::QueueStore::JobFilter& filter) = 0;
  // Throws not_found.
  virtual JobDetail job(std::int64_t id) = 0;
  // The Prometheus text exposition (see metrics_text.hpp).
  virtual std::string metrics() = 0;

  // --- Changing (the server checked the peer and logs the outcome) ----------
  // A failed or canceled job goes back to `queued` with a fresh attempt
  // budget, its file back into the spool and its report removed. Throws
  // not_found, or conflict for any other state.
  virtual void retry(std::int64_t id) = 0;
  // retry() for every job of `state` (failed or canceled), of one inbox or of
  // all; returns the ids retried. Throws not_found for an unknown inbox.
  virtual std::vector<std::int64_t> retry_all(queue::JobState state,
                                              const std::optional<std::string>& inbox) = 0;
  // Stops a running handler, moves the file to failed_dir; the job ends
  // `canceled`. Throws not_found, or conflict for a terminal job.
  virtual void cancel(std::int64_t id) = 0;
  // Throw not_found for an unknown inbox.
  virtual void pause(const std::string& inbox) = 0;
  virtual void resume(const std::string& inbox) = 0;
  // Reads and applies the configuration file; throws invalid_config.
  virtual void reload() = 0;
};

}  // namespace inboxd::admin
