#pragma once
// Builders for error messages that carry the operation and the object:
// "rename /srv/in/a.pdf: Permission denied".

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace inboxd {

inline std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r returns a pointer that may or may not be buf.
  return ::strerror_r(err, buf, sizeof buf);
}

// "op object: strerror(err)"; object may be empty.
inline Error sys_error(std::string_view op, std::string_view object, int err = errno) {
  std::string message(op);
  if (!object.empty()) {
    message += ' ';
    message += object;
  }
  message += ": ";
  message += errno_text(err);
  return Error{std::move(message), err};
}

inline Unexpected<Error> fail_errno(std::string_view op, std::string_view object, int err = errno) {
  return Unexpected<Error>(sys_error(op, object, err));
}

}  // namespace inboxd
