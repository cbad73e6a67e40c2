#include "daemon/admin/dispatcher.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "common/log.hpp"
#include "common/version.hpp"
#include "daemon/admin/protocol.hpp"
#include "daemon/admin/request.hpp"

namespace inboxd::admin {
namespace {

[[noreturn]] void bad_request(const std::string& message) {
  throw AdminError(ErrorCode::kBadRequest, message);
}

Reply ok_reply() { return Reply{nlohmann::json{{"ok", true}}}; }

// A job state a client may name: every state except the internal `claiming`.
queue::JobState public_state(const Request& request, const std::string& text) {
  auto state = queue::parse_job_state(text);
  if (!state || *state == queue::JobState::kClaiming) {
    bad_request(
        fmt::format("{}: unknown state \"{}\" (queued, running, retry_wait, done, failed, "
                    "canceled)",
                    request.cmd(), text));
  }
  return *state;
}

}  // namespace

Dispatcher::Dispatcher(Backend& backend, MonoTime started_at,
                       const std::vector<std::string>& admin_groups)
    : backend_(backend), started_at_(started_at), access_(admin_groups), log_(log::get("admin")) {}

void Dispatcher::set_admin_groups(const std::vector<std::string>& admin_groups) {
  access_ = AccessPolicy(admin_groups);
}

const Dispatcher::Command* Dispatcher::find_command(std::string_view name) {
  static const std::array<Command, 10> kCommands = {{
      {"status", false, &Dispatcher::status},
      {"jobs", false, &Dispatcher::jobs},
      {"job", false, &Dispatcher::job},
      {"metrics", false, &Dispatcher::metrics},
      {"watch", false, &Dispatcher::watch},
      {"retry", true, &Dispatcher::retry},
      {"cancel", true, &Dispatcher::cancel},
      {"pause", true, &Dispatcher::pause},
      {"resume", true, &Dispatcher::resume},
      {"reload", true, &Dispatcher::reload},
  }};
  auto found = std::find_if(kCommands.begin(), kCommands.end(),
                            [name](const Command& c) { return c.name == name; });
  return found == kCommands.end() ? nullptr : &*found;
}

Reply Dispatcher::handle(std::string_view line, const Peer& peer) noexcept {
  std::string cmd;
  try {
    auto request = Request::parse(line);
    cmd = request.cmd();
    const auto* command = find_command(cmd);
    if (command == nullptr) bad_request(fmt::format("unknown command \"{}\"", cmd));
    return run(*command, request, peer);
  } catch (const AdminError& e) {
    return Reply{error_reply(e.code(), e.what())};
  } catch (const std::exception& e) {
    log_->error("admin command failed command={} uid={} pid={} error={}", log::quote(cmd), peer.uid,
                peer.pid, log::quote(e.what()));
    return Reply{error_reply(ErrorCode::kInternal, e.what())};
  } catch (...) {
    log_->error("admin command failed command={} uid={} pid={}", log::quote(cmd), peer.uid,
                peer.pid);
    return Reply{error_reply(ErrorCode::kInternal, "unexpected error")};
  }
}

// Read-only commands run as they are; changing ones pass the access check
// first and leave an audit line whatever their outcome.
Reply Dispatcher::run(const Command& command, const Request& request, const Peer& peer) {
  if (!command.changing) return (this->*command.handler)(request);
  try {
    if (!access_.may_change(peer)) {
      throw AdminError(ErrorCode::kForbidden,
                       fmt::format("{} is allowed only to root, inboxd's own user and members of "
                                   "admin_groups (you are uid {})",
                                   command.name, peer.uid));
    }
    auto reply = (this->*command.handler)(request);
    std::string detail;
    if (auto retried = reply.body.find("retried"); retried != reply.body.end()) {
      detail = fmt::format("retried={}", retried->size());
    }
    audit(request, peer, "ok", detail);
    return reply;
  } catch (const AdminError& e) {
    audit(request, peer, to_string(e.code()), "error=" + log::quote(e.what()));
    throw;
  } catch (const std::exception& e) {
    audit(request, peer, "internal", "error=" + log::quote(e.what()));
    throw;
  }
}

void Dispatcher::audit(const Request& request, const Peer& peer, std::string_view result,
                       std::string_view detail) const {
  std::string line = "admin command=" + log::quote(request.cmd());
  if (auto inbox = request.peek_text("inbox")) line += " inbox=" + log::quote(*inbox);
  if (auto id = request.peek_integer("id")) line += fmt::format(" id={}", *id);
  line += fmt::format(" uid={} pid={} result={}", peer.uid, peer.pid, result);
  if (auto state = request.peek_text("state")) line += " state=" + log::quote(*state);
  if (!detail.empty()) line += fmt::format(" {}", detail);
  if (result == "ok") {
    log_->info("{}", line);
  } else {
    log_->warn("{}", line);
  }
}

Reply Dispatcher::status(const Request& request) {
  request.allow_only({});
  auto inboxes = nlohmann::json::array();
  for (const auto& inbox : backend_.status()) inboxes.push_back(to_json(inbox));
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(mono_now() - started_at_);
  nlohmann::json body = {{"ok", true},
                         {"version", fmt::format("inboxd {}", kVersion)},
                         {"pid", ::getpid()},
                         {"uptime_s", uptime.count()},
                         {"inboxes", std::move(inboxes)}};
  return Reply{std::move(body)};
}

Reply Dispatcher::jobs(const Request& request) {
  request.allow_only({"inbox", "state", "limit", "before_id"});
  queue::QueueStore::JobFilter filter;
  filter.inbox = request.optional_text("inbox");
  if (auto state = request.optional_text("state")) filter.state = public_state(request, *state);
  auto limit = request.optional_integer("limit").value_or(kDefaultJobsLimit);
  if (limit < 1) bad_request("jobs: \"limit\" must be at least 1");
  filter.limit = static_cast<int>(std::min<std::int64_t>(limit, kMaxJobsLimit));
  filter.before_id = request.optional_id("before_id");
  auto list = nlohmann::json::array();
  for (const auto& job : backend_.jobs(filter)) list.push_back(to_json(job));
  return Reply{nlohmann::json{{"ok", true}, {"jobs", std::move(list)}}};
}

Reply Dispatcher::job(const Request& request) {
  request.allow_only({"id"});
  auto detail = backend_.job(request.id("id"));
  auto job = to_json(detail.job);
  auto history = nlohmann::json::array();
  for (const auto& attempt : detail.history) history.push_back(to_json(attempt));
  job["history"] = std::move(history);
  return Reply{nlohmann::json{{"ok", true}, {"job", std::move(job)}}};
}

Reply Dispatcher::retry(const Request& request) {
  request.allow_only({"id", "inbox", "state"});
  std::vector<std::int64_t> retried;
  if (request.has("id")) {
    if (request.has("inbox") || request.has("state")) {
      bad_request("retry: give either \"id\", or \"state\" with an optional \"inbox\"");
    }
    auto id = request.id("id");
    backend_.retry(id);
    retried.push_back(id);
  } else if (request.has("state")) {
    auto state = public_state(request, request.text("state"));
    if (state != queue::JobState::kFailed && state != queue::JobState::kCanceled) {
      bad_request("retry: \"state\" must be \"failed\" or \"canceled\"");
    }
    retried = backend_.retry_all(state, request.optional_text("inbox"));
  } else {
    bad_request("retry: needs \"id\", or \"state\":\"failed\" with an optional \"inbox\"");
  }
  return Reply{nlohmann::json{{"ok", true}, {"retried", retried}}};
}

Reply Dispatcher::cancel(const Request& request) {
  request.allow_only({"id"});
  backend_.cancel(request.id("id"));
  return ok_reply();
}

Reply Dispatcher::pause(const Request& request) {
  request.allow_only({"inbox"});
  backend_.pause(request.text("inbox"));
  return ok_reply();
}

Reply Dispatcher::resume(const Request& request) {
  request.allow_only({"inbox"});
  backend_.resume(request.text("inbox"));
  return ok_reply();
}

Reply Dispatcher::reload(const Request& request) {
  request.allow_only({});
  backend_.reload();
  return ok_reply();
}

Reply Dispatcher::metrics(const Request& request) {
  request.allow_only({});
  return Reply{nlohmann::json{{"ok", true}, {"text", backend_.metrics()}}};
}

Reply Dispatcher::watch(const Request& request) {
  request.allow_only({});
  return Reply{watching_event(), true};
}

}  // namespace inboxd::admin
