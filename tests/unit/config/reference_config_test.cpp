// config/inboxd.yaml is the manual: it must load, mention every key, and its
// defaults section must say what the built-in defaults are.

#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "daemon/config/inbox_keys.hpp"
#include "tests/unit/config/config_fixture.hpp"

namespace inboxd::config::test {
namespace {

const std::filesystem::path kReference = INBOXD_SOURCE_DIR "/config/inboxd.yaml";

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_CASE("the reference configuration loads cleanly", "[config][reference]") {
  ConfigFixture f;
  f.env().state_directory = (f.dir() / "state").string();
  const Config config = load_config(kReference, f.env());
  REQUIRE(config.inboxes.size() == 1);
  CHECK(config.inboxes[0].command.at(0) == "/usr/bin/logger");
  CHECK(config.state_dir == f.dir() / "state");
  CHECK_FALSE(std::filesystem::exists(f.dir() / "state"));
}

TEST_CASE("the reference defaults section matches the built-in defaults", "[config][reference]") {
  ConfigFixture f;
  const InboxConfig documented = load_config(kReference, f.env()).inboxes.at(0);
  const std::string bare =
      "inboxes:\n  - name: scans\n    path: /srv/inboxd/scans\n"
      "    command: [\"/usr/bin/logger\", \"-t\", \"inboxd-handler\", "
      "\"received {name} as job {job}\"]\n";
  CHECK(documented == f.load(bare).inboxes.at(0));
}

TEST_CASE("the reference configuration documents every key", "[config][reference]") {
  const std::string text = read_text(kReference);
  std::vector<std::string_view> keys(detail::inbox_key_names().begin(),
                                     detail::inbox_key_names().end());
  for (std::string_view key :
       {"state_dir", "socket", "socket_mode", "admin_groups", "log_level", "log_format",
        "shutdown_grace", "metrics_file", "defaults", "inboxes", "window", "min_samples",
        "max_failure_rate", "cooldown"}) {
    keys.push_back(key);
  }
  for (std::string_view key : keys) {
    CAPTURE(key);
    const std::regex documented("(^|\\n)[ #-]*" + std::string(key) + "(:| )");
    CHECK(std::regex_search(text, documented));
  }
}

}  // namespace
}  // namespace inboxd::config::test
