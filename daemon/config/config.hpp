#pragma once
// config: the validated configuration of inboxd (PRODUCT.md "Configuration").
//
// load_config() reads a YAML file, applies defaults (top-level `defaults`
// first, then each inbox's own keys), resolves relative paths against the
// file's directory, resolves command[0] (a slash: against the file's directory;
// otherwise looked up in PATH at load time), checks placeholders, rejects
// unknown keys and collects every error before failing. A Config that exists
// is valid: the rest of the daemon never re-checks it.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"

namespace inboxd::config {

enum class WatchMode { kAuto, kInotify, kPoll };
enum class OnSuccess { kMove, kDelete };
enum class LogFormat { kText, kJson };

struct ErrorThreshold {
  bool enabled = true;
  int window = 20;
  int min_samples = 5;
  double max_failure_rate = 0.5;
  Millis cooldown = std::chrono::minutes(5);

  bool operator==(const ErrorThreshold&) const = default;
};

inline const std::vector<std::string>& default_exclude() {
  static const std::vector<std::string> kDefault = {".*",           "*.tmp", "*.part", "*.partial",
                                                    "*.crdownload", "*.swp", "~$*"};
  return kDefault;
}

struct InboxConfig {
  std::string name;
  std::filesystem::path path;        // absolute, lexically normal
  std::vector<std::string> command;  // command[0] resolved to an absolute path
  std::vector<std::string> include = {"*"};
  std::vector<std::string> exclude = default_exclude();
  bool recursive = false;
  WatchMode watch = WatchMode::kAuto;
  Millis poll_interval = std::chrono::seconds(5);
  Millis rescan_interval = std::chrono::minutes(10);  // 0 = off
  Millis settle = std::chrono::seconds(2);
  Millis timeout = std::chrono::minutes(10);  // 0 = none
  Millis kill_grace = std::chrono::seconds(10);
  int concurrency = 1;
  int retries = 3;
  Millis retry_backoff = std::chrono::seconds(10);
  Millis retry_backoff_max = std::chrono::minutes(10);
  std::vector<int> permanent_exit_codes = {65};
  ErrorThreshold error_threshold;
  OnSuccess on_success = OnSuccess::kMove;
  std::filesystem::path done_dir;    // absolute; default <path>/done
  std::filesystem::path failed_dir;  // absolute; default <path>/failed
  std::uint64_t max_file_size = 0;   // 0 = no limit
  std::int64_t max_queue = 100000;
  std::map<std::string, std::string> env;  // extra handler environment

  bool operator==(const InboxConfig&) const = default;
};

struct Config {
  std::filesystem::path file;       // the file this was loaded from (absolute)
  std::filesystem::path state_dir;  // absolute
  std::filesystem::path socket;     // absolute
  unsigned socket_mode = 0660;
  std::vector<std::string> admin_groups;
  std::string log_level = "info";  // trace, debug, info, warn, error
  LogFormat log_format = LogFormat::kText;
  Millis shutdown_grace = std::chrono::seconds(30);
  std::optional<std::filesystem::path> metrics_file;
  std::vector<InboxConfig> inboxes;

  const InboxConfig* find_inbox(std::string_view name) const;
  bool operator==(const Config&) const = default;
};

// Every problem found in a configuration, each already formatted as
// "file:line:col: key: message" (or "file: message" when there is no position).
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> messages);
  const std::vector<std::string>& messages() const { return messages_; }

 private:
  std::vector<std::string> messages_;
};

// What load_config needs from the process environment, so tests can vary it.
struct Environment {
  std::optional<std::string> state_directory;    // $STATE_DIRECTORY
  std::optional<std::string> runtime_directory;  // $RUNTIME_DIRECTORY
  std::optional<std::string> path;               // $PATH, for command[0] lookup
  static Environment from_process();
};

// Loads and validates a configuration file. Throws ConfigError listing every
// problem (a missing or unreadable file is one too).
Config load_config(const std::filesystem::path& file, const Environment& env);

// Same, from text; `file` names it in messages and anchors relative paths.
Config parse_config(std::string_view yaml, const std::filesystem::path& file,
                    const Environment& env);

// "0", "250ms", "2s", "5m", "1h", "1d" (an integer followed by a unit; "0" alone).
Result<Millis> parse_duration(std::string_view text);

// Plain bytes ("1024") or an integer with a binary unit: "512KiB", "10MiB",
// "1GiB", "2TiB". Overflow is an error.
Result<std::uint64_t> parse_size(std::string_view text);

}  // namespace inboxd::config
