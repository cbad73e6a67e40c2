// fuzz_admin_request: request lines through the real Dispatcher with an
// in-memory Backend (fuzz_backend.hpp).
//
// The input is split into lines as a connection splits its input (at '\n',
// a trailing '\r' dropped, empty lines skipped, at most kMaxLines), and every
// line is answered twice against the same backend: once for root and once
// for an unprivileged peer. Invariants for every reply:
//   - the body is one JSON object with a boolean "ok"; a refusal carries
//     {"error":{"code","message"}} with a code of the protocol, never
//     `internal` (the backend throws nothing but AdminError, so `internal`
//     means a parser or handler let some other exception out);
//   - encode_line gives exactly one line that parses back to the same "ok"
//     (invalid UTF-8 in names and messages is replaced, never fatal);
//   - an unprivileged peer never gets "ok":true from a changing command;
//   - only `watch` starts a watch stream, and only when it succeeds.
// The line framing itself lives inside the libuv connection
// (daemon/admin/connection.cpp) and is not reachable without a socket.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "daemon/admin/dispatcher.hpp"
#include "daemon/admin/protocol.hpp"
#include "tests/fuzz/fuzz_backend.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace inboxd::fuzz {
namespace {

constexpr std::size_t kMaxLines = 8;
constexpr std::array<std::string_view, 6> kErrorCodes = {
    "bad_request", "not_found", "forbidden", "conflict", "invalid_config", "internal"};
constexpr std::array<std::string_view, 5> kChangingCommands = {"retry", "cancel", "pause", "resume",
                                                               "reload"};

// The "cmd" of a line, when it is a JSON object with a string cmd.
std::string command_of(std::string_view line) {
  auto object = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (!object.is_object()) return {};
  auto cmd = object.find("cmd");
  return cmd != object.end() && cmd->is_string() ? cmd->get<std::string>() : std::string();
}

bool is_changing(std::string_view cmd) {
  for (std::string_view name : kChangingCommands) {
    if (name == cmd) return true;
  }
  return false;
}

void check_error(const nlohmann::json& body, std::string_view line) {
  auto error = body.find("error");
  require(error != body.end() && error->is_object(), "a refusal carries an error object", line);
  auto code = error->find("code");
  auto message = error->find("message");
  require(code != error->end() && code->is_string(), "an error has a string code", line);
  require(message != error->end() && message->is_string(), "an error has a string message", line);
  const auto text = code->get<std::string>();
  bool known = false;
  for (std::string_view name : kErrorCodes) known = known || name == text;
  require(known, "an error code is one of the protocol's", text);
  require(text != "internal", "no request ends in an internal error", line);
}

void check_reply(const admin::Reply& reply, std::string_view line, bool privileged) {
  const nlohmann::json& body = reply.body;
  require(body.is_object(), "a reply is a JSON object", line);
  auto ok = body.find("ok");
  require(ok != body.end() && ok->is_boolean(), "a reply has a boolean \"ok\"", line);
  if (!ok->get<bool>()) check_error(body, line);

  const std::string encoded = admin::encode_line(body);
  require(encoded.find('\n') == encoded.size() - 1, "an encoded reply is exactly one line",
          encoded);
  auto decoded = nlohmann::json::parse(encoded, nullptr, false);
  require(decoded.is_object() && decoded.value("ok", !ok->get<bool>()) == ok->get<bool>(),
          "an encoded reply parses back with the same \"ok\"", encoded);

  const std::string cmd = command_of(line);
  if (!privileged && ok->get<bool>()) {
    require(!is_changing(cmd), "an unprivileged peer cannot change anything", line);
  }
  if (reply.start_watch) {
    require(cmd == "watch" && ok->get<bool>(), "only a successful watch starts a stream", line);
  }
}

void answer(admin::Dispatcher& dispatcher, std::string_view line) {
  admin::Peer root;
  root.pid = 4242;
  admin::Peer stranger;
  stranger.pid = 4343;
  stranger.uid = 65534;
  stranger.gid = 65534;
  check_reply(dispatcher.handle(line, root), line, true);
  check_reply(dispatcher.handle(line, stranger), line, false);
}

}  // namespace
}  // namespace inboxd::fuzz

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Audit lines for every fuzzed request would drown the fuzzer's output.
  inboxd::log::setup(inboxd::log::Format::kText, spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  inboxd::fuzz::FuzzBackend backend;
  inboxd::admin::Dispatcher dispatcher(backend, inboxd::mono_now(), {});
  std::size_t start = 0;
  for (std::size_t lines = 0; lines < inboxd::fuzz::kMaxLines && start < input.size();) {
    const std::size_t end = std::min(input.find('\n', start), input.size());
    std::string_view line = input.substr(start, end - start);
    start = end + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    inboxd::fuzz::answer(dispatcher, line);
    ++lines;
  }
  return 0;
}
