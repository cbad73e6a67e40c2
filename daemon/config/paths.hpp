#pragma once
// Path handling for the configuration. Everything here is lexical: loading a
// configuration must not depend on (or create) the directories it names, which
// may be network mounts that are not there yet. The one exception is the
// PATH lookup of a bare command name, which the contract puts at load time.
//
// Internal to the config module.

#include <filesystem>
#include <optional>
#include <string_view>

#include "common/result.hpp"
#include "daemon/config/diagnostics.hpp"

namespace inboxd::config::detail {

// The search path used when the daemon's environment has no PATH; it matches
// what execvp() falls back to on glibc, minus the current directory.
inline constexpr std::string_view kDefaultSearchPath = "/usr/local/bin:/usr/bin:/bin";

// `text` made absolute against `base_dir` and lexically normal, without a
// trailing slash ("/srv/in/" and "/srv/./in" both become "/srv/in").
std::filesystem::path resolve_path(const std::filesystem::path& base_dir, std::string_view text);

// True when `inner` is `outer` or lies below it (both absolute and normal).
bool is_within(const std::filesystem::path& inner, const std::filesystem::path& outer);

// The first entry of a colon-separated directory list, as systemd passes
// $STATE_DIRECTORY and $RUNTIME_DIRECTORY ("" when there is none).
std::string_view first_entry(std::string_view list);

// Finds an executable regular file called `name` in the absolute directories
// of `search_path`; relative and empty entries are skipped, so a daemon never
// runs a program found through its working directory.
Result<std::filesystem::path> find_in_path(std::string_view name, std::string_view search_path);

// Reads a path entry and resolves it against `base_dir`; refuses an empty
// path and a "~/" one (nothing here expands it, and a literal "~" folder next
// to the configuration is never what was meant).
std::optional<std::filesystem::path> read_path(Diagnostics& diag, const Entry& entry,
                                               const std::filesystem::path& base_dir);

}  // namespace inboxd::config::detail
