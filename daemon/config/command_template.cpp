#include "daemon/config/command_template.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace inboxd::config {
namespace {

using Field = std::string PlaceholderValues::*;

struct Placeholder {
  std::string_view name;
  Field field;
};

// The order is the order in which the known placeholders are listed to users.
constexpr std::array<Placeholder, 9> kPlaceholders = {{
    {"path", &PlaceholderValues::path},
    {"name", &PlaceholderValues::name},
    {"stem", &PlaceholderValues::stem},
    {"ext", &PlaceholderValues::ext},
    {"rel", &PlaceholderValues::rel},
    {"inbox", &PlaceholderValues::inbox},
    {"job", &PlaceholderValues::job},
    {"attempt", &PlaceholderValues::attempt},
    {"work_dir", &PlaceholderValues::work_dir},
}};

const Placeholder* find_placeholder(std::string_view name) {
  for (const auto& placeholder : kPlaceholders) {
    if (placeholder.name == name) return &placeholder;
  }
  return nullptr;
}

std::string unknown_placeholder_message(std::string_view name) {
  std::string message = "unknown placeholder {";
  message.append(name);
  message += "} (known:";
  for (const auto& placeholder : kPlaceholders) {
    message += " {";
    message.append(placeholder.name);
    message += '}';
  }
  message += ')';
  return message;
}

// One lexical piece of a template: literal bytes or a placeholder name.
struct Token {
  enum class Kind { kLiteral, kPlaceholder, kUnmatchedOpen, kUnmatchedClose } kind;
  std::string_view text;
};

// Reads the token starting at `pos` and advances `pos` past it. "{{" and "}}"
// are one-byte literals; "{name}" is a placeholder; a brace that pairs with
// nothing is reported as unmatched.
Token next_token(std::string_view element, std::size_t& pos) {
  const char ch = element[pos];
  const bool doubled = pos + 1 < element.size() && element[pos + 1] == ch;
  if (ch == '}') {
    pos += doubled ? 2 : 1;
    if (doubled) return {Token::Kind::kLiteral, element.substr(pos - 1, 1)};
    return {Token::Kind::kUnmatchedClose, {}};
  }
  if (ch == '{') {
    if (doubled) {
      pos += 2;
      return {Token::Kind::kLiteral, element.substr(pos - 1, 1)};
    }
    const std::size_t close = element.find_first_of("{}", pos + 1);
    if (close == std::string_view::npos || element[close] == '{') {
      pos = element.size();
      return {Token::Kind::kUnmatchedOpen, {}};
    }
    std::string_view name = element.substr(pos + 1, close - pos - 1);
    pos = close + 1;
    return {Token::Kind::kPlaceholder, name};
  }
  const std::size_t end = std::min(element.find_first_of("{}", pos), element.size());
  std::string_view literal = element.substr(pos, end - pos);
  pos = end;
  return {Token::Kind::kLiteral, literal};
}

}  // namespace

std::optional<std::string> check_template(std::string_view element) {
  std::size_t pos = 0;
  while (pos < element.size()) {
    const Token token = next_token(element, pos);
    switch (token.kind) {
      case Token::Kind::kLiteral: break;
      case Token::Kind::kPlaceholder:
        if (find_placeholder(token.text) == nullptr) return unknown_placeholder_message(token.text);
        break;
      case Token::Kind::kUnmatchedOpen: return "unmatched '{' (write {{ for a literal brace)";
      case Token::Kind::kUnmatchedClose: return "unmatched '}' (write }} for a literal brace)";
    }
  }
  return std::nullopt;
}

std::string expand_template(std::string_view element, const PlaceholderValues& values) {
  std::string out;
  out.reserve(element.size());
  std::size_t pos = 0;
  while (pos < element.size()) {
    const std::size_t start = pos;
    const Token token = next_token(element, pos);
    const Placeholder* placeholder =
        token.kind == Token::Kind::kPlaceholder ? find_placeholder(token.text) : nullptr;
    if (placeholder != nullptr) {
      out += values.*(placeholder->field);
    } else if (token.kind == Token::Kind::kLiteral) {
      out.append(token.text);
    } else {
      // Only reachable for an element that failed check_template; keeping its
      // bytes verbatim is the least surprising fallback.
      out.append(element.substr(start, pos - start));
    }
  }
  return out;
}

std::pair<std::string, std::string> split_extension(std::string_view name) {
  const std::size_t dot = name.rfind('.');
  // A leading dot marks a hidden file, not an extension; a trailing dot leaves
  // nothing to call an extension, so the whole name is the stem.
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) {
    return {std::string(name), std::string()};
  }
  return {std::string(name.substr(0, dot)), std::string(name.substr(dot + 1))};
}

}  // namespace inboxd::config
