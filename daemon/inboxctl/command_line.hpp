#pragma once
// command_line: inboxctl's arguments (CLI11), turned into the one request
// line to send.
//
//   inboxctl [--socket PATH] [--json] status | jobs [--inbox X] [--state S]
//     [--limit N] [--before ID] | show ID | retry ID | retry --failed
//     [--inbox X] | cancel ID | pause INBOX | resume INBOX | reload | metrics
//     | watch
//
// --socket defaults to $INBOXD_SOCKET, else /run/inboxd/inboxd.sock. Global
// options may also follow the subcommand.

#include <string>
#include <variant>

#include <nlohmann/json.hpp>

namespace inboxd::inboxctl {

struct Invocation {
  std::string socket;
  bool json = false;
  std::string command;     // the subcommand: status, jobs, show, ...
  nlohmann::json request;  // the request line to send
};

// The invocation, or the exit code when the command line ends the run
// (--help and --version: 0 after printing; a usage error: 2 after saying why).
std::variant<Invocation, int> parse_command_line(int argc, char** argv);

}  // namespace inboxd::inboxctl
