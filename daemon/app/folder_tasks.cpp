#include "daemon/app/folder_tasks.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>

#include "common/sys_error.hpp"
#include "common/unique_fd.hpp"
#include "daemon/app/outcome.hpp"

namespace inboxd::app {

namespace fs = std::filesystem;

Result<void> check_own_folder(const fs::path& inbox, const fs::path& dir) {
  auto rel = dir.lexically_relative(inbox);
  if (rel.empty() || *rel.begin() == "..") return {};
  auto path = inbox;
  for (const auto& part : rel) {
    path /= part;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return {};
    if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode)) {
      return fail(path.string() + " is " + (S_ISLNK(st.st_mode) ? "a symlink" : "not a folder") +
                  ": replaced by someone, not used");
    }
  }
  return {};
}

OpenResult open_drop_folder(const OpenRequest& request) {
  OpenResult result;
  const auto& path = request.path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    result.error = errno_text(errno);
    return result;
  }
  if (!S_ISDIR(st.st_mode)) {
    result.error = "not a directory";
    return result;
  }
  if (::access(path.c_str(), R_OK | W_OK | X_OK) != 0) {
    result.error = errno_text(errno);
    return result;
  }
  if (auto fs = watcher::filesystem_of(path)) result.filesystem = *fs;
  struct stat marker {};
  if (request.expect_marker && ::lstat((path / ".inboxd").c_str(), &marker) != 0) {
    result.error =
        "the folder was used before but has no .inboxd folder now: is the share "
        "mounted? (files are not taken for gone; if the folder really is new, create " +
        (path / ".inboxd").string() + ")";
    return result;
  }
  for (const auto& dir : request.own_dirs) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      result.error = "mkdir " + dir.string() + ": " + ec.message();
      return result;
    }
  }
  ::chmod(request.spool.c_str(), 0700);
  return result;
}

ScanResult scan_folder(const fs::path& root, const std::string& rel_dir, bool recursive,
                       const std::vector<std::string>& skip_rels) {
  ScanResult result;
  auto started = mono_now();
  auto files =
      watcher::scan_directory(root, rel_dir, recursive, [&skip_rels](std::string_view rel) {
        return std::find(skip_rels.begin(), skip_rels.end(), rel) != skip_rels.end();
      });
  result.took = mono_now() - started;
  if (files) {
    result.files = std::move(*files);
  } else {
    result.error = files.error();
  }
  return result;
}

StatResults stat_files(const fs::path& root, const std::vector<std::string>& rels) {
  StatResults results;
  results.reserve(rels.size());
  auto infos = watcher::stat_entries(root, rels);
  for (std::size_t i = 0; i < rels.size(); ++i) {
    const auto& info = infos[i];
    results.emplace_back(rels[i], info && *info ? std::optional(**info) : std::nullopt);
  }
  return results;
}

bool folder_is_empty(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return false;
  alignas(struct dirent64) char buf[4096];
  for (;;) {
    ssize_t got = ::getdents64(fd.get(), buf, sizeof buf);
    if (got < 0) return false;
    if (got == 0) return true;
    for (ssize_t at = 0; at < got;) {
      const auto* entry = reinterpret_cast<const struct dirent64*>(buf + at);
      std::string_view name(entry->d_name);
      if (name != "." && name != "..") return false;
      at += entry->d_reclen;
    }
  }
}

namespace {

// Makes a move's spool folder, from a kept empty folder when there is one.
// Never over an existing folder (RENAME_NOREPLACE; mkdir refuses by itself).
Result<void> make_spool_folder(const SpoolMove& move) {
  auto folder = move.target.parent_path();
  if (move.reuse &&
      ::renameat2(AT_FDCWD, move.reuse->c_str(), AT_FDCWD, folder.c_str(), RENAME_NOREPLACE) == 0) {
    return {};
  }
  if (::mkdir(folder.c_str(), 0700) != 0) return fail_errno("mkdir", folder.string());
  return {};
}

// Moves one file into its spool folder, `folder` being how making that
// folder went. A folder that existed already (left by a job whose row a
// power loss took, or by an older copy of the database) is never used, so
// no claim can put a file beside one waiting there to be adopted.
SpoolMoveResult move_one(const SpoolMove& move, const Result<void>& folder) {
  SpoolMoveResult result;
  if (!folder) {
    result.error_code = folder.error().code;
    result.error = folder.error().message;
    result.retry = result.error_code == EEXIST;
    return result;
  }
  int rc = move.joins_folder ? ::renameat2(AT_FDCWD, move.from.c_str(), AT_FDCWD,
                                           move.target.c_str(), RENAME_NOREPLACE)
                             : ::rename(move.from.c_str(), move.target.c_str());
  if (rc != 0) {
    result.error_code = errno;
    result.error = sys_error("rename", move.from.string(), result.error_code).message;
    struct stat st {};
    result.retry = result.error_code == EEXIST ||
                   (move.joins_folder && ::lstat(move.target.parent_path().c_str(), &st) != 0);
    return result;
  }
  result.moved = true;
  // The name may have been swapped for something else since it was
  // examined (a symlink to a secret, a FIFO): the rename moved that thing
  // itself, never what it points to.
  struct stat st {};
  if (::lstat(move.target.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    result.replaced_by = S_ISLNK(st.st_mode)   ? "a symlink"
                         : S_ISDIR(st.st_mode) ? "a folder"
                                               : "a special file";
  }
  return result;
}

}  // namespace

// Each move that does not join a folder makes one; a folder made here that
// took no file is removed again once its last move has been tried.
ClaimMoves move_into_spool(const fs::path& inbox, const fs::path& spool,
                           const std::vector<SpoolMove>& moves,
                           const std::vector<fs::path>& remove_dirs) {
  ClaimMoves result;
  if (auto safe = check_own_folder(inbox, spool); !safe) {
    result.refused = safe.error().message;
    result.results.resize(moves.size());
    return result;
  }
  result.results.reserve(moves.size());
  Result<void> folder;               // a folder joined first was made by an earlier batch
  std::optional<fs::path> unfilled;  // made here, and no file in it yet
  for (const auto& move : moves) {
    if (!move.joins_folder) {
      if (unfilled) ::rmdir(unfilled->c_str());
      unfilled.reset();
      folder = make_spool_folder(move);
      if (folder) unfilled = move.target.parent_path();
    }
    result.results.push_back(move_one(move, folder));
    if (result.results.back().moved) unfilled.reset();
  }
  if (unfilled) ::rmdir(unfilled->c_str());
  for (const auto& dir : remove_dirs) ::rmdir(dir.c_str());
  return result;
}

SpoolCheck check_spooled(const fs::path& file, const fs::path& spool) {
  SpoolCheck check;
  struct stat st {};
  if (::lstat(file.c_str(), &st) == 0 || errno != ENOENT) return check;
  check.present = false;
  check.spool_gone = ::lstat(spool.c_str(), &st) != 0;
  return check;
}

namespace {

// The id of a folder named `prefix` followed by digits only.
std::optional<std::int64_t> id_after(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix)) return std::nullopt;
  name.remove_prefix(prefix.size());
  std::int64_t id = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc() || end != name.data() + name.size() || name.empty()) return std::nullopt;
  return id;
}

}  // namespace

SpoolSurvey survey_spool(const fs::path& spool, const std::vector<fs::path>& pending_targets,
                         std::size_t keep_free) {
  SpoolSurvey survey;
  for (const auto& target : pending_targets) {
    struct stat st {};
    survey.pending_present.push_back(::lstat(target.c_str(), &st) == 0);
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(spool, ec)) {
    auto name = entry.path().filename().string();
    if (auto free_id = id_after(name, kFreeFolderPrefix)) {
      if (survey.free_folders.size() < keep_free) {
        survey.free_folders.push_back(*free_id);
      } else {
        ::rmdir(entry.path().c_str());
      }
      continue;
    }
    auto id = id_after(name, "");
    if (!id) continue;
    SpoolSurvey::Folder folder{*id, entry.path(), {}};
    std::error_code list_ec;
    for (const auto& file : fs::directory_iterator(entry.path(), list_ec)) {
      struct stat st {};
      if (::lstat(file.path().c_str(), &st) != 0) continue;
      folder.files.emplace_back(file.path().filename().string(),
                                static_cast<std::int64_t>(st.st_size));
    }
    survey.folders.push_back(std::move(folder));
  }
  return survey;
}

namespace {

// Moves the file to a free name in dest_dir; should someone take the name
// between the choice and the move, the next free one is taken.
// check_own_folder of a destination, once per batch (`checked`).
Result<void> check_destination(const PlaceRequest& request, const fs::path& dest_dir,
                               std::set<fs::path>& checked) {
  if (checked.contains(dest_dir)) return {};
  if (auto safe = check_own_folder(request.inbox, dest_dir); !safe) return safe;
  checked.insert(dest_dir);
  return {};
}

Result<fs::path> move_to_destination(const PlaceRequest& request, const fs::path& dest_dir,
                                     std::set<fs::path>& checked) {
  if (auto safe = check_destination(request, dest_dir, checked); !safe) return fail(safe.error());
  auto dest = free_destination(dest_dir, request.rel, request.failed);
  if (!dest) return fail(dest.error());
  if (auto moved = move_no_replace(request.from, *dest); moved) return *dest;
  return move_into(request.from, dest_dir, request.rel, request.failed);
}

// Most done files land under their own name: one rename, with no look at
// either end first (it never replaces anything; anything else it meets
// takes the full path in place_one). Failed files need a free name for
// their report too, so they always take the full path.
bool moved_under_own_name(const PlaceRequest& request, std::set<fs::path>& checked) {
  if (!request.dest_dir || request.failed) return false;
  if (!check_destination(request, *request.dest_dir, checked)) return false;
  auto dest = *request.dest_dir / fs::path(request.rel);
  return ::renameat2(AT_FDCWD, request.from.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) == 0;
}

PlaceResult place_one(const PlaceRequest& request, std::set<fs::path>& checked) {
  PlaceResult result;
  result.final_path = request.from;
  struct stat st {};
  if (moved_under_own_name(request, checked)) {
    result.final_path = *request.dest_dir / fs::path(request.rel);
  } else if (::lstat(request.from.c_str(), &st) != 0 && errno == ENOENT) {
    // Moved already (a crash came before the move was recorded): only the
    // job's spool folder is left to remove.
    result.source_missing = true;
    result.error = sys_error("lstat", request.from.string(), ENOENT).message;
    ::rmdir(request.from.parent_path().c_str());
    return result;
  } else if (!request.dest_dir) {
    if (::unlink(request.from.c_str()) != 0 && errno != ENOENT) {
      result.error = sys_error("unlink", request.from.string()).message;
      return result;
    }
    result.final_path.reset();
  } else {
    auto moved = move_to_destination(request, *request.dest_dir, checked);
    if (!moved) {
      result.error = moved.error().message + " (the file stays in the spool)";
      return result;
    }
    result.final_path = *moved;
  }
  // No claim joins a folder once a move out of it is posted (the Inbox
  // closes its open folder first), and take-backs run on this thread too:
  // an empty folder stays empty between the look and the rename. rmdir
  // refuses a folder that other files still share.
  auto folder = request.from.parent_path();
  if (request.keep_folder_as && folder_is_empty(folder) &&
      ::renameat2(AT_FDCWD, folder.c_str(), AT_FDCWD, request.keep_folder_as->c_str(),
                  RENAME_NOREPLACE) == 0) {
    result.kept_folder = request.keep_folder_as;
  } else if (!request.folder_shared) {
    ::rmdir(folder.c_str());
  }
  if (!request.failed || !result.final_path) return result;
  auto job = request.job;
  job.path = result.final_path->string();
  auto report = format_error_report(job, request.attempts, request.reason);
  if (auto written = write_new_file(result.final_path->string() + ".error.txt", report); !written) {
    result.error = "report not written: " + written.error().message;
  }
  return result;
}

}  // namespace

PlaceResult place_outcome(const PlaceRequest& request) {
  std::set<fs::path> checked;
  return place_one(request, checked);
}

std::vector<PlaceResult> place_outcomes(const std::vector<PlaceRequest>& requests) {
  std::set<fs::path> checked;
  std::vector<PlaceResult> placed;
  placed.reserve(requests.size());
  for (const auto& request : requests) placed.push_back(place_one(request, checked));
  return placed;
}

TakeBack take_back(const fs::path& from, const fs::path& target) {
  TakeBack result;
  if (from == target) {  // never placed (a failed move): it is in the spool already
    result.ok = true;
    return result;
  }
  ::mkdir(target.parent_path().c_str(), 0700);
  if (auto moved = move_no_replace(from, target); !moved) {
    ::rmdir(target.parent_path().c_str());
    result.error = moved.error().message;
    return result;
  }
  ::unlink((from.string() + ".error.txt").c_str());
  result.ok = true;
  return result;
}

}  // namespace inboxd::app
