#pragma once
// TestBackend: a small in-memory Backend for the admin server tests. It keeps
// jobs and inboxes in vectors, follows the state rules PRODUCT.md gives for
// retry and cancel, remembers the last jobs filter, and can be told to fail
// (reload with configuration errors, status with an unexpected exception).

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "daemon/admin/admin_backend.hpp"

namespace inboxd::admin::test {

class TestBackend : public Backend {
 public:
  TestBackend();

  // Adds a job to inbox "scans" (or `inbox`) and returns its id.
  std::int64_t add_job(const std::string& name, queue::JobState state,
                       const std::string& inbox = "scans");
  void add_attempt(std::int64_t id, const queue::Attempt& attempt);
  const queue::Job& job_state(std::int64_t id) const;
  const std::string& inbox_state(const std::string& name) const;

  std::vector<std::string> reload_errors;  // non-empty: reload() refuses with these
  bool status_throws = false;              // status() throws std::runtime_error
  std::optional<queue::QueueStore::JobFilter> last_filter;
  // Called by pause/resume with the inbox and its new state (the tests
  // publish from here, as the application does).
  std::function<void(const std::string&, const std::string&)> on_inbox_state;

  std::vector<InboxStatus> status() override;
  std::vector<queue::Job> jobs(const queue::QueueStore::JobFilter& filter) override;
  JobDetail job(std::int64_t id) override;
  std::string metrics() override;
  void retry(std::int64_t id) override;
  std::vector<std::int64_t> retry_all(queue::JobState state,
                                      const std::optional<std::string>& inbox) override;
  void cancel(std::int64_t id) override;
  void pause(const std::string& inbox) override;
  void resume(const std::string& inbox) override;
  void reload() override;

 private:
  JobDetail& find(std::int64_t id);
  InboxStatus& find_inbox(const std::string& name);
  void set_inbox_state(const std::string& name, const std::string& state);

  std::vector<InboxStatus> inboxes_;
  std::vector<JobDetail> jobs_;
};

}  // namespace inboxd::admin::test
