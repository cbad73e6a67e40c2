#include "daemon/admin/admin_error.hpp"

namespace inboxd::admin {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kBadRequest: return "bad_request";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kInvalidConfig: return "invalid_config";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace inboxd::admin
