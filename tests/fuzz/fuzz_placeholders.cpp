// fuzz_placeholders: check_template, expand_template and split_extension.
//
// The input is one command element. Invariants:
//   - expand_template never throws, whether check_template accepted the
//     element or not (it keeps a rejected element's bytes verbatim);
//   - any bytes escaped with "{{" and "}}" are a valid element that expands
//     to exactly those bytes;
//   - a value is substituted verbatim, never expanded again: escaped(a) +
//     "{name}" + escaped(b) expands to a + value + b whatever braces the
//     value holds;
//   - split_extension gives back the name: stem + "." + ext (or the stem
//     alone when ext is empty), ext holds no dot and the stem is never empty
//     when there is an extension.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/config/command_template.hpp"
#include "tests/fuzz/fuzz_check.hpp"

namespace inboxd::fuzz {
namespace {

std::string escaped(std::string_view bytes) {
  std::string out;
  for (char ch : bytes) {
    out += ch;
    if (ch == '{' || ch == '}') out += ch;
  }
  return out;
}

// Every field holds a different slice of the input, braces included.
config::PlaceholderValues values_from(std::string_view text) {
  config::PlaceholderValues values;
  values.path = std::string(text);
  values.name = std::string(text.substr(0, text.size() / 2));
  values.stem = std::string(text.substr(text.size() / 2));
  values.ext = "{path}";
  values.rel = "{{";
  values.inbox = "}";
  values.job = std::string(text.substr(0, 1));
  values.attempt = "1";
  values.work_dir = std::string(text.substr(text.size() / 3));
  return values;
}

void check_element(std::string_view element, const config::PlaceholderValues& values) {
  const auto problem = config::check_template(element);
  if (problem) require(!problem->empty(), "a rejected element has a message");
  (void)config::expand_template(element, values);
}

void check_escaping(std::string_view text, const config::PlaceholderValues& values) {
  const std::string literal = escaped(text);
  require(!config::check_template(literal).has_value(), "an escaped element is valid", literal);
  require(config::expand_template(literal, values) == text, "an escaped element expands to itself",
          literal);

  const std::string_view a = text.substr(0, text.size() / 3);
  const std::string_view b = text.substr(text.size() / 3);
  const std::string element = escaped(a) + "{name}" + escaped(b);
  require(!config::check_template(element).has_value(), "{name} between escaped bytes is valid",
          element);
  const std::string expected = std::string(a) + values.name + std::string(b);
  require(config::expand_template(element, values) == expected,
          "a value is substituted verbatim between escaped bytes", element);
}

void check_split(std::string_view name) {
  const auto [stem, ext] = config::split_extension(name);
  if (ext.empty()) {
    require(stem == name, "a name without extension is its own stem", name);
    return;
  }
  require(!stem.empty(), "a name with an extension has a stem", name);
  require(ext.find('.') == std::string::npos, "an extension holds no dot", name);
  require(stem + "." + ext == name, "stem.ext gives back the name", name);
}

}  // namespace
}  // namespace inboxd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto values = inboxd::fuzz::values_from(text);
  inboxd::fuzz::check_element(text, values);
  inboxd::fuzz::check_escaping(text, values);
  inboxd::fuzz::check_split(text);
  return 0;
}
