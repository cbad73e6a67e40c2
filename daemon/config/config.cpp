#include "daemon/config/config.hpp"

#include <fcntl.h>
#include <grp.h>
#include <unistd.h>

#include <fmt/format.h>

#include <yaml-cpp/yaml.h>
#include <array>
#include <cstdlib>

#include "common/sys_error.hpp"
#include "common/unique_fd.hpp"
#include "daemon/config/diagnostics.hpp"
#include "daemon/config/inbox_keys.hpp"
#include "daemon/config/paths.hpp"
#include "daemon/config/value_readers.hpp"
#include "daemon/config/yaml_document.hpp"

namespace inboxd::config {
namespace {

using detail::Diagnostics;
using detail::Entry;
using detail::InboxDraft;
using detail::ReadContext;

constexpr std::string_view kDefaultStateDir = "/var/lib/inboxd";

// A configuration file larger than this is not a configuration file (think
// `--config /dev/zero`); reading stops instead of exhausting memory.
constexpr std::size_t kMaxFileBytes = 4 << 20;

// The top level while it is being read. `defaults` and `inboxes` are kept
// aside and read after every other key, whatever their order in the file.
struct TopDraft {
  Config config;
  std::optional<Entry> state_dir;
  std::optional<Entry> socket;
  std::optional<Entry> defaults;
  std::optional<Entry> inboxes;
};

using TopReader = void (*)(ReadContext&, const Entry&, TopDraft&);

struct TopKey {
  std::string_view name;
  TopReader read;
};

constexpr std::array<detail::Choice<std::string_view>, 5> kLogLevels = {{{"trace", "trace"},
                                                                         {"debug", "debug"},
                                                                         {"info", "info"},
                                                                         {"warn", "warn"},
                                                                         {"error", "error"}}};
constexpr std::array<detail::Choice<LogFormat>, 2> kLogFormats = {
    {{"text", LogFormat::kText}, {"json", LogFormat::kJson}}};

void read_state_dir(ReadContext& ctx, const Entry& entry, TopDraft& top) {
  top.state_dir = entry;
  if (auto path = detail::read_path(ctx.diag, entry, ctx.base_dir)) top.config.state_dir = *path;
}

void read_socket(ReadContext& ctx, const Entry& entry, TopDraft& top) {
  top.socket = entry;
  if (auto path = detail::read_path(ctx.diag, entry, ctx.base_dir)) top.config.socket = *path;
}

// "0660", 660 or "0o660": octal digits, whatever way YAML hands them over.
void read_socket_mode(ReadContext& ctx, const Entry& entry, TopDraft& top) {
  auto text = detail::read_string(ctx.diag, entry, "an octal mode like \"0660\"");
  if (!text) return;
  std::string_view digits = *text;
  if (digits.starts_with("0o")) digits.remove_prefix(2);
  const bool octal = !digits.empty() && digits.size() <= 12 &&
                     digits.find_first_not_of("01234567") == std::string_view::npos;
  if (!octal) {
    ctx.diag.error(
        entry, fmt::format("{} is not an octal mode like \"0660\"", detail::quote_value(*text)));
    return;
  }
  const unsigned long mode = std::strtoul(std::string(digits).c_str(), nullptr, 8);
  if (mode > 0777) {
    ctx.diag.error(entry, fmt::format("{} is out of range (permission bits, at most 0777)",
                                      detail::quote_value(*text)));
    return;
  }
  top.config.socket_mode = static_cast<unsigned>(mode);
}

// Whether a group exists. Unlike everything else, this looks outside the
// file: an admin group that does not exist is a typo that would otherwise
// lock the administrators out without a word.
Result<bool> group_exists(const std::string& name) {
  std::vector<char> buffer(1024);
  for (;;) {
    struct group entry {};
    struct group* found = nullptr;
    const int err = ::getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (err == ERANGE && buffer.size() < (1U << 20)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    if (err != 0) return fail_errno("look up group", name, err);
    return found != nullptr;
  }
}

void read_admin_groups(ReadContext& ctx, const Entry& entry, TopDraft& top) {
  auto groups = detail::read_string_list(ctx.diag, entry, "group names", true);
  if (!groups) return;
  const std::vector<Entry> elements = entry.elements();
  bool ok = true;
  for (std::size_t i = 0; i < groups->size(); ++i) {
    auto exists = group_exists((*groups)[i]);
    if (!exists || !*exists) {
      ctx.diag.error(elements[i],
                     exists ? fmt::format("no such group {}", detail::quote_value((*groups)[i]))
                            : exists.error().message);
      ok = false;
    }
  }
  if (ok) top.config.admin_groups = std::move(*groups);
}

void read_log_level(ReadContext& ctx, const Entry& entry, TopDraft& top) {
  if (auto level = detail::read_choice(ctx.diag, entry, kLogLevels))
    top.config.log_level = std::string(*level);
}

void read_log_format(ReadContext& ctx, const Entry& entry, TopDraft& top) {
  if (auto format = detail::read_choice(ctx.diag, entry, kLogFormats))
    top.config.log_format = *format;
}

void read_shutdown_grace(ReadContext& ctx, const Entry& entry, TopDraft& top) {
  if (auto grace = detail::read_duration(ctx.diag, entry)) top.config.shutdown_grace = *grace;
}

// An explicit null (`metrics_file: ~`) means none, like leaving the key out.
void read_metrics_file(ReadContext& ctx, const Entry& entry, TopDraft& top) {
  if (entry.value.IsNull()) return;
  if (auto path = detail::read_path(ctx.diag, entry, ctx.base_dir)) top.config.metrics_file = *path;
}

void keep_defaults(ReadContext& ctx, const Entry& entry, TopDraft& top) {
  if (detail::expect_mapping(ctx.diag, entry)) top.defaults = entry;
}

void keep_inboxes(ReadContext& ctx, const Entry& entry, TopDraft& top) {
  if (!entry.value.IsSequence()) {
    ctx.diag.error(
        entry, fmt::format("expected a list of inboxes, got {}", detail::describe(entry.value)));
  } else if (entry.value.size() == 0) {
    ctx.diag.error(entry, "must list at least one inbox");
  }
  top.inboxes = entry;
}

constexpr auto kTopKeys = std::to_array<TopKey>({
    {"state_dir", read_state_dir},
    {"socket", read_socket},
    {"socket_mode", read_socket_mode},
    {"admin_groups", read_admin_groups},
    {"log_level", read_log_level},
    {"log_format", read_log_format},
    {"shutdown_grace", read_shutdown_grace},
    {"metrics_file", read_metrics_file},
    {"defaults", keep_defaults},
    {"inboxes", keep_inboxes},
});

constexpr auto kTopKeyNames = detail::key_names(kTopKeys);

void apply_directory_defaults(const ReadContext& ctx, TopDraft& top) {
  Config& config = top.config;
  if (!top.state_dir) {
    std::string_view dir =
        ctx.env.state_directory ? detail::first_entry(*ctx.env.state_directory) : "";
    config.state_dir = detail::resolve_path(ctx.base_dir, dir.empty() ? kDefaultStateDir : dir);
  }
  if (!top.socket) {
    std::string_view dir =
        ctx.env.runtime_directory ? detail::first_entry(*ctx.env.runtime_directory) : "";
    config.socket = dir.empty() ? config.state_dir / "inboxd.sock"
                                : detail::resolve_path(ctx.base_dir, dir) / "inboxd.sock";
  }
}

std::vector<InboxDraft> read_inboxes(ReadContext& ctx, const TopDraft& top) {
  InboxDraft base;
  if (top.defaults) detail::read_inbox_keys(ctx, *top.defaults, base, true);
  std::vector<InboxDraft> drafts;
  if (!top.inboxes || !top.inboxes->value.IsSequence()) return drafts;
  for (const Entry& item : top.inboxes->elements()) {
    // An item that is not a mapping keeps its place (indexes name inboxes in
    // messages) but stays empty, so it takes no part in the checks across inboxes.
    InboxDraft draft;
    if (detail::expect_mapping(ctx.diag, item)) {
      draft = base;
      detail::read_inbox_keys(ctx, item, draft, false);
      detail::finish_inbox(ctx, item, draft);
    }
    drafts.push_back(std::move(draft));
  }
  return drafts;
}

// "inboxes[0] (scans)", for messages that point from one inbox to another.
std::string label(std::size_t index, const InboxDraft& draft) {
  if (draft.config.name.empty()) return fmt::format("inboxes[{}]", index);
  return fmt::format("inboxes[{}] ({})", index, draft.config.name);
}

void report_at(ReadContext& ctx, const InboxDraft& draft, std::string_view key,
               std::string_view message) {
  if (const detail::Origin* origin = draft.origin(key))
    ctx.diag.error(origin->mark, origin->key, message);
}

void check_names(ReadContext& ctx, const std::vector<InboxDraft>& drafts) {
  std::map<std::string, std::size_t, std::less<>> first;
  for (std::size_t i = 0; i < drafts.size(); ++i) {
    const std::string& name = drafts[i].config.name;
    if (name.empty()) continue;
    auto [it, inserted] = first.emplace(name, i);
    if (!inserted) {
      report_at(ctx, drafts[i], "name",
                fmt::format("{} is already the name of inboxes[{}]", detail::quote_value(name),
                            it->second));
    }
  }
}

// Why inbox `later` may not sit where it does, given inbox `earlier`: one
// folder watched twice, or files claimed by two inboxes through recursion.
std::optional<std::string> path_clash(std::size_t earlier_index, const InboxDraft& earlier,
                                      const InboxDraft& later) {
  const InboxConfig& a = earlier.config;
  const InboxConfig& b = later.config;
  const std::string other = label(earlier_index, earlier);
  if (a.path == b.path) return fmt::format("{} is already the path of {}", b.path.string(), other);
  if (a.recursive && detail::is_within(b.path, a.path)) {
    return fmt::format("{} lies inside {}, which is recursive", b.path.string(), other);
  }
  if (b.recursive && detail::is_within(a.path, b.path)) {
    return fmt::format("{} is recursive and contains the path of {}", b.path.string(), other);
  }
  return std::nullopt;
}

void check_paths(ReadContext& ctx, const std::vector<InboxDraft>& drafts) {
  for (std::size_t j = 0; j < drafts.size(); ++j) {
    for (std::size_t i = 0; i < j; ++i) {
      if (drafts[i].config.path.empty() || drafts[j].config.path.empty()) continue;
      if (auto clash = path_clash(i, drafts[i], drafts[j])) {
        report_at(ctx, drafts[j], "path", *clash);
        break;
      }
    }
  }
}

// The queue database must not sit in a drop folder, where it would be
// claimed as a file (or, on a share, be on a network filesystem).
void check_state_dir(ReadContext& ctx, const TopDraft& top, const std::vector<InboxDraft>& drafts) {
  const std::filesystem::path& state_dir = top.config.state_dir;
  for (std::size_t i = 0; i < drafts.size(); ++i) {
    const std::filesystem::path& path = drafts[i].config.path;
    if (path.empty() || state_dir.empty() || !detail::is_within(state_dir, path)) continue;
    if (top.state_dir) {
      ctx.diag.error(*top.state_dir, fmt::format("{} lies inside the folder of {}",
                                                 state_dir.string(), label(i, drafts[i])));
    } else {
      report_at(ctx, drafts[i], "path",
                fmt::format("{} contains the state directory {} (set state_dir elsewhere)",
                            path.string(), state_dir.string()));
    }
  }
}

void read_document(ReadContext& ctx, const YAML::Node& root, TopDraft& top) {
  const std::vector<Entry> entries =
      ctx.diag.entries(root, "", kTopKeyNames, detail::inbox_key_names(),
                       "inbox keys go under defaults or inside an inbox");
  for (const Entry& entry : entries) {
    for (const TopKey& row : kTopKeys) {
      if (row.name == entry.name) row.read(ctx, entry, top);
    }
  }
  if (!top.inboxes) ctx.diag.error(root.Mark(), "inboxes", "required key is missing");
  apply_directory_defaults(ctx, top);
  std::vector<InboxDraft> drafts = read_inboxes(ctx, top);
  check_names(ctx, drafts);
  check_paths(ctx, drafts);
  check_state_dir(ctx, top, drafts);
  for (InboxDraft& draft : drafts) top.config.inboxes.push_back(std::move(draft.config));
}

std::filesystem::path absolute_file(const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(file, ec);
  return (ec ? file : absolute).lexically_normal();
}

Result<std::string> read_file(const std::filesystem::path& file) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return fail(fmt::format("cannot read: {}", errno_text(errno)), errno);
  std::string text;
  char buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(fmt::format("cannot read: {}", errno_text(errno)), errno);
    if (n == 0) return text;
    text.append(buffer, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileBytes)
      return fail("cannot read: larger than 4 MiB, not a configuration file");
  }
}

}  // namespace

ConfigError::ConfigError(std::vector<std::string> messages)
    : std::runtime_error(fmt::format("{}", fmt::join(messages, "\n"))),
      messages_(std::move(messages)) {}

const InboxConfig* Config::find_inbox(std::string_view name) const {
  for (const InboxConfig& inbox : inboxes) {
    if (inbox.name == name) return &inbox;
  }
  return nullptr;
}

Environment Environment::from_process() {
  auto get = [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  return Environment{get("STATE_DIRECTORY"), get("RUNTIME_DIRECTORY"), get("PATH")};
}

Config parse_config(std::string_view yaml, const std::filesystem::path& file,
                    const Environment& env) {
  Diagnostics diag(file.string());
  TopDraft top;
  top.config.file = absolute_file(file);
  ReadContext ctx{diag, top.config.file.parent_path(), env};
  try {
    if (auto root = detail::load_document(diag, yaml)) read_document(ctx, *root, top);
  } catch (const YAML::Exception& e) {
    // The readers check every node's shape before use, so this is a safety
    // net: a yaml-cpp surprise becomes one more message, never a crash.
    diag.error(e.mark, "", e.msg);
  }
  if (!diag.empty()) throw ConfigError(diag.messages());
  return std::move(top.config);
}

Config load_config(const std::filesystem::path& file, const Environment& env) {
  auto text = read_file(file);
  if (!text) throw ConfigError({fmt::format("{}: {}", file.string(), text.error().message)});
  return parse_config(*text, file, env);
}

}  // namespace inboxd::config
