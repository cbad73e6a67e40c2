#pragma once
// FuzzBackend: a small in-memory Backend for fuzz_admin_request. It answers
// every command plausibly (two inboxes, a handful of jobs in every public
// state, byte strings that are not valid UTF-8 where the protocol allows any
// bytes), follows the retry/cancel state rules of admin_backend.hpp, and
// checks the promises the dispatcher makes to a Backend (limit 1..1000, no
// `claiming` filter, positive ids, retry_all only for failed or canceled): a
// broken promise aborts, which the fuzzer reports as a finding.
//
// A fresh FuzzBackend per input keeps runs independent of each other.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/admin/admin_backend.hpp"

namespace inboxd::fuzz {

class FuzzBackend final : public admin::Backend {
 public:
  FuzzBackend();

  std::vector<admin::InboxStatus> status() override;
  std::vector<queue::Job> jobs(const queue::QueueStore::JobFilter& filter) override;
  admin::JobDetail job(std::int64_t id) override;
  std::string metrics() override;
  void retry(std::int64_t id) override;
  std::vector<std::int64_t> retry_all(queue::JobState state,
                                      const std::optional<std::string>& inbox) override;
  void cancel(std::int64_t id) override;
  void pause(const std::string& inbox) override;
  void resume(const std::string& inbox) override;
  void reload() override;

 private:
  admin::JobDetail& find(std::int64_t id);
  admin::InboxStatus& find_inbox(const std::string& name);

  std::vector<admin::InboxStatus> inboxes_;
  std::vector<admin::JobDetail> jobs_;
};

}  // namespace inboxd::fuzz
