// inboxctl: the admin client of inboxd. Parses the command line, sends one
// request line to the daemon's Unix socket and prints the answer: a table for
// people, or the daemon's JSON line as-is with --json. `watch` follows the
// event stream instead. Exit codes (PRODUCT.md): 0 ok, 1 the daemon answered
// with an error, 2 usage error, 69 the daemon cannot be reached (the message
// says why: no socket, connection refused, permission denied).

#include <iostream>
#include <string>

#include "daemon/inboxctl/admin_client.hpp"
#include "daemon/inboxctl/command_line.hpp"
#include "daemon/inboxctl/exit_codes.hpp"
#include "daemon/inboxctl/render.hpp"
#include "daemon/inboxctl/watch_command.hpp"

namespace {

using namespace inboxd::inboxctl;
using nlohmann::json;
using namespace std::chrono_literals;

// Long enough for a reload of a large configuration; a daemon that answers
// nothing for this long counts as unreachable.
constexpr inboxd::Millis kAnswerLimit = 60s;

std::string render(const Invocation& invocation, const json& reply, const Style& style) {
  const auto& command = invocation.command;
  if (command == "status") return render_status(reply, style);
  if (command == "jobs") return render_jobs(reply, style);
  if (command == "show") return render_job(reply, style);
  if (command == "metrics")
    return field(reply, "text").is_string() ? field(reply, "text").get<std::string>() : "";
  return render_change(invocation.request, reply);
}

int run(const Invocation& invocation) {
  auto client = AdminClient::connect(invocation.socket);
  if (!client) {
    std::cerr << "inboxctl: cannot reach inboxd at " << invocation.socket << ": "
              << client.error().message << "\n";
    return kExitUnavailable;
  }
  auto style = Style::for_stdout();
  if (invocation.command == "watch") return run_watch(std::move(*client), invocation, style);
  auto line = client->exchange(invocation.request, kAnswerLimit);
  if (!line) {
    std::cerr << "inboxctl: " << invocation.socket << ": " << line.error().message << "\n";
    return kExitUnavailable;
  }
  auto reply = json::parse(*line, nullptr, false);
  if (!reply.is_object()) {
    std::cerr << "inboxctl: inboxd's answer is not a JSON object\n";
    return kExitDaemonError;
  }
  bool ok = field(reply, "ok") == true;
  if (invocation.json) {
    std::cout << *line << "\n";
  } else if (ok) {
    std::cout << render(invocation, reply, style);
  } else {
    std::cerr << "inboxctl: " << render_error(reply);
  }
  return ok ? kExitOk : kExitDaemonError;
}

}  // namespace

int main(int argc, char** argv) {
  auto parsed = parse_command_line(argc, argv);
  if (const int* code = std::get_if<int>(&parsed)) return *code;
  try {
    return run(std::get<Invocation>(parsed));
  } catch (const std::exception& e) {
    std::cerr << "inboxctl: unexpected error: " << e.what() << "\n";
    return kExitDaemonError;
  }
}
