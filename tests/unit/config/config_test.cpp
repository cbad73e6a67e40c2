// What a valid configuration turns into: defaults, the `defaults` section,
// path resolution and the PATH lookup of command[0].

#include <catch2/catch.hpp>

#include "tests/unit/config/config_fixture.hpp"

namespace inboxd::config::test {
namespace {

using namespace std::chrono_literals;

TEST_CASE("an inbox that gives only name, path and command gets every documented default",
          "[config]") {
  ConfigFixture f;
  const InboxConfig inbox = f.inbox_with("");
  CHECK(inbox.name == "scans");
  CHECK(inbox.path == "/srv/in");
  CHECK(inbox.command == std::vector<std::string>{"/bin/true"});
  CHECK(inbox.include == std::vector<std::string>{"*"});
  CHECK(inbox.exclude == std::vector<std::string>{".*", "*.tmp", "*.part", "*.partial",
                                                  "*.crdownload", "*.swp", "~$*"});
  CHECK_FALSE(inbox.recursive);
  CHECK(inbox.watch == WatchMode::kAuto);
  CHECK(inbox.poll_interval == 5s);
  CHECK(inbox.rescan_interval == 10min);
  CHECK(inbox.settle == 2s);
  CHECK(inbox.timeout == 10min);
  CHECK(inbox.kill_grace == 10s);
  CHECK(inbox.concurrency == 1);
  CHECK(inbox.retries == 3);
  CHECK(inbox.retry_backoff == 10s);
  CHECK(inbox.retry_backoff_max == 10min);
  CHECK(inbox.permanent_exit_codes == std::vector<int>{65});
  CHECK(inbox.error_threshold == ErrorThreshold{true, 20, 5, 0.5, 5min});
  CHECK(inbox.on_success == OnSuccess::kMove);
  CHECK(inbox.done_dir == "/srv/in/done");
  CHECK(inbox.failed_dir == "/srv/in/failed");
  CHECK(inbox.max_file_size == 0);
  CHECK(inbox.max_queue == 100000);
  CHECK(inbox.env.empty());
}

TEST_CASE("top-level keys left out get their documented defaults", "[config]") {
  ConfigFixture f;
  const Config config = f.load(minimal_config());
  CHECK(config.file == "/etc/inboxd/inboxd.yaml");
  CHECK(config.state_dir == "/var/lib/inboxd");
  CHECK(config.socket == "/var/lib/inboxd/inboxd.sock");
  CHECK(config.socket_mode == 0660);
  CHECK(config.admin_groups.empty());
  CHECK(config.log_level == "info");
  CHECK(config.log_format == LogFormat::kText);
  CHECK(config.shutdown_grace == 30s);
  CHECK_FALSE(config.metrics_file.has_value());
}

TEST_CASE("state_dir and socket default to the directories systemd passes", "[config]") {
  ConfigFixture f;
  f.env().state_directory = "/var/lib/inboxd-a:/var/lib/other";
  f.env().runtime_directory = "/run/inboxd-a";
  const Config config = f.load(minimal_config());
  CHECK(config.state_dir == "/var/lib/inboxd-a");
  CHECK(config.socket == "/run/inboxd-a/inboxd.sock");
}

TEST_CASE("without RUNTIME_DIRECTORY the socket lives in the state directory", "[config]") {
  ConfigFixture f;
  const Config config = f.load("state_dir: /data/inboxd\n" + minimal_config());
  CHECK(config.socket == "/data/inboxd/inboxd.sock");
}

TEST_CASE("every top-level key given explicitly replaces its default", "[config]") {
  ConfigFixture f;
  const Config config = f.load(R"(state_dir: /data/state
socket: /run/x.sock
socket_mode: "0600"
admin_groups: [root]
log_level: debug
log_format: json
shutdown_grace: 1m
metrics_file: /var/lib/prom/inboxd.prom
)" + minimal_config());
  CHECK(config.state_dir == "/data/state");
  CHECK(config.socket == "/run/x.sock");
  CHECK(config.socket_mode == 0600);
  CHECK(config.admin_groups == std::vector<std::string>{"root"});
  CHECK(config.log_level == "debug");
  CHECK(config.log_format == LogFormat::kJson);
  CHECK(config.shutdown_grace == 1min);
  CHECK(config.metrics_file == std::filesystem::path("/var/lib/prom/inboxd.prom"));
}

TEST_CASE("every inbox key given explicitly replaces its default", "[config]") {
  ConfigFixture f;
  const InboxConfig inbox = f.inbox_with(R"(include: ["*.pdf", "*.tif"]
exclude: []
recursive: true
watch: poll
poll_interval: 250ms
rescan_interval: 0
settle: 1s
timeout: 0
kill_grace: 3s
concurrency: 4
retries: 0
retry_backoff: 1s
retry_backoff_max: 1h
permanent_exit_codes: [2, 65, 255]
error_threshold: {window: 10, min_samples: 10, max_failure_rate: 1, cooldown: 1d}
on_success: delete
done_dir: /srv/done
failed_dir: /srv/failed
max_file_size: 10MiB
max_queue: 5
env: {OCR_LANG: deu, EMPTY: ""})");
  CHECK(inbox.include == std::vector<std::string>{"*.pdf", "*.tif"});
  CHECK(inbox.exclude.empty());
  CHECK(inbox.recursive);
  CHECK(inbox.watch == WatchMode::kPoll);
  CHECK(inbox.poll_interval == 250ms);
  CHECK(inbox.rescan_interval == 0ms);
  CHECK(inbox.settle == 1s);
  CHECK(inbox.timeout == 0ms);
  CHECK(inbox.kill_grace == 3s);
  CHECK(inbox.concurrency == 4);
  CHECK(inbox.retries == 0);
  CHECK(inbox.retry_backoff == 1s);
  CHECK(inbox.retry_backoff_max == 1h);
  CHECK(inbox.permanent_exit_codes == std::vector<int>{2, 65, 255});
  CHECK(inbox.error_threshold == ErrorThreshold{true, 10, 10, 1.0, 24h});
  CHECK(inbox.on_success == OnSuccess::kDelete);
  CHECK(inbox.done_dir == "/srv/done");
  CHECK(inbox.failed_dir == "/srv/failed");
  CHECK(inbox.max_file_size == 10U << 20);
  CHECK(inbox.max_queue == 5);
  CHECK(inbox.env == std::map<std::string, std::string>{{"EMPTY", ""}, {"OCR_LANG", "deu"}});
}

TEST_CASE("inbox names may use letters, digits, dot, dash and underscore", "[config]") {
  ConfigFixture f;
  const std::string name(64, 'n');
  CHECK(f.load("inboxes:\n  - {name: Scans_2.b-c, path: /a, command: [/bin/true]}\n")
            .inboxes.at(0)
            .name == "Scans_2.b-c");
  CHECK(f.load("inboxes:\n  - {name: " + name + ", path: /a, command: [/bin/true]}\n")
            .inboxes.at(0)
            .name == name);
  CHECK(f.load("inboxes:\n  - {name: 2024, path: /a, command: [/bin/echo, \"{path}\"]}\n")
            .inboxes.at(0)
            .command == std::vector<std::string>{"/bin/echo", "{path}"});
}

TEST_CASE("defaults apply to every inbox and each inbox's own keys win", "[config]") {
  ConfigFixture f;
  const Config config = f.load(R"(defaults:
  command: [/bin/true]
  timeout: 1m
  exclude: ["*.lock"]
  env: {A: "1"}
inboxes:
  - name: a
    path: /srv/a
  - name: b
    path: /srv/b
    timeout: 2h
    env: {B: "2"}
)");
  const InboxConfig& a = config.inboxes.at(0);
  const InboxConfig& b = config.inboxes.at(1);
  CHECK(a.command == std::vector<std::string>{"/bin/true"});
  CHECK(b.command == a.command);
  CHECK(a.timeout == 1min);
  CHECK(b.timeout == 2h);
  CHECK(a.exclude == std::vector<std::string>{"*.lock"});
  CHECK(b.exclude == a.exclude);
  CHECK(a.env == std::map<std::string, std::string>{{"A", "1"}});
  CHECK(b.env == std::map<std::string, std::string>{{"B", "2"}});
  CHECK(b.retries == 3);
}

TEST_CASE("defaults may come after the inboxes in the file", "[config]") {
  ConfigFixture f;
  const Config config = f.load(
      "inboxes:\n  - {name: a, path: /srv/a}\ndefaults: {command: [/bin/true], retries: 7}\n");
  CHECK(config.inboxes.at(0).retries == 7);
}

TEST_CASE("error_threshold can be switched off, or given in part", "[config]") {
  ConfigFixture f;
  CHECK_FALSE(f.inbox_with("error_threshold: off").error_threshold.enabled);
  CHECK_FALSE(f.inbox_with("error_threshold: false").error_threshold.enabled);
  CHECK(f.inbox_with("error_threshold: {window: 50}").error_threshold ==
        ErrorThreshold{true, 50, 5, 0.5, 5min});
  CHECK(f.inbox_with("error_threshold: {max_failure_rate: 0.25, cooldown: 30s}").error_threshold ==
        ErrorThreshold{true, 20, 5, 0.25, 30s});
}

TEST_CASE("socket_mode takes octal digits written as text or as a YAML number", "[config]") {
  ConfigFixture f;
  for (auto [text, mode] : {std::pair{"\"0660\"", 0660U},
                            {"0640", 0640U},
                            {"600", 0600U},
                            {"\"0o700\"", 0700U},
                            {"0", 0U}}) {
    CAPTURE(text);
    CHECK(f.load(std::string("socket_mode: ") + text + "\n" + minimal_config()).socket_mode ==
          mode);
  }
}

TEST_CASE("metrics_file given as null means no metrics file", "[config]") {
  ConfigFixture f;
  CHECK_FALSE(f.load("metrics_file: ~\n" + minimal_config()).metrics_file.has_value());
}

TEST_CASE("booleans accept the YAML 1.1 spellings too", "[config]") {
  ConfigFixture f;
  CHECK(f.inbox_with("recursive: yes").recursive);
  CHECK(f.inbox_with("recursive: True").recursive);
  CHECK_FALSE(f.inbox_with("recursive: off").recursive);
}

TEST_CASE("relative paths resolve against the configuration file's directory", "[config]") {
  ConfigFixture f;
  const Config config = f.load(R"(state_dir: state
socket: ./run/../run/inboxd.sock
metrics_file: metrics/inboxd.prom
inboxes:
  - name: a
    path: ../../srv/in/
    command: [bin/handler, "{path}"]
    done_dir: out/done
    failed_dir: /abs/failed/
)",
                               "/etc/inboxd/inboxd.yaml");
  CHECK(config.state_dir == "/etc/inboxd/state");
  CHECK(config.socket == "/etc/inboxd/run/inboxd.sock");
  CHECK(config.metrics_file == std::filesystem::path("/etc/inboxd/metrics/inboxd.prom"));
  const InboxConfig& inbox = config.inboxes.at(0);
  CHECK(inbox.path == "/srv/in");
  CHECK(inbox.command.at(0) == "/etc/inboxd/bin/handler");
  CHECK(inbox.done_dir == "/etc/inboxd/out/done");
  CHECK(inbox.failed_dir == "/abs/failed");
}

TEST_CASE("a configuration named by a relative path anchors paths at the working directory",
          "[config]") {
  ConfigFixture f;
  const Config config = f.load(minimal_config("done_dir: done"), "inboxd.yaml");
  const auto cwd = std::filesystem::current_path();
  CHECK(config.file == cwd / "inboxd.yaml");
  CHECK(config.inboxes.at(0).done_dir == cwd / "done");
}

TEST_CASE("done_dir and failed_dir follow the inbox path unless given", "[config]") {
  ConfigFixture f;
  const InboxConfig inbox = f.inbox_with("failed_dir: /var/failed");
  CHECK(inbox.done_dir == "/srv/in/done");
  CHECK(inbox.failed_dir == "/var/failed");
}

TEST_CASE("a command name without a slash is looked up in PATH at load time", "[config]") {
  ConfigFixture f;
  f.write_file("bin/scan-pdf", "#!/bin/sh\n", 0755);
  f.prepend_path(f.dir() / "bin");
  CHECK(f.inbox_with("").command.at(0) == "/bin/true");  // a slash: used as given
  const Config config = f.load(R"(inboxes:
  - {name: a, path: /srv/a, command: [scan-pdf, "{path}"]}
  - {name: b, path: /srv/b, command: [true]}
)");
  CHECK(config.inboxes.at(0).command ==
        std::vector<std::string>{(f.dir() / "bin/scan-pdf").string(), "{path}"});
  CHECK(config.inboxes.at(1).command.at(0) == "/usr/bin/true");
}

TEST_CASE("the PATH lookup passes over directories, plain files and relative entries", "[config]") {
  ConfigFixture f;
  f.make_dir("a/handler");
  f.write_file("b/handler", "not a program\n", 0644);
  f.write_file("c/handler", "#!/bin/sh\n", 0755);
  f.env().path = "relative/dir::" + (f.dir() / "a").string() + ":" + (f.dir() / "b").string() +
                 ":" + (f.dir() / "c").string();
  const Config config = f.load("inboxes:\n  - {name: a, path: /srv/a, command: [handler]}\n");
  CHECK(config.inboxes.at(0).command.at(0) == (f.dir() / "c/handler").string());
}

TEST_CASE("loading a configuration creates nothing on disk", "[config]") {
  ConfigFixture f;
  const std::string root = (f.dir() / "missing").string();
  f.load("state_dir: " + root + "/state\nmetrics_file: " + root + "/m.prom\n" +
         "inboxes:\n  - {name: a, path: " + root + "/in, command: [/bin/true]}\n");
  CHECK_FALSE(std::filesystem::exists(root));
}

TEST_CASE("load_config reads the named file", "[config]") {
  ConfigFixture f;
  const auto file = f.write_file("etc/inboxd.yaml", minimal_config("done_dir: done"));
  const Config config = load_config(file, f.env());
  CHECK(config.file == file);
  CHECK(config.inboxes.at(0).done_dir == f.dir() / "etc/done");
}

TEST_CASE("find_inbox finds an inbox by name", "[config]") {
  ConfigFixture f;
  const Config config = f.load(minimal_config());
  REQUIRE(config.find_inbox("scans") != nullptr);
  CHECK(config.find_inbox("scans")->path == "/srv/in");
  CHECK(config.find_inbox("other") == nullptr);
}

TEST_CASE("the same text loads to equal configurations", "[config]") {
  ConfigFixture f;
  CHECK(f.load(minimal_config("retries: 1")) == f.load(minimal_config("retries: 1")));
  CHECK_FALSE(f.load(minimal_config("retries: 1")) == f.load(minimal_config("retries: 2")));
}

}  // namespace
}  // namespace inboxd::config::test
