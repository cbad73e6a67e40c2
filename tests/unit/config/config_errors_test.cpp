// What an invalid configuration reports: every problem, each as
// "file:line:col: key: message" pointing at the key at fault.

#include <catch2/catch.hpp>

#include "tests/unit/config/config_fixture.hpp"

namespace inboxd::config::test {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

TEST_CASE("a bad value is reported with file, line, column and key path", "[config][errors]") {
  ConfigFixture f;
  const std::string yaml = R"(# inboxd configuration
state_dir: /var/lib/inboxd
log_level: info

defaults:
  retries: 2

# scanners on the first floor
inboxes:
  - name: scans
    path: /srv/scans
    timeout: "5 minutes"
    command: [/bin/true]
)";
  CHECK(f.error(yaml) ==
        R"(inboxd.yaml:12:5: inboxes[0].timeout: "5 minutes" is not a duration (try 5m))");
}

TEST_CASE("every problem in a file is reported in one run, in file order", "[config][errors]") {
  ConfigFixture f;
  const std::vector<std::string> errors = f.errors(R"(log_level: loud
defaults:
  settle: soon
inboxes:
  - name: a
    path: /srv/a
    command: [/bin/true]
    concurrency: 0
  - name: b
    path: /srv/b
    command: [/bin/true, "{foo}"]
)");
  CHECK(
      errors ==
      std::vector<std::string>{
          R"(inboxd.yaml:1:1: log_level: "loud" is not one of trace, debug, info, warn, error)",
          R"(inboxd.yaml:3:3: defaults.settle: "soon" is not a duration (write a number and a unit: ms, s, m, h, d))",
          "inboxd.yaml:8:5: inboxes[0].concurrency: 0 is out of range (1..1024)",
          "inboxd.yaml:11:26: inboxes[1].command[1]: unknown placeholder {foo} (known: {path} "
          "{name} {stem} {ext} {rel} {inbox} {job} {attempt} {work_dir})"});
}

TEST_CASE("ConfigError::what() is every message, one per line", "[config][errors]") {
  ConfigFixture f;
  try {
    parse_config("log_level: loud\nshutdown_grace: 1.5s\n", "x.yaml", f.env());
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "x.yaml:1:1: log_level: \"loud\" is not one of trace, debug, info, warn, error\n"
          "x.yaml:1:1: inboxes: required key is missing\n"
          "x.yaml:2:1: shutdown_grace: \"1.5s\" is not a duration (try 1500ms)");
  }
}

TEST_CASE("an unknown key is an error that suggests an obvious correction", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.inbox_error("timout: 5m") ==
        "inboxd.yaml:5:5: inboxes[0].timout: unknown key (did you mean timeout?)");
  CHECK(f.inbox_error("Settle: 5s") ==
        "inboxd.yaml:5:5: inboxes[0].Settle: unknown key (did you mean settle?)");
  CHECK(f.inbox_error("colour: blue") == "inboxd.yaml:5:5: inboxes[0].colour: unknown key");
  CHECK(f.errors("inboxs: []\n") ==
        std::vector<std::string>{"inboxd.yaml:1:1: inboxs: unknown key (did you mean inboxes?)",
                                 "inboxd.yaml:1:1: inboxes: required key is missing"});
  CHECK(f.inbox_error("timeout_ms: 5") ==
        "inboxd.yaml:5:5: inboxes[0].timeout_ms: unknown key (did you mean timeout?)");
  CHECK(f.inbox_error("error_threshold: {windw: 5}") ==
        "inboxd.yaml:5:23: inboxes[0].error_threshold.windw: unknown key (did you mean window?)");
}

TEST_CASE("a YAML merge key is refused with a pointer to defaults", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.errors("inboxes:\n  - &first {name: a, path: /a, command: [/bin/true]}\n"
                 "  - <<: *first\n    name: b\n    path: /b\n") ==
        std::vector<std::string>{"inboxd.yaml:3:5: inboxes[1].<<: YAML merge keys are not "
                                 "supported (put shared inbox keys under defaults)",
                                 "inboxd.yaml:3:5: inboxes[1].command: required key is missing"});
}

TEST_CASE("an inbox key at the top level is reported as misplaced", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.error("timeout: 5m\n" + minimal_config()) ==
        "inboxd.yaml:1:1: timeout: unknown key here (inbox keys go under defaults or inside an "
        "inbox)");
}

TEST_CASE("a key given twice in one mapping is an error at the second", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.inbox_error("retries: 1\nretries: 2") ==
        "inboxd.yaml:6:5: inboxes[0].retries: duplicate key (first given on line 5)");
  CHECK(f.error("log_level: info\n" + minimal_config() + "log_level: debug\n") ==
        "inboxd.yaml:6:1: log_level: duplicate key (first given on line 1)");
  CHECK(f.inbox_error("env: {A: x, A: y}") ==
        "inboxd.yaml:5:17: inboxes[0].env.A: duplicate key (first given on line 5)");
}

TEST_CASE("a missing required key is reported at the mapping that lacks it", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.errors(
            "inboxes:\n  - name: a\n    retries: 1\n  - {path: /srv/b, command: [/bin/true]}\n") ==
        std::vector<std::string>{"inboxd.yaml:2:5: inboxes[0].path: required key is missing",
                                 "inboxd.yaml:2:5: inboxes[0].command: required key is missing",
                                 "inboxd.yaml:4:5: inboxes[1].name: required key is missing"});
  CHECK(f.error("log_level: info\n") == "inboxd.yaml:1:1: inboxes: required key is missing");
}

TEST_CASE("inboxes must be a non-empty list of mappings", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.error("inboxes: []\n") == "inboxd.yaml:1:1: inboxes: must list at least one inbox");
  CHECK(f.error("inboxes: {name: a}\n") ==
        "inboxd.yaml:1:1: inboxes: expected a list of inboxes, got a mapping");
  CHECK(f.error("inboxes:\n  - scans\n") ==
        "inboxd.yaml:2:5: inboxes[0]: expected a mapping of keys, got a single value");
}

TEST_CASE("an empty file or one that is not a mapping is an error", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.error("") == "inboxd.yaml: the file is empty (it needs at least an inboxes list)");
  CHECK(f.error("# only a comment\n") ==
        "inboxd.yaml: the file is empty (it needs at least an inboxes list)");
  CHECK(f.error("- a\n- b\n") ==
        "inboxd.yaml:1:1: expected a mapping of keys at the top level, got a list");
  CHECK(f.error(minimal_config() + "---\nx: 1\n") ==
        "inboxd.yaml:5:1: only one YAML document is allowed");
  CHECK(f.error("---\n") == "inboxd.yaml: the file is empty (it needs at least an inboxes list)");
}

TEST_CASE("a YAML syntax error is reported with its position", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.error("inboxes: [a, b\nlog_level: info\n") ==
        "inboxd.yaml:2:10: invalid YAML: end of sequence flow not found");
  CHECK(f.error("inboxes:\n  - name: a\n   path: b\n") ==
        "inboxd.yaml:3:4: invalid YAML: end of sequence not found");
  CHECK(f.error("state_dir: a: b\n") == "inboxd.yaml:1:13: invalid YAML: illegal map value");
  CHECK_THAT(f.error("inboxes:\n\t- name: a\n"), StartsWith("inboxd.yaml:2:"));
}

TEST_CASE("a stray comma before a document is a syntax error, not a hang", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.error(",\n") == R"(inboxd.yaml:1:1: invalid YAML: unexpected ",")");
  CHECK(f.error("# inboxd\n, reload\n" + minimal_config()) ==
        R"(inboxd.yaml:2:1: invalid YAML: unexpected ",")");
  CHECK(f.error("- a\n, b\n") == R"(inboxd.yaml:2:1: invalid YAML: unexpected ",")");
}

TEST_CASE("a value of the wrong shape is an error, never an exception", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.inbox_error("timeout: [1s]") ==
        "inboxd.yaml:5:5: inboxes[0].timeout: expected a duration like 30s, got a list");
  CHECK(f.inbox_error("settle:") ==
        "inboxd.yaml:5:5: inboxes[0].settle: has no value (expected a duration like 30s)");
  CHECK(f.inbox_error("recursive: {a: b}") ==
        "inboxd.yaml:5:5: inboxes[0].recursive: expected true or false, got a mapping");
  CHECK(
      f.inbox_error("include: \"*.pdf\"") ==
      R"(inboxd.yaml:5:5: inboxes[0].include: expected a list of glob patterns, got a single value (write ["*.pdf"]))");
  CHECK(f.inbox_error("exclude: [[a]]") ==
        "inboxd.yaml:5:15: inboxes[0].exclude[0]: expected glob patterns, got a list");
  CHECK(f.inbox_error("env: [A]") ==
        "inboxd.yaml:5:5: inboxes[0].env: expected a mapping of keys, got a list");
  CHECK(f.inbox_error("env: {A: [1]}") ==
        "inboxd.yaml:5:11: inboxes[0].env.A: expected a string, got a list");
  CHECK(f.inbox_error("permanent_exit_codes: 65") ==
        "inboxd.yaml:5:5: inboxes[0].permanent_exit_codes: expected a list of exit codes, got a "
        "single value (write [65])");
  CHECK(
      f.inbox_error("error_threshold: 3") ==
      R"(inboxd.yaml:5:5: inboxes[0].error_threshold: "3" is neither off nor a mapping with window, min_samples, max_failure_rate, cooldown)");
  CHECK(f.error("defaults: [a]\n" + minimal_config()) ==
        "inboxd.yaml:1:1: defaults: expected a mapping of keys, got a list");
  CHECK(f.error("? [a]\n: 1\n" + minimal_config()) == "inboxd.yaml:1:3: keys must be plain names");
}

TEST_CASE("command must be a non-empty argv list with a program that can be found",
          "[config][errors]") {
  ConfigFixture f;
  const std::string head = "inboxes:\n  - name: a\n    path: /srv/a\n";
  CHECK(
      f.error(head + "    command: /usr/bin/scan --in {path}\n") ==
      R"(inboxd.yaml:4:5: inboxes[0].command: expected a list (the handler's argv; no shell is used), e.g. ["/usr/bin/scan", "--in", "{path}"])");
  CHECK(f.error(head + "    command: []\n") ==
        "inboxd.yaml:4:5: inboxes[0].command: must not be empty");
  CHECK(f.error(head + "    command: [procss-scan, \"{path}\"]\n") ==
        R"(inboxd.yaml:4:15: inboxes[0].command[0]: "procss-scan" not found in PATH)");
  CHECK(f.error(head + "    command: [\"\"]\n") ==
        "inboxd.yaml:4:15: inboxes[0].command[0]: the program must not be empty");
  CHECK(f.error(head + "    command: [\"{path}\"]\n") ==
        "inboxd.yaml:4:15: inboxes[0].command[0]: the program cannot contain placeholders");
  CHECK(f.error(head + "    command: [/bin/echo, \"{Path\"]\n") ==
        "inboxd.yaml:4:26: inboxes[0].command[1]: unmatched '{' (write {{ for a literal brace)");
}

TEST_CASE("inbox names follow the documented pattern and are unique", "[config][errors]") {
  ConfigFixture f;
  CHECK(
      f.error("inboxes:\n  - {name: -x, path: /a, command: [/bin/true]}\n") ==
      R"(inboxd.yaml:2:6: inboxes[0].name: "-x" is not a valid name (1 to 64 of A-Z a-z 0-9 _ . -, starting with a letter or digit))");
  CHECK_THAT(f.error("inboxes:\n  - {name: \"" + std::string(65, 'a') +
                     "\", path: /a, command: [/bin/true]}\n"),
             Contains("is not a valid name"));
  CHECK_THAT(f.error("inboxes:\n  - {name: \"a b\", path: /a, command: [/bin/true]}\n"),
             Contains("is not a valid name"));
  CHECK(f.error("inboxes:\n  - {name: a, path: /a, command: [/bin/true]}\n"
                "  - {name: a, path: /b, command: [/bin/true]}\n") ==
        R"(inboxd.yaml:3:6: inboxes[1].name: "a" is already the name of inboxes[0])");
  CHECK(f.error("defaults: {name: x}\n" + minimal_config()) ==
        "inboxd.yaml:1:12: defaults.name: not allowed in defaults (every inbox needs a name of its "
        "own)");
}

TEST_CASE("two inboxes may not share a folder nor nest inside a recursive one",
          "[config][errors]") {
  ConfigFixture f;
  const std::string a = "inboxes:\n  - {name: a, path: /srv/in, command: [/bin/true]";
  CHECK(f.error(a + "}\n  - {name: b, path: /srv/in/, command: [/bin/true]}\n") ==
        "inboxd.yaml:3:15: inboxes[1].path: /srv/in is already the path of inboxes[0] (a)");
  CHECK(
      f.error(a + ", recursive: true}\n  - {name: b, path: /srv/in/sub, command: [/bin/true]}\n") ==
      "inboxd.yaml:3:15: inboxes[1].path: /srv/in/sub lies inside inboxes[0] (a), which is "
      "recursive");
  CHECK(f.error(a + "}\n  - {name: b, path: /srv, command: [/bin/true], recursive: true}\n") ==
        "inboxd.yaml:3:15: inboxes[1].path: /srv is recursive and contains the path of inboxes[0] "
        "(a)");
  CHECK(f.errors(a + "}\n  - {name: b, path: /srv/in/sub, command: [/bin/true]}\n"
                     "  - {name: c, path: /srv/input, command: [/bin/true], recursive: true}\n")
            .empty());
}

TEST_CASE("the state directory may not lie inside an inbox", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.error("state_dir: /srv/in/.state\n" + minimal_config()) ==
        "inboxd.yaml:1:1: state_dir: /srv/in/.state lies inside the folder of inboxes[0] (scans)");
  f.env().state_directory = "/srv/in";
  CHECK(f.error(minimal_config()) ==
        "inboxd.yaml:3:5: inboxes[0].path: /srv/in contains the state directory /srv/in (set "
        "state_dir elsewhere)");
}

TEST_CASE("done_dir and failed_dir may not be the inbox folder itself", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.inbox_error("done_dir: /srv/in/") ==
        "inboxd.yaml:5:5: inboxes[0].done_dir: /srv/in is the inbox folder itself (finished files "
        "would be picked up again)");
  CHECK_THAT(f.inbox_error("failed_dir: /srv/in/x/.."),
             Contains("inboxes[0].failed_dir: /srv/in is the inbox folder itself"));
}

TEST_CASE("numbers outside their documented ranges are errors", "[config][errors]") {
  ConfigFixture f;
  auto [keys, expected] = GENERATE(table<std::string, std::string>({
      {"concurrency: 1025", "inboxes[0].concurrency: 1025 is out of range (1..1024)"},
      {"concurrency: 2.5", "inboxes[0].concurrency: \"2.5\" is not a whole number"},
      {"retries: -1", "inboxes[0].retries: -1 is out of range (0..1000)"},
      {"retries: 1001", "inboxes[0].retries: 1001 is out of range (0..1000)"},
      {"retries: 99999999999999999999",
       "inboxes[0].retries: 99999999999999999999 is out of range (0..1000)"},
      {"permanent_exit_codes: [0]",
       "inboxes[0].permanent_exit_codes[0]: 0 is out of range (1..255)"},
      {"permanent_exit_codes: [65, 256]",
       "inboxes[0].permanent_exit_codes[1]: 256 is out of range (1..255)"},
      {"max_queue: 0", "inboxes[0].max_queue: 0 is out of range (1..9223372036854775807)"},
      {"max_file_size: 10 MB", "inboxes[0].max_file_size: \"10 MB\" is not a size (try 10MiB)"},
      {"poll_interval: 0", "inboxes[0].poll_interval: must be longer than 0"},
      {"kill_grace: -1s",
       "inboxes[0].kill_grace: \"-1s\" is not a duration (it cannot be negative)"},
      {"retry_backoff: 20m",
       "inboxes[0].retry_backoff: retry_backoff (20m) is longer than retry_backoff_max (10m)"},
      {"retry_backoff_max: 1s",
       "inboxes[0].retry_backoff_max: retry_backoff (10s) is longer than retry_backoff_max (1s)"},
      {"error_threshold: {window: 0}",
       "inboxes[0].error_threshold.window: 0 is out of range (1..10000)"},
      {"error_threshold: {window: 10001}",
       "inboxes[0].error_threshold.window: 10001 is out of range (1..10000)"},
      {"error_threshold: {window: 3}",
       "inboxes[0].error_threshold: min_samples (5) is more than window (3)"},
      {"error_threshold: {min_samples: 21}",
       "inboxes[0].error_threshold.min_samples: min_samples (21) is more than window (20)"},
      {"error_threshold: {max_failure_rate: 0}",
       "inboxes[0].error_threshold.max_failure_rate: 0 is out of range (a fraction above 0, at "
       "most 1)"},
      {"error_threshold: {max_failure_rate: 1.5}",
       "inboxes[0].error_threshold.max_failure_rate: 1.5 is out of range (a fraction above 0, at "
       "most 1)"},
      {"error_threshold: {max_failure_rate: half}",
       "inboxes[0].error_threshold.max_failure_rate: \"half\" is not a number"},
      {"error_threshold: {cooldown: 5}",
       "inboxes[0].error_threshold.cooldown: \"5\" is not a duration (missing unit: try 5s)"},
  }));
  CAPTURE(keys);
  CHECK_THAT(f.inbox_error(keys), Contains(expected));
}

TEST_CASE("enumerated keys accept only their documented words", "[config][errors]") {
  ConfigFixture f;
  CHECK(
      f.inbox_error("watch: fanotify") ==
      R"(inboxd.yaml:5:5: inboxes[0].watch: "fanotify" is not one of auto, inotify, poll (did you mean inotify?))");
  CHECK(f.inbox_error("watch: fsevents") ==
        R"(inboxd.yaml:5:5: inboxes[0].watch: "fsevents" is not one of auto, inotify, poll)");
  CHECK(
      f.inbox_error("watch: Poll") ==
      R"(inboxd.yaml:5:5: inboxes[0].watch: "Poll" is not one of auto, inotify, poll (did you mean poll?))");
  CHECK(f.inbox_error("on_success: keep") ==
        R"(inboxd.yaml:5:5: inboxes[0].on_success: "keep" is not one of move, delete)");
  CHECK(
      f.error("log_level: warning\n" + minimal_config()) ==
      R"(inboxd.yaml:1:1: log_level: "warning" is not one of trace, debug, info, warn, error (did you mean warn?))");
  CHECK(f.error("log_format: xml\n" + minimal_config()) ==
        R"(inboxd.yaml:1:1: log_format: "xml" is not one of text, json)");
  CHECK(f.inbox_error("recursive: maybe") ==
        R"(inboxd.yaml:5:5: inboxes[0].recursive: "maybe" is not true or false)");
}

TEST_CASE("env names must be valid variable names outside the INBOXD_ prefix", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.inbox_error("env:\n  INBOXD_JOB: x") ==
        "inboxd.yaml:6:7: inboxes[0].env.INBOXD_JOB: INBOXD_ variables are reserved for the ones "
        "inboxd sets");
  CHECK(f.inbox_error("env:\n  OCR-LANG: x") ==
        "inboxd.yaml:6:7: inboxes[0].env.OCR-LANG: is not a valid variable name (letters, digits "
        "and _, not starting with a digit)");
  CHECK_THAT(f.inbox_error("env: {1X: a}"),
             Contains("inboxes[0].env.1X: is not a valid variable name"));
  CHECK(f.inbox_error("env: {A: ~}") ==
        "inboxd.yaml:5:11: inboxes[0].env.A: has no value (expected a string)");
  CHECK(f.inbox_with("env: {_a1: \"x y\"}").env.at("_a1") == "x y");
}

TEST_CASE("socket_mode must be octal permission bits", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.error("socket_mode: \"0668\"\n" + minimal_config()) ==
        R"(inboxd.yaml:1:1: socket_mode: "0668" is not an octal mode like "0660")");
  CHECK(f.error("socket_mode: \"01777\"\n" + minimal_config()) ==
        R"(inboxd.yaml:1:1: socket_mode: "01777" is out of range (permission bits, at most 0777))");
  CHECK_THAT(f.error("socket_mode: rw\n" + minimal_config()), Contains("is not an octal mode"));
}

TEST_CASE("admin_groups must name groups that exist", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.load("admin_groups: [root]\n" + minimal_config()).admin_groups ==
        std::vector<std::string>{"root"});
  CHECK(f.error("admin_groups: [root, no-such-group-xyz]\n" + minimal_config()) ==
        R"(inboxd.yaml:1:22: admin_groups[1]: no such group "no-such-group-xyz")");
}

TEST_CASE("paths must be given and are never expanded by a shell", "[config][errors]") {
  ConfigFixture f;
  CHECK(f.error("state_dir: \"\"\n" + minimal_config()) ==
        "inboxd.yaml:1:1: state_dir: must not be empty");
  CHECK(
      f.inbox_error("done_dir: ~/done") ==
      R"(inboxd.yaml:5:5: inboxes[0].done_dir: "~/done": "~" is not expanded; write the full path)");
  CHECK(f.inbox_error("done_dir: \"a\\0b\"") ==
        "inboxd.yaml:5:5: inboxes[0].done_dir: contains a NUL byte");
}

TEST_CASE("an error in defaults is reported once, not once per inbox", "[config][errors]") {
  ConfigFixture f;
  CHECK(
      f.errors("defaults: {timeout: forever, command: [/bin/true]}\n"
               "inboxes:\n  - {name: a, path: /a}\n  - {name: b, path: /b}\n") ==
      std::vector<std::string>{
          R"(inboxd.yaml:1:12: defaults.timeout: "forever" is not a duration (write a number and a unit: ms, s, m, h, d))"});
}

TEST_CASE("a missing configuration file is an error naming the file", "[config][errors]") {
  ConfigFixture f;
  const auto missing = f.dir() / "nope.yaml";
  try {
    load_config(missing, f.env());
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(e.messages() ==
          std::vector<std::string>{missing.string() + ": cannot read: No such file or directory"});
  }
  CHECK_THROWS_WITH(load_config(f.dir(), f.env()),
                    f.dir().string() + ": cannot read: Is a directory");
}

TEST_CASE("load_config names the file as it was given", "[config][errors]") {
  ConfigFixture f;
  const auto file = f.write_file("bad.yaml", "inboxes: []\n");
  CHECK_THROWS_WITH(load_config(file, f.env()),
                    file.string() + ":1:1: inboxes: must list at least one inbox");
}

}  // namespace
}  // namespace inboxd::config::test
