// Placeholders in handler commands: checking, byte-exact expansion, and the
// stem/extension split behind {stem} and {ext}.

#include <catch2/catch.hpp>

#include "daemon/config/command_template.hpp"

namespace inboxd::config {
namespace {

const std::string kKnown =
    "(known: {path} {name} {stem} {ext} {rel} {inbox} {job} {attempt} {work_dir})";

PlaceholderValues sample_values() {
  PlaceholderValues v;
  v.path = "/srv/in/.inboxd/spool/7/scan 1.pdf";
  v.name = "scan 1.pdf";
  v.stem = "scan 1";
  v.ext = "pdf";
  v.rel = "2024/scan 1.pdf";
  v.inbox = "scans";
  v.job = "7";
  v.attempt = "2";
  v.work_dir = "/srv/in/.inboxd/work/7";
  return v;
}

TEST_CASE("templates made of known placeholders and doubled braces are valid", "[template]") {
  for (const char* element :
       {"", "plain", "{path}", "--in={path}", "{stem}.{ext}", "{{}}", "{{path}}",
        "{name}{job}{attempt}{rel}{inbox}{work_dir}", "a{{b", "}}x"}) {
    CAPTURE(element);
    CHECK_FALSE(check_template(element).has_value());
  }
}

TEST_CASE("an unknown placeholder is named together with the known ones", "[template]") {
  CHECK(check_template("{foo}") == "unknown placeholder {foo} " + kKnown);
  CHECK(check_template("--x={Path}") == "unknown placeholder {Path} " + kKnown);
  CHECK(check_template("{}") == "unknown placeholder {} " + kKnown);
  CHECK(check_template("{ path }") == "unknown placeholder { path } " + kKnown);
}

TEST_CASE("a brace that pairs with nothing is reported as unmatched", "[template]") {
  const std::string open = "unmatched '{' (write {{ for a literal brace)";
  const std::string close = "unmatched '}' (write }} for a literal brace)";
  CHECK(check_template("{") == open);
  CHECK(check_template("{path") == open);
  CHECK(check_template("a{b{path}") == open);
  CHECK(check_template("}") == close);
  CHECK(check_template("{path}}") == close);
  CHECK(check_template("x}y") == close);
}

TEST_CASE("every placeholder expands to its value", "[template]") {
  const PlaceholderValues v = sample_values();
  CHECK(expand_template("{path}", v) == v.path);
  CHECK(expand_template("{name}|{stem}|{ext}|{rel}|{inbox}|{job}|{attempt}|{work_dir}", v) ==
        "scan 1.pdf|scan 1|pdf|2024/scan 1.pdf|scans|7|2|/srv/in/.inboxd/work/7");
  CHECK(expand_template("--out={work_dir}/{stem}.txt", v) ==
        "--out=/srv/in/.inboxd/work/7/scan 1.txt");
  CHECK(expand_template("no placeholders", v) == "no placeholders");
}

TEST_CASE("doubled braces expand to literal braces", "[template]") {
  const PlaceholderValues v = sample_values();
  CHECK(expand_template("{{path}}", v) == "{path}");
  CHECK(expand_template("{{{job}}}", v) == "{7}");
  CHECK(expand_template("json={{\"job\": {job}}}", v) == "json={\"job\": 7}");
}

TEST_CASE("file names are substituted byte for byte, whatever they hold", "[template]") {
  PlaceholderValues v = sample_values();
  for (std::string name : {std::string("a b  c.pdf"), std::string("it's \"quoted\".pdf"),
                           std::string("line\nbreak.pdf"), std::string("-rf"),
                           std::string("--help"), std::string("bad\xff\xfe utf8.pdf"),
                           std::string("caf\xc3\xa9.pdf"), std::string("$(reboot);`id`*.pdf"),
                           std::string("{path}"), std::string("tab\there\r.pdf")}) {
    CAPTURE(name);
    v.name = name;
    CHECK(expand_template("{name}", v) == name);
    CHECK(expand_template("<{name}>", v) == "<" + name + ">");
  }
}

TEST_CASE("a value that looks like a placeholder is not expanded again", "[template]") {
  PlaceholderValues v = sample_values();
  v.name = "{job}";
  CHECK(expand_template("{name}", v) == "{job}");
}

TEST_CASE("split_extension takes the last extension and leaves dotfiles whole", "[template]") {
  using Split = std::pair<std::string, std::string>;
  auto [name, expected] = GENERATE(table<std::string, Split>({
      {"report.pdf", {"report", "pdf"}},
      {"a.tar.gz", {"a.tar", "gz"}},
      {"README", {"README", ""}},
      {".bashrc", {".bashrc", ""}},
      {".config.bak", {".config", "bak"}},
      {"x.", {"x.", ""}},
      {"..", {"..", ""}},
      {"a..b", {"a.", "b"}},
      {"SCAN.PDF", {"SCAN", "PDF"}},
      {"scan 1.final.pdf", {"scan 1.final", "pdf"}},
      {"", {"", ""}},
      {"caf\xc3\xa9.\xff", {"caf\xc3\xa9", "\xff"}},
  }));
  CAPTURE(name);
  CHECK(split_extension(name) == expected);
}

}  // namespace
}  // namespace inboxd::config
