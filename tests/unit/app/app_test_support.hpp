#pragma once
// Verbs shared by the app unit tests: turning a libuv loop until something
// holds, and reading a file whole.

#include <uv.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace inboxd::app::test {

// Runs `loop` until `condition` holds (true) or `timeout` passes (false).
template <class F>
bool run_loop_until(uv_loop_t* loop, F condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    uv_run(loop, UV_RUN_NOWAIT);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace inboxd::app::test
