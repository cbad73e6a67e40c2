#pragma once
// UvHandle<T> owns one libuv handle allocated on the heap. libuv's rule is that a
// handle's memory may only be freed in or after its close callback; this type
// makes that rule impossible to forget: close() (or the destructor) calls
// uv_close and the memory is freed by the close callback, never before.
//
// The loop must still run after the owner lets go, so the close callback can
// fire; callers that tear down a loop run it once more (uv_run UV_RUN_DEFAULT)
// before uv_loop_close.

#include <uv.h>

#include <string>
#include <utility>

namespace inboxd {

template <class T>
class UvHandle {
 public:
  UvHandle() : handle_(new T{}) {}
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  UvHandle(UvHandle&& other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      close();
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~UvHandle() { close(); }

  T* get() const { return handle_; }
  T* operator->() const { return handle_; }
  uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(handle_); }
  explicit operator bool() const { return handle_ != nullptr; }

  // Closes the handle (if it was initialised) and schedules its memory to be
  // freed in the close callback. Safe to call more than once. A handle whose
  // init failed (type still UV_UNKNOWN_HANDLE) is freed at once.
  void close() {
    if (handle_ == nullptr) return;
    T* h = std::exchange(handle_, nullptr);
    auto* base = reinterpret_cast<uv_handle_t*>(h);
    if (base->type == UV_UNKNOWN_HANDLE || base->loop == nullptr) {
      delete h;
      return;
    }
    if (uv_is_closing(base) != 0) return;  // someone else closes it; they free it
    uv_close(base, [](uv_handle_t* closing) { delete reinterpret_cast<T*>(closing); });
  }

 private:
  T* handle_;
};

// libuv error text: "uv_spawn /bin/x: no such file or directory".
inline std::string uv_error_text(int code) { return uv_strerror(code); }

}  // namespace inboxd
