#pragma once
// What every fuzz target uses to state an invariant. A broken invariant is a
// finding like a crash: it prints what was expected and aborts, so libFuzzer
// keeps the input that broke it (crash-<sha1>) and the sanitizers print the
// stack.

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace inboxd::fuzz {

[[noreturn]] inline void broken(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "invariant broken: %.*s\n", static_cast<int>(what.size()), what.data());
  if (!detail.empty()) {
    std::fprintf(stderr, "  detail: %.*s\n", static_cast<int>(detail.size()), detail.data());
  }
  std::abort();
}

inline void require(bool holds, std::string_view what, std::string_view detail = {}) {
  if (!holds) broken(what, detail);
}

}  // namespace inboxd::fuzz
