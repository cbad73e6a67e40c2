#include "daemon/config/paths.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "daemon/config/value_readers.hpp"

namespace inboxd::config::detail {

std::filesystem::path resolve_path(const std::filesystem::path& base_dir, std::string_view text) {
  std::filesystem::path path = (base_dir / std::filesystem::path(text)).lexically_normal();
  if (path.has_relative_path() && !path.has_filename()) path = path.parent_path();
  return path;
}

bool is_within(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  auto inner_it = inner.begin();
  for (const auto& component : outer) {
    if (inner_it == inner.end() || *inner_it != component) return false;
    ++inner_it;
  }
  return true;
}

std::string_view first_entry(std::string_view list) { return list.substr(0, list.find(':')); }

Result<std::filesystem::path> find_in_path(std::string_view name, std::string_view search_path) {
  std::size_t start = 0;
  while (start <= search_path.size()) {
    const std::size_t end = std::min(search_path.find(':', start), search_path.size());
    const std::filesystem::path dir(search_path.substr(start, end - start));
    start = end + 1;
    if (!dir.is_absolute()) continue;
    const std::filesystem::path candidate = (dir / std::filesystem::path(name)).lexically_normal();
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return fail(fmt::format("{} not found in PATH", quote_value(name)));
}

std::optional<std::filesystem::path> read_path(Diagnostics& diag, const Entry& entry,
                                               const std::filesystem::path& base_dir) {
  auto text = read_string(diag, entry, "a path");
  if (!text) return std::nullopt;
  if (text->empty()) {
    diag.error(entry, "must not be empty");
    return std::nullopt;
  }
  if (text->starts_with("~/")) {
    diag.error(entry,
               fmt::format("{}: \"~\" is not expanded; write the full path", quote_value(*text)));
    return std::nullopt;
  }
  return resolve_path(base_dir, *text);
}

}  // namespace inboxd::config::detail
