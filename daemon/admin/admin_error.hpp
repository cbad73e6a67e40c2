#pragma once
// AdminError: the one exception of the admin protocol. A Backend throws it to
// refuse a command; the dispatcher turns it (and any other exception, as
// `internal`) into the reply {"ok":false,"error":{"code":...,"message":...}}.
// It never leaves the dispatcher and never crosses a libuv callback.

#include <stdexcept>
#include <string>
#include <string_view>

namespace inboxd::admin {

enum class ErrorCode { kBadRequest, kNotFound, kForbidden, kConflict, kInvalidConfig, kInternal };

// "bad_request", "not_found", "forbidden", "conflict", "invalid_config", "internal".
std::string_view to_string(ErrorCode code);

class AdminError : public std::runtime_error {
 public:
  AdminError(ErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace inboxd::admin
