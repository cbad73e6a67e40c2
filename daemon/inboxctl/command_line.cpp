#include "daemon/inboxctl/command_line.hpp"

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdlib>
#include <iostream>

#include "common/version.hpp"
#include "daemon/inboxctl/exit_codes.hpp"

namespace inboxd::inboxctl {
namespace {

constexpr const char* kFooter =
    "Exit codes: 0 ok, 1 inboxd answered with an error, 2 usage error,\n"
    "69 inboxd cannot be reached (the message says why).";

// A job id: a positive decimal integer (CLI11's PositiveNumber would name a
// range of doubles in its message).
CLI::Validator job_id() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        bool digits = !text.empty() && text.size() <= 18 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || text.find_first_not_of('0') == std::string::npos) {
          return "\"" + text + "\" is not a job id (a positive integer)";
        }
        return {};
      },
      "ID");
}

std::string default_socket() {
  const char* env = std::getenv("INBOXD_SOCKET");
  return env != nullptr && *env != '\0' ? env : "/run/inboxd/inboxd.sock";
}

// Option values of every subcommand; which ones count depends on the
// subcommand that was given.
struct Values {
  std::string inbox;
  std::string state;
  int limit = 0;
  std::int64_t before = 0;
  std::int64_t id = 0;
  bool failed = false;
  CLI::Option* inbox_option = nullptr;
  CLI::Option* state_option = nullptr;
  CLI::Option* limit_option = nullptr;
  CLI::Option* before_option = nullptr;
  CLI::Option* id_option = nullptr;
};

void add_jobs(CLI::App& cli, Values& v) {
  auto* jobs = cli.add_subcommand("jobs", "list jobs, newest first");
  v.inbox_option = jobs->add_option("--inbox", v.inbox, "only this inbox");
  v.state_option =
      jobs->add_option("--state", v.state, "only jobs in this state")
          ->check(CLI::IsMember({"queued", "running", "retry_wait", "done", "failed", "canceled"}));
  v.limit_option = jobs->add_option("--limit", v.limit, "at most this many (default 100)")
                       ->check(CLI::Range(1, 1000));
  v.before_option =
      jobs->add_option("--before", v.before, "only ids below this one (paging)")->check(job_id());
}

void add_retry(CLI::App& cli, Values& v) {
  auto* retry =
      cli.add_subcommand("retry", "run a failed or canceled job again (or all failed ones)");
  auto* id = retry->add_option("id", v.id, "job id")->check(job_id());
  auto* failed = retry->add_flag("--failed", v.failed, "retry every failed job");
  auto* inbox = retry->add_option("--inbox", v.inbox, "with --failed: only this inbox");
  id->excludes(failed);
  inbox->needs(failed);
}

void add_commands(CLI::App& cli, Values& v) {
  cli.add_subcommand("status", "inboxes, their state and queue counts");
  add_jobs(cli, v);
  cli.add_subcommand("show", "one job with every attempt")
      ->add_option("id", v.id, "job id")
      ->required()
      ->check(job_id());
  add_retry(cli, v);
  cli.add_subcommand("cancel", "stop a job; its file goes to the failed folder")
      ->add_option("id", v.id, "job id")
      ->required()
      ->check(job_id());
  cli.add_subcommand("pause", "start no new handlers in an inbox (files are still claimed)")
      ->add_option("inbox", v.inbox, "inbox name")
      ->required();
  cli.add_subcommand("resume", "end a pause, or close a tripped breaker at once")
      ->add_option("inbox", v.inbox, "inbox name")
      ->required();
  cli.add_subcommand("reload", "re-read the configuration (a bad one is refused)");
  cli.add_subcommand("metrics", "print the Prometheus metrics");
  cli.add_subcommand("watch", "follow jobs live (a plain event log when not on a terminal)");
}

nlohmann::json jobs_request(const Values& v) {
  nlohmann::json request = {{"cmd", "jobs"}};
  if (v.inbox_option->count() > 0) request["inbox"] = v.inbox;
  if (v.state_option->count() > 0) request["state"] = v.state;
  if (v.limit_option->count() > 0) request["limit"] = v.limit;
  if (v.before_option->count() > 0) request["before_id"] = v.before;
  return request;
}

nlohmann::json build_request(const std::string& command, const Values& v) {
  if (command == "jobs") return jobs_request(v);
  if (command == "show") return {{"cmd", "job"}, {"id", v.id}};
  if (command == "cancel") return {{"cmd", "cancel"}, {"id", v.id}};
  if (command == "pause" || command == "resume") return {{"cmd", command}, {"inbox", v.inbox}};
  if (command == "retry" && v.failed) {
    nlohmann::json request = {{"cmd", "retry"}, {"state", "failed"}};
    if (!v.inbox.empty()) request["inbox"] = v.inbox;
    return request;
  }
  if (command == "retry") return {{"cmd", "retry"}, {"id", v.id}};
  return {{"cmd", command}};
}

}  // namespace

std::variant<Invocation, int> parse_command_line(int argc, char** argv) {
  CLI::App cli{"inboxctl: ask inboxd about its queue and change what it does", "inboxctl"};
  Invocation invocation;
  invocation.socket = default_socket();
  cli.add_option("--socket", invocation.socket, "inboxd's admin socket ($INBOXD_SOCKET)")
      ->capture_default_str();
  cli.add_flag("--json", invocation.json, "print the daemon's JSON answer as it came");
  cli.set_version_flag("--version", std::string("inboxctl ") + kVersion);
  cli.require_subcommand(1);
  cli.fallthrough();
  cli.footer(kFooter);
  Values values;
  add_commands(cli, values);
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  invocation.command = cli.get_subcommands().front()->get_name();
  if (invocation.command == "retry" && values.id == 0 && !values.failed) {
    std::cerr << "retry: give a job ID, or --failed [--inbox X]\n"
              << "Run with --help for more information.\n";
    return kExitUsage;
  }
  invocation.request = build_request(invocation.command, values);
  return invocation;
}

}  // namespace inboxd::inboxctl
