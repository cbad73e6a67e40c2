// fuzz_config: parse_config on any text, as if it were /etc/inboxd/inboxd.yaml.
//
// parse_config must return a Config or throw ConfigError; any other
// exception, a crash, a hang (yaml-cpp 0.7 can loop forever on some inputs,
// see daemon/config/yaml_document.hpp), a leak or undefined behaviour is a
// finding. Beyond that:
//   - a ConfigError lists at least one message, each naming the file first;
//   - a Config that is returned is valid as config.hpp promises (absolute
//     paths, at least one inbox, a resolved command whose elements are valid
//     templates, positive limits), and parsing the same text again gives an
//     equal Config.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "daemon/config/command_template.hpp"
#include "daemon/config/config.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace inboxd::fuzz {
namespace {

const std::filesystem::path kFile = "/etc/inboxd/inboxd.yaml";

config::Environment environment() {
  config::Environment env;
  env.path = "/usr/local/bin:/usr/bin:/bin";
  return env;
}

void check_inbox(const config::InboxConfig& inbox) {
  require(!inbox.name.empty(), "an inbox has a name");
  require(inbox.path.is_absolute(), "an inbox path is absolute", inbox.path.string());
  require(!inbox.command.empty(), "an inbox has a command", inbox.name);
  require(std::filesystem::path(inbox.command.front()).is_absolute(),
          "command[0] is resolved to an absolute path", inbox.command.front());
  for (const std::string& element : inbox.command) {
    require(!config::check_template(element).has_value(), "command elements are valid templates",
            element);
  }
  require(inbox.done_dir.is_absolute() && inbox.failed_dir.is_absolute(),
          "done_dir and failed_dir are absolute", inbox.name);
  require(inbox.concurrency >= 1 && inbox.retries >= 0 && inbox.max_queue >= 1,
          "limits are in range", inbox.name);
  for (const Millis d : {inbox.poll_interval, inbox.rescan_interval, inbox.settle, inbox.timeout,
                         inbox.kill_grace, inbox.retry_backoff, inbox.retry_backoff_max}) {
    require(d.count() >= 0, "durations are not negative", inbox.name);
  }
}

void check_config(const config::Config& config, std::string_view yaml) {
  require(config.file == kFile, "the config names its file");
  require(config.state_dir.is_absolute() && config.socket.is_absolute(),
          "state_dir and socket are absolute");
  require(config.socket_mode <= 0777, "socket_mode is permission bits");
  require(!config.inboxes.empty(), "a config has at least one inbox");
  for (const config::InboxConfig& inbox : config.inboxes) check_inbox(inbox);
  require(config::parse_config(yaml, kFile, environment()) == config,
          "parsing the same text twice gives the same config");
}

void check_error(const config::ConfigError& error) {
  require(!error.messages().empty(), "a ConfigError lists at least one message");
  const std::string prefix = kFile.string();
  for (const std::string& message : error.messages()) {
    require(message.starts_with(prefix + ":"), "every message names the file first", message);
  }
}

}  // namespace
}  // namespace inboxd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  try {
    const auto config =
        inboxd::config::parse_config(yaml, inboxd::fuzz::kFile, inboxd::fuzz::environment());
    inboxd::fuzz::check_config(config, yaml);
  } catch (const inboxd::config::ConfigError& error) {
    inboxd::fuzz::check_error(error);
  }
  return 0;
}
