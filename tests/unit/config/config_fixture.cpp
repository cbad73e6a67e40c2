#include "tests/unit/config/config_fixture.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>

namespace inboxd::config::test {

ConfigFixture::ConfigFixture() {
  std::string pattern = "/tmp/inboxd-config-test.XXXXXX";
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  dir_ = pattern;
  env_.path = "/usr/bin:/bin";
}

ConfigFixture::~ConfigFixture() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Config ConfigFixture::load(std::string_view yaml, const std::filesystem::path& file) {
  try {
    return parse_config(yaml, file, env_);
  } catch (const ConfigError& e) {
    FAIL("unexpected configuration error:\n" << e.what());
    throw;
  }
}

InboxConfig ConfigFixture::inbox_with(std::string_view extra_keys) {
  Config config = load(minimal_config(extra_keys));
  REQUIRE(config.inboxes.size() == 1);
  return config.inboxes[0];
}

std::vector<std::string> ConfigFixture::errors(std::string_view yaml) {
  try {
    parse_config(yaml, "inboxd.yaml", env_);
  } catch (const ConfigError& e) {
    return e.messages();
  }
  return {};
}

std::string ConfigFixture::error(std::string_view yaml) {
  std::vector<std::string> messages = errors(yaml);
  INFO("yaml:\n" << yaml);
  CAPTURE(messages);
  REQUIRE(messages.size() == 1);
  return messages[0];
}

std::string ConfigFixture::inbox_error(std::string_view extra_keys) {
  return error(minimal_config(extra_keys));
}

std::filesystem::path ConfigFixture::write_file(const std::string& rel, std::string_view text,
                                                unsigned mode) {
  const std::filesystem::path path = dir_ / rel;
  std::filesystem::create_directories(path.parent_path());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE(out.good());
  }
  REQUIRE(::chmod(path.c_str(), static_cast<mode_t>(mode)) == 0);
  return path;
}

std::filesystem::path ConfigFixture::make_dir(const std::string& rel) {
  const std::filesystem::path path = dir_ / rel;
  std::filesystem::create_directories(path);
  return path;
}

void ConfigFixture::prepend_path(const std::filesystem::path& dir) {
  env_.path = dir.string() + ":" + env_.path.value_or("");
}

std::string minimal_config(std::string_view extra_keys) {
  std::string yaml =
      "inboxes:\n"
      "  - name: scans\n"
      "    path: /srv/in\n"
      "    command: [/bin/true]\n";
  std::size_t pos = 0;
  while (pos < extra_keys.size()) {
    std::size_t end = extra_keys.find('\n', pos);
    if (end == std::string_view::npos) end = extra_keys.size();
    yaml += "    ";
    yaml.append(extra_keys.substr(pos, end - pos));
    yaml += '\n';
    pos = end + 1;
  }
  return yaml;
}

}  // namespace inboxd::config::test
