#pragma once
// Request: one parsed request object with typed accessors. Every accessor
// throws AdminError(bad_request) naming the field when a value is missing or
// of the wrong type, so command handlers read like their PRODUCT.md line.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace inboxd::admin {

class Request {
 public:
  // Parses one line. Throws bad_request for invalid JSON, a non-object, or a
  // missing or non-string "cmd".
  static Request parse(std::string_view line);

  const std::string& cmd() const { return cmd_; }
  bool has(std::string_view field) const;

  // Throws bad_request for any field other than "cmd" and `allowed`, so a
  // misspelt option never passes silently.
  void allow_only(std::initializer_list<std::string_view> allowed) const;

  std::int64_t id(std::string_view field) const;  // required, positive
  std::optional<std::int64_t> optional_id(std::string_view field) const;
  std::string text(std::string_view field) const;  // required, non-empty
  std::optional<std::string> optional_text(std::string_view field) const;
  std::optional<std::int64_t> optional_integer(std::string_view field) const;

  // For the audit line: the value of field if it is a string / an integer.
  std::optional<std::string> peek_text(std::string_view field) const;
  std::optional<std::int64_t> peek_integer(std::string_view field) const;

 private:
  explicit Request(nlohmann::json object, std::string cmd)
      : object_(std::move(object)), cmd_(std::move(cmd)) {}
  const nlohmann::json* find(std::string_view field) const;

  nlohmann::json object_;
  std::string cmd_;
};

}  // namespace inboxd::admin
