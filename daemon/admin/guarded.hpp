#pragma once
// guarded(): the noexcept trampoline body of every libuv callback in the
// admin module. An exception (in practice bad_alloc) is logged on the
// "admin" logger and stops there, so none ever unwinds through libuv.

#include <utility>

#include "common/guarded.hpp"
#include "common/log.hpp"

namespace inboxd::admin {

template <class F>
void guarded(const char* what, F&& body) noexcept {
  inboxd::guarded(*log::get("admin"), what, std::forward<F>(body));
}

}  // namespace inboxd::admin
