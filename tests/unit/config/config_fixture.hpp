#pragma once
// ConfigFixture: verbs for configuration tests. It owns a temporary directory
// (removed at the end) for real files and programs, and an Environment whose
// PATH tests can extend. YAML given to the verbs is parsed as if it came from
// the file "inboxd.yaml", so messages read exactly as an administrator sees them.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.hpp"

namespace inboxd::config::test {

class ConfigFixture {
 public:
  ConfigFixture();
  ~ConfigFixture();
  ConfigFixture(const ConfigFixture&) = delete;
  ConfigFixture& operator=(const ConfigFixture&) = delete;

  // Parses `yaml`; the test fails if it is not valid.
  Config load(std::string_view yaml, const std::filesystem::path& file = "/etc/inboxd/inboxd.yaml");

  // The one inbox of a minimal valid configuration with `extra_keys` (inbox
  // keys, one per line, unindented) added after name, path and command.
  InboxConfig inbox_with(std::string_view extra_keys);

  // Every message parsing `yaml` as "inboxd.yaml" reports (empty if valid).
  std::vector<std::string> errors(std::string_view yaml);

  // The single message for `yaml`; the test fails if there is not exactly one.
  std::string error(std::string_view yaml);

  // The single message for the minimal configuration plus `extra_keys`; the
  // extra keys start on line 5, column 5.
  std::string inbox_error(std::string_view extra_keys);

  // Files in the temporary directory; returns the absolute path.
  std::filesystem::path write_file(const std::string& rel, std::string_view text,
                                   unsigned mode = 0644);
  std::filesystem::path make_dir(const std::string& rel);

  // Puts a directory of the temporary directory first in the PATH used for
  // command lookups.
  void prepend_path(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  Environment& env() { return env_; }

 private:
  std::filesystem::path dir_;
  Environment env_;
};

// The minimal valid configuration the inbox verbs build on.
std::string minimal_config(std::string_view extra_keys = {});

}  // namespace inboxd::config::test
