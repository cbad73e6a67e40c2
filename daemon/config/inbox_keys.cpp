#include "daemon/config/inbox_keys.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <type_traits>

#include "daemon/config/command_template.hpp"
#include "daemon/config/paths.hpp"
#include "daemon/config/units.hpp"
#include "daemon/config/value_readers.hpp"

namespace inboxd::config::detail {
namespace {

using KeyReader = void (*)(ReadContext&, const Entry&, InboxConfig&);

struct InboxKey {
  std::string_view name;
  KeyReader read;
};

constexpr std::array<Choice<WatchMode>, 3> kWatchModes = {
    {{"auto", WatchMode::kAuto}, {"inotify", WatchMode::kInotify}, {"poll", WatchMode::kPoll}}};
constexpr std::array<Choice<OnSuccess>, 2> kOnSuccess = {
    {{"move", OnSuccess::kMove}, {"delete", OnSuccess::kDelete}}};

// ---- generic setters, one per kind of value --------------------------------

template <auto Field, bool kPositive = false>
void set_duration(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  if (auto value = read_duration(ctx.diag, entry, kPositive)) out.*Field = *value;
}

template <auto Field, std::int64_t kMin, std::int64_t kMax>
void set_integer(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  using T = std::remove_reference_t<decltype(out.*Field)>;
  if (auto value = read_integer(ctx.diag, entry, kMin, kMax)) out.*Field = static_cast<T>(*value);
}

template <auto Field>
void set_bool(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  if (auto value = read_bool(ctx.diag, entry)) out.*Field = *value;
}

template <auto Field, const auto& kChoices>
void set_choice(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  if (auto value = read_choice(ctx.diag, entry, kChoices)) out.*Field = *value;
}

template <auto Field, bool kAllowEmpty>
void set_patterns(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  if (auto value = read_string_list(ctx.diag, entry, "glob patterns", kAllowEmpty))
    out.*Field = *value;
}

template <auto Field>
void set_path(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  if (auto value = read_path(ctx.diag, entry, ctx.base_dir)) out.*Field = *value;
}

void set_max_file_size(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  if (auto value = read_size(ctx.diag, entry)) out.max_file_size = *value;
}

// ---- keys with rules of their own ------------------------------------------

// ASCII classes, spelled out: the name rules must not change with the locale.
bool ascii_letter(char ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'); }
bool ascii_digit(char ch) { return ch >= '0' && ch <= '9'; }

// ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$
bool valid_name(std::string_view name) {
  auto head = [](char ch) { return ascii_letter(ch) || ascii_digit(ch); };
  auto tail = [&](char ch) { return head(ch) || ch == '_' || ch == '.' || ch == '-'; };
  return !name.empty() && name.size() <= 64 && head(name.front()) &&
         std::all_of(name.begin(), name.end(), tail);
}

void read_name(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  auto name = read_string(ctx.diag, entry, "a name");
  if (!name) return;
  if (!valid_name(*name)) {
    ctx.diag.error(entry, fmt::format("{} is not a valid name (1 to 64 of A-Z a-z 0-9 _ . -, "
                                      "starting with a letter or digit)",
                                      quote_value(*name)));
    return;
  }
  out.name = *name;
}

// "/usr/bin/scan {path}" given as one string: show it split into argv.
std::string argv_hint(std::string_view text) {
  std::vector<std::string> words;
  std::size_t pos = 0;
  while ((pos = text.find_first_not_of(" \t", pos)) != std::string_view::npos) {
    const std::size_t end = std::min(text.find_first_of(" \t", pos), text.size());
    words.push_back(quote_value(text.substr(pos, end - pos)));
    pos = end;
  }
  return fmt::format("[{}]", fmt::join(words, ", "));
}

// The program of a command: a name with a slash is a path relative to the
// configuration file; a bare name is looked up in PATH now, so that a typo
// fails `inboxd --check` rather than every job.
std::optional<std::string> resolve_program(ReadContext& ctx, const Entry& entry,
                                           const std::string& program) {
  if (program.empty()) {
    ctx.diag.error(entry, "the program must not be empty");
  } else if (program.find_first_of("{}") != std::string::npos) {
    ctx.diag.error(entry, "the program cannot contain placeholders");
  } else if (program.find('/') != std::string::npos) {
    return resolve_path(ctx.base_dir, program).string();
  } else {
    auto found = find_in_path(program, ctx.env.path.value_or(std::string(kDefaultSearchPath)));
    if (found) return found->string();
    ctx.diag.error(entry, found.error().message);
  }
  return std::nullopt;
}

void read_command(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  if (entry.value.IsScalar()) {
    ctx.diag.error(entry, fmt::format("expected a list (the handler's argv; no shell is used), "
                                      "e.g. {}",
                                      argv_hint(entry.value.Scalar())));
    return;
  }
  auto argv = read_string_list(ctx.diag, entry, "strings", false);
  if (!argv) return;
  const std::vector<Entry> elements = entry.elements();
  bool ok = true;
  for (std::size_t i = 0; i < argv->size(); ++i) {
    if (auto problem = check_template((*argv)[i])) {
      ctx.diag.error(elements[i], *problem);
      ok = false;
    }
  }
  auto program = ok ? resolve_program(ctx, elements[0], (*argv)[0]) : std::nullopt;
  if (!program) return;
  (*argv)[0] = *program;
  out.command = std::move(*argv);
}

void read_exit_codes(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  if (entry.value.IsScalar()) {
    ctx.diag.error(entry,
                   fmt::format("expected a list of exit codes, got a single value (write [{}])",
                               entry.value.Scalar()));
    return;
  }
  if (!entry.value.IsSequence()) {
    ctx.diag.error(entry,
                   fmt::format("expected a list of exit codes, got {}", describe(entry.value)));
    return;
  }
  std::vector<int> codes;
  bool ok = true;
  for (const Entry& element : entry.elements()) {
    auto code = read_integer(ctx.diag, element, 1, 255);
    if (code) codes.push_back(static_cast<int>(*code));
    ok = ok && code.has_value();
  }
  if (ok) out.permanent_exit_codes = std::move(codes);
}

// ^[A-Za-z_][A-Za-z0-9_]*$
bool valid_env_name(std::string_view name) {
  auto head = [](char ch) { return ascii_letter(ch) || ch == '_'; };
  auto tail = [&](char ch) { return head(ch) || ascii_digit(ch); };
  return !name.empty() && head(name.front()) && std::all_of(name.begin(), name.end(), tail);
}

void read_env(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  if (!expect_mapping(ctx.diag, entry)) return;
  std::map<std::string, std::string> env;
  bool ok = true;
  for (const Entry& variable : ctx.diag.any_entries(entry.value, entry.key)) {
    std::optional<std::string> value;
    if (!valid_env_name(variable.name)) {
      ctx.diag.error(variable,
                     "is not a valid variable name (letters, digits and _, not starting "
                     "with a digit)");
    } else if (variable.name.starts_with("INBOXD_")) {
      ctx.diag.error(variable, "INBOXD_ variables are reserved for the ones inboxd sets");
    } else {
      value = read_string(ctx.diag, variable, "a string");
    }
    if (value) env[variable.name] = std::move(*value);
    ok = ok && value.has_value();
  }
  if (ok) out.env = std::move(env);
}

// ---- error_threshold: `off`, or a mapping with a table of its own ----------

using ThresholdReader = void (*)(Diagnostics&, const Entry&, ErrorThreshold&);

struct ThresholdKey {
  std::string_view name;
  ThresholdReader read;
};

void read_window(Diagnostics& diag, const Entry& entry, ErrorThreshold& out) {
  if (auto value = read_integer(diag, entry, 1, 10000)) out.window = static_cast<int>(*value);
}

void read_min_samples(Diagnostics& diag, const Entry& entry, ErrorThreshold& out) {
  if (auto value = read_integer(diag, entry, 1, 10000)) out.min_samples = static_cast<int>(*value);
}

void read_failure_rate(Diagnostics& diag, const Entry& entry, ErrorThreshold& out) {
  auto value = read_number(diag, entry);
  if (!value) return;
  if (*value <= 0.0 || *value > 1.0) {
    diag.error(entry, fmt::format("{} is out of range (a fraction above 0, at most 1)",
                                  entry.value.Scalar()));
    return;
  }
  out.max_failure_rate = *value;
}

void read_cooldown(Diagnostics& diag, const Entry& entry, ErrorThreshold& out) {
  if (auto value = read_duration(diag, entry)) out.cooldown = *value;
}

constexpr std::array<ThresholdKey, 4> kThresholdKeys = {{
    {"window", read_window},
    {"min_samples", read_min_samples},
    {"max_failure_rate", read_failure_rate},
    {"cooldown", read_cooldown},
}};

constexpr auto kThresholdKeyNames = key_names(kThresholdKeys);

bool is_off(const YAML::Node& node) {
  static constexpr std::string_view kOff[] = {"off", "Off", "OFF", "false", "False", "FALSE"};
  return node.IsScalar() &&
         std::find(std::begin(kOff), std::end(kOff), node.Scalar()) != std::end(kOff);
}

void read_error_threshold(ReadContext& ctx, const Entry& entry, InboxConfig& out) {
  if (is_off(entry.value)) {
    out.error_threshold = ErrorThreshold{};
    out.error_threshold.enabled = false;
    return;
  }
  if (entry.value.IsScalar()) {
    ctx.diag.error(entry, fmt::format("{} is neither off nor a mapping with window, min_samples, "
                                      "max_failure_rate, cooldown",
                                      quote_value(entry.value.Scalar())));
    return;
  }
  if (!expect_mapping(ctx.diag, entry)) return;
  ErrorThreshold threshold;  // keys left out keep their built-in defaults
  const Entry* min_samples = nullptr;
  const std::vector<Entry> entries = ctx.diag.entries(entry.value, entry.key, kThresholdKeyNames);
  for (const Entry& key : entries) {
    for (const ThresholdKey& row : kThresholdKeys) {
      if (row.name == key.name) row.read(ctx.diag, key, threshold);
    }
    if (key.name == "min_samples") min_samples = &key;
  }
  if (threshold.min_samples > threshold.window) {
    ctx.diag.error(min_samples != nullptr ? *min_samples : entry,
                   fmt::format("min_samples ({}) is more than window ({})", threshold.min_samples,
                               threshold.window));
    return;
  }
  out.error_threshold = threshold;
}

// ---- the table --------------------------------------------------------------

constexpr std::int64_t kMaxQueueLimit = std::numeric_limits<std::int64_t>::max();

constexpr auto kInboxKeys = std::to_array<InboxKey>({
    {"name", read_name},
    {"path", set_path<&InboxConfig::path>},
    {"command", read_command},
    {"include", set_patterns<&InboxConfig::include, false>},
    {"exclude", set_patterns<&InboxConfig::exclude, true>},
    {"recursive", set_bool<&InboxConfig::recursive>},
    {"watch", set_choice<&InboxConfig::watch, kWatchModes>},
    {"poll_interval", set_duration<&InboxConfig::poll_interval, true>},
    {"rescan_interval", set_duration<&InboxConfig::rescan_interval>},
    {"settle", set_duration<&InboxConfig::settle>},
    {"timeout", set_duration<&InboxConfig::timeout>},
    {"kill_grace", set_duration<&InboxConfig::kill_grace>},
    {"concurrency", set_integer<&InboxConfig::concurrency, 1, 1024>},
    {"retries", set_integer<&InboxConfig::retries, 0, 1000>},
    {"retry_backoff", set_duration<&InboxConfig::retry_backoff>},
    {"retry_backoff_max", set_duration<&InboxConfig::retry_backoff_max>},
    {"permanent_exit_codes", read_exit_codes},
    {"error_threshold", read_error_threshold},
    {"on_success", set_choice<&InboxConfig::on_success, kOnSuccess>},
    {"done_dir", set_path<&InboxConfig::done_dir>},
    {"failed_dir", set_path<&InboxConfig::failed_dir>},
    {"max_file_size", set_max_file_size},
    {"max_queue", set_integer<&InboxConfig::max_queue, 1, kMaxQueueLimit>},
    {"env", read_env},
});

constexpr auto kInboxKeyNames = key_names(kInboxKeys);

// ---- checks across keys of one inbox ----------------------------------------

void report_missing(ReadContext& ctx, const Entry& map_entry, const InboxDraft& draft) {
  for (std::string_view key : {"name", "path", "command"}) {
    if (draft.origin(key) == nullptr) {
      ctx.diag.error(map_entry.value.Mark(), join_key(map_entry.key, key),
                     "required key is missing");
    }
  }
}

// A done or failed folder that is the drop folder itself would feed every
// finished file straight back in as a new job.
void check_work_dir(ReadContext& ctx, const InboxDraft& draft, std::string_view key,
                    const std::filesystem::path& dir) {
  const Origin* origin = draft.origin(key);
  if (origin == nullptr || draft.config.path.empty() || dir != draft.config.path) return;
  ctx.diag.error(
      origin->mark, origin->key,
      fmt::format("{} is the inbox folder itself (finished files would be picked up again)",
                  dir.string()));
}

void check_backoff(ReadContext& ctx, const InboxDraft& draft) {
  const InboxConfig& config = draft.config;
  if (config.retry_backoff <= config.retry_backoff_max) return;
  const Origin* origin = draft.origin("retry_backoff");
  if (origin == nullptr) origin = draft.origin("retry_backoff_max");
  if (origin == nullptr) return;
  ctx.diag.error(
      origin->mark, origin->key,
      fmt::format("retry_backoff ({}) is longer than retry_backoff_max ({})",
                  spell_duration(config.retry_backoff), spell_duration(config.retry_backoff_max)));
}

}  // namespace

const Origin* InboxDraft::origin(std::string_view key) const {
  auto it = origins.find(key);
  return it == origins.end() ? nullptr : &it->second;
}

std::span<const std::string_view> inbox_key_names() { return kInboxKeyNames; }

void read_inbox_keys(ReadContext& ctx, const Entry& map_entry, InboxDraft& draft,
                     bool is_defaults) {
  for (const Entry& entry : ctx.diag.entries(map_entry.value, map_entry.key, kInboxKeyNames)) {
    if (is_defaults && entry.name == "name") {
      ctx.diag.error(entry, "not allowed in defaults (every inbox needs a name of its own)");
      continue;
    }
    draft.origins[entry.name] = Origin{entry.mark, entry.key};
    for (const InboxKey& row : kInboxKeys) {
      if (row.name == entry.name) row.read(ctx, entry, draft.config);
    }
  }
}

void finish_inbox(ReadContext& ctx, const Entry& map_entry, InboxDraft& draft) {
  report_missing(ctx, map_entry, draft);
  InboxConfig& config = draft.config;
  if (!config.path.empty()) {
    if (draft.origin("done_dir") == nullptr) config.done_dir = config.path / "done";
    if (draft.origin("failed_dir") == nullptr) config.failed_dir = config.path / "failed";
  }
  check_work_dir(ctx, draft, "done_dir", config.done_dir);
  check_work_dir(ctx, draft, "failed_dir", config.failed_dir);
  check_backoff(ctx, draft);
}

}  // namespace inboxd::config::detail
