#pragma once
// Logging: one named spdlog logger per module ("app", "config", "queue",
// "watcher", "runner", "admin"), all writing through one stderr sink.
//
// Formats:
//   text     2026-11-23T10:04:05.123Z info  queue: message key=value
//   json     {"ts":"...","level":"info","logger":"queue","msg":"..."}
//   journal  <6>queue: message key=value   (stderr is the journal: JOURNAL_STREAM
//            matches stderr's device:inode; the journal adds its own timestamps)
//
// Messages are lowercase with key=value fields. Nothing in the daemon prints to
// stderr except through these loggers.

#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace inboxd::log {

enum class Format { kText, kJson, kJournal };

// The format for a configured log_format: the journal's when stderr is the
// journal, else json or text as configured.
Format format_for(bool json);

// Installs the shared sink. Safe to call again (reload may change level/format).
void setup(Format format, spdlog::level::level_enum level);

// The named logger for a module; created on first use with the shared sink.
std::shared_ptr<spdlog::logger> get(const std::string& name);

// Parses "trace|debug|info|warn|error".
std::optional<spdlog::level::level_enum> parse_level(std::string_view text);

// True when stderr is connected to the systemd journal.
bool stderr_is_journal();

// Quotes a value for a key=value field if it has spaces, quotes, control bytes
// or is empty; invalid UTF-8 and control bytes are escaped as \xNN.
std::string quote(std::string_view value);

}  // namespace inboxd::log
