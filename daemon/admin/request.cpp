#include "daemon/admin/request.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "daemon/admin/admin_error.hpp"

namespace inboxd::admin {
namespace {

[[noreturn]] void bad_request(const std::string& message) {
  throw AdminError(ErrorCode::kBadRequest, message);
}

}  // namespace

Request Request::parse(std::string_view line) {
  auto object = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
  if (object.is_discarded()) bad_request("request is not valid JSON");
  if (!object.is_object()) bad_request("request must be a JSON object");
  auto cmd = object.find("cmd");
  if (cmd == object.end() || !cmd->is_string()) bad_request("request needs a \"cmd\" string");
  std::string name = cmd->get<std::string>();
  return Request(std::move(object), std::move(name));
}

const nlohmann::json* Request::find(std::string_view field) const {
  auto it = object_.find(field);
  return it == object_.end() ? nullptr : &*it;
}

bool Request::has(std::string_view field) const { return find(field) != nullptr; }

void Request::allow_only(std::initializer_list<std::string_view> allowed) const {
  for (const auto& [key, value] : object_.items()) {
    if (key == "cmd") continue;
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      bad_request(fmt::format("{}: unknown field \"{}\"", cmd_, key));
    }
  }
}

std::optional<std::int64_t> Request::optional_integer(std::string_view field) const {
  const auto* value = find(field);
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (!value->is_number_integer())
    bad_request(fmt::format("{}: \"{}\" must be an integer", cmd_, field));
  if (value->is_number_unsigned() && value->get<std::uint64_t>() > INT64_MAX) {
    bad_request(fmt::format("{}: \"{}\" is out of range", cmd_, field));
  }
  return value->get<std::int64_t>();
}

std::optional<std::int64_t> Request::optional_id(std::string_view field) const {
  auto value = optional_integer(field);
  if (value && *value <= 0)
    bad_request(fmt::format("{}: \"{}\" must be a positive integer", cmd_, field));
  return value;
}

std::int64_t Request::id(std::string_view field) const {
  auto value = optional_id(field);
  if (!value) bad_request(fmt::format("{}: \"{}\" is required", cmd_, field));
  return *value;
}

std::optional<std::string> Request::optional_text(std::string_view field) const {
  const auto* value = find(field);
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (!value->is_string()) bad_request(fmt::format("{}: \"{}\" must be a string", cmd_, field));
  auto text = value->get<std::string>();
  if (text.empty()) bad_request(fmt::format("{}: \"{}\" must not be empty", cmd_, field));
  return text;
}

std::string Request::text(std::string_view field) const {
  auto value = optional_text(field);
  if (!value) bad_request(fmt::format("{}: \"{}\" is required", cmd_, field));
  return *value;
}

std::optional<std::string> Request::peek_text(std::string_view field) const {
  const auto* value = find(field);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return value->get<std::string>();
}

std::optional<std::int64_t> Request::peek_integer(std::string_view field) const {
  const auto* value = find(field);
  if (value == nullptr || !value->is_number_integer()) return std::nullopt;
  if (value->is_number_unsigned() && value->get<std::uint64_t>() > INT64_MAX) return std::nullopt;
  return value->get<std::int64_t>();
}

}  // namespace inboxd::admin
