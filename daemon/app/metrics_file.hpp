#pragma once
// MetricsFile: the `metrics` text written to `metrics_file` for
// node_exporter's textfile collector, every kPeriod while the daemon runs.
//
// Each write goes to "<file>.tmp" in the same folder and is renamed over the
// file, so the collector never reads half a file (it only reads *.prom
// files, so it also never picks up the temporary one). A failing write is
// logged once per distinct error and retried at the next period; it never
// affects processing.
//
// Ownership: owned by Application; loop thread only.

#include <uv.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "common/uv_handle.hpp"

namespace spdlog {
class logger;
}

namespace inboxd::app {

class MetricsFile {
 public:
  static constexpr Millis kPeriod{15000};

  // render: produces the exposition text (may throw; the write is skipped).
  MetricsFile(uv_loop_t* loop, std::function<std::string()> render);
  MetricsFile(const MetricsFile&) = delete;
  MetricsFile& operator=(const MetricsFile&) = delete;

  // Sets or clears the file (start and reload). A new file is written at once.
  void set_path(const std::optional<std::filesystem::path>& path);
  // Writes now; false (and a log line) when it failed.
  bool write();
  // Stops the timer and closes its handle (graceful stop).
  void close();

 private:
  std::optional<std::filesystem::path> path_;
  std::function<std::string()> render_;
  UvHandle<uv_timer_t> timer_;
  std::string last_error_;
  std::shared_ptr<spdlog::logger> log_;
};

// Replaces `file` with `text` atomically: written to "<file>.tmp" beside it,
// then renamed over it. The file gets mode 0644.
Result<void> replace_file(const std::filesystem::path& file, std::string_view text);

}  // namespace inboxd::app
