#pragma once
// Placeholders in handler command elements (PRODUCT.md): {path} {name} {stem}
// {ext} {rel} {inbox} {job} {attempt} {work_dir}; "{{" and "}}" are literal
// braces. Values are byte strings and are substituted verbatim: each command
// element stays exactly one argv element, whatever bytes a file name holds.

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace inboxd::config {

struct PlaceholderValues {
  std::string path;  // the file's current absolute path
  std::string name;  // file name
  std::string stem;  // name without its last extension
  std::string ext;   // last extension without the dot, "" if none
  std::string rel;   // path relative to the inbox
  std::string inbox;
  std::string job;      // job id, decimal
  std::string attempt;  // attempt number, decimal, from 1
  std::string work_dir;
};

// Returns a message naming the first problem ("unknown placeholder {foo}",
// "unmatched '{'", "unmatched '}'"), or nullopt when the element is valid.
std::optional<std::string> check_template(std::string_view element);

// Expands a valid element (check_template returned nullopt).
std::string expand_template(std::string_view element, const PlaceholderValues& values);

// Splits a file name into stem and extension as PRODUCT.md defines them:
// "a.tar.gz" -> ("a.tar", "gz"); "README" -> ("README", ""); ".bashrc" -> (".bashrc", "").
std::pair<std::string, std::string> split_extension(std::string_view name);

}  // namespace inboxd::config
