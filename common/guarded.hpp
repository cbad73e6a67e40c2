#pragma once
// guarded(): the body of every libuv callback runs through it. No exception
// may unwind through libuv's C frames, so one (in practice bad_alloc) is
// logged on the module's logger and stops here.

#include <spdlog/spdlog.h>

#include <exception>

namespace inboxd {

template <class F>
void guarded(spdlog::logger& log, const char* what, F&& body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    log.error("unexpected error in {}: {}", what, e.what());
  } catch (...) {
    log.error("unexpected error in {}", what);
  }
}

}  // namespace inboxd
