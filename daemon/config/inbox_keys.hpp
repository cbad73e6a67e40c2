#pragma once
// The inbox keys of PRODUCT.md "Configuration", as one table of key name and
// reader. The same table reads `defaults` and each inbox: defaults are read
// first into a draft, every inbox starts from a copy of it and overrides keys
// one by one (a key given in an inbox replaces the default value whole; lists
// and mappings are not merged).
//
// Internal to the config module.

#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "daemon/config/config.hpp"
#include "daemon/config/diagnostics.hpp"

namespace inboxd::config::detail {

// What every reader needs besides the entry it reads.
struct ReadContext {
  Diagnostics& diag;
  std::filesystem::path base_dir;  // the configuration file's directory
  const Environment& env;
};

// Where a key of an inbox was given: in the inbox itself or in `defaults`.
// Checks that involve several keys report at the origin of the key at fault.
struct Origin {
  YAML::Mark mark;
  std::string key;  // full key path: "inboxes[1].path" or "defaults.path"
};

// An inbox while it is being read: its configuration so far and the origin of
// every key given explicitly (whether or not its value was acceptable).
struct InboxDraft {
  InboxConfig config;
  std::map<std::string, Origin, std::less<>> origins;

  const Origin* origin(std::string_view key) const;
};

// Every inbox key, in the order of the reference configuration.
std::span<const std::string_view> inbox_key_names();

// Reads the keys of `map_entry` (an inbox, or `defaults` when `is_defaults`)
// into `draft`, reporting every problem.
void read_inbox_keys(ReadContext& ctx, const Entry& map_entry, InboxDraft& draft, bool is_defaults);

// Completes an inbox once all of its keys are read: reports missing required
// keys at the inbox's mapping, fills done_dir/failed_dir from path, and checks
// the rules that involve several keys of one inbox.
void finish_inbox(ReadContext& ctx, const Entry& map_entry, InboxDraft& draft);

}  // namespace inboxd::config::detail
