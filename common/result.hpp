#pragma once
// Result<T>: a value or an Error, with the member names of C++23 std::expected
// (has_value, value, error, operator*, operator->) so that the move to
// std::expected is mechanical. Runtime failures are returned as Result; only
// configuration loading and admin replies use exceptions.

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace inboxd {

// An error is a short human message that already names the operation and the
// object ("rename /srv/in/a.pdf: Permission denied"), plus the errno/SQLite/libuv
// code when there is one (0 otherwise).
struct Error {
  std::string message;
  int code = 0;
};

template <class E>
class Unexpected {
 public:
  explicit Unexpected(E error) : error_(std::move(error)) {}
  const E& error() const& { return error_; }
  E&& error() && { return std::move(error_); }

 private:
  E error_;
};

// Shorthand: `return fail("open x: no such file");`
inline Unexpected<Error> fail(std::string message, int code = 0) {
  return Unexpected<Error>(Error{std::move(message), code});
}
inline Unexpected<Error> fail(Error error) { return Unexpected<Error>(std::move(error)); }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Unexpected<Error> error)                            // NOLINT(google-explicit-constructor)
      : state_(std::in_place_index<1>, std::move(error).error()) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(state_));
  }
  const Error& error() const {
    assert(!has_value());
    return std::get<1>(state_);
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <class U>
  T value_or(U&& fallback) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Unexpected<Error> error)  // NOLINT(google-explicit-constructor)
      : error_(std::move(error).error()), ok_(false) {}

  bool has_value() const { return ok_; }
  explicit operator bool() const { return ok_; }
  void value() const { assert(ok_); }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace inboxd
