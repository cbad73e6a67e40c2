#pragma once
// The filesystem work an Inbox hands to its FolderWorker: each task is a
// plain function from values to values, runs on the worker thread, and knows
// nothing of the queue or the loop. The Inbox decides, the tasks touch the
// folder.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"
#include "common/result.hpp"
#include "daemon/queue/queue_store.hpp"
#include "watcher/file_info.hpp"
#include "watcher/filesystem.hpp"

namespace inboxd::app {

// The inbox's own folders inside the drop folder (spool, done, failed) can be
// renamed by anyone who may write there and replaced by a symlink that would
// lead files out of the inbox. Every component between `inbox` and `dir` must
// be a real folder (a missing one is fine: it is created as a real one).
// Folders outside the inbox are the administrator's choice, not checked.
Result<void> check_own_folder(const std::filesystem::path& inbox, const std::filesystem::path& dir);

// --- Opening the drop folder -------------------------------------------------

struct OpenRequest {
  std::filesystem::path path;
  std::vector<std::filesystem::path> own_dirs;  // spool, done, failed: created as needed
  std::filesystem::path spool;                  // made private (0700)
  // The folder was opened before (its `.inboxd` was made then): a folder
  // without it now is an unmounted share's empty mountpoint, not an inbox
  // whose files are all gone.
  bool expect_marker = false;
};
struct OpenResult {
  std::optional<std::string> error;  // unavailable, and why
  std::optional<watcher::Filesystem> filesystem;
};
// Checks the drop folder and creates the daemon's own folders in it. Never
// creates the drop folder itself: a missing mount must not be papered over.
OpenResult open_drop_folder(const OpenRequest& request);

// --- Scans and stats -----------------------------------------------------------

struct ScanResult {
  std::optional<Error> error;
  std::vector<watcher::FileInfo> files;
  MonoClock::duration took{};
};
ScanResult scan_folder(const std::filesystem::path& root, const std::string& rel_dir,
                       bool recursive, const std::vector<std::string>& skip_rels);

// A fresh lstat per rel: nullopt when it is gone or no longer a regular file.
using StatResults = std::vector<std::pair<std::string, std::optional<watcher::FileInfo>>>;
StatResults stat_files(const std::filesystem::path& root, const std::vector<std::string>& rels);

// Whether `dir` is a folder with nothing in it: one open and two reads of
// its entries, where std::filesystem takes seven calls. Anything that fails
// counts as not empty.
bool folder_is_empty(const std::filesystem::path& dir);

// --- Claims: step 2, the renames into the spool ------------------------------

// Empty spool folders kept for reuse are named .free-<id of the job that left
// them>: never a number, so no survey takes them for a job's folder.
inline constexpr std::string_view kFreeFolderPrefix = ".free-";

// A spool folder is named after the first job whose file it took; the files
// claimed after it join it (a mkdir costs several times a rename) until one
// of its files leaves the spool, so a folder spool/<F> holds files of jobs
// F to F + kSpoolFolderSpan - 1 only, each under a name of its own. The
// spool survey relies on this to find a file's job without an index on
// paths.
inline constexpr std::int64_t kSpoolFolderSpan = 1000;

struct SpoolMove {
  std::filesystem::path from;
  std::filesystem::path target;  // spool/<folder id>/<name>
  // The target's folder exists already, made by an earlier move of this
  // batch or of an earlier one: the file is renamed into it, never over a
  // file there (RENAME_NOREPLACE, so local filesystems only), and fails with
  // the making move's error when this batch could not make it. Otherwise
  // the folder is made for this move and must be new.
  bool joins_folder = false;
  // An empty spool folder left by a finished job (spool/.free-<id>), renamed
  // to the target's folder instead of making a new one: a rename of a folder
  // costs a few microseconds, a mkdir and its later rmdir far more. Local
  // filesystems only.
  std::optional<std::filesystem::path> reuse;
};
struct SpoolMoveResult {
  bool moved = false;
  int error_code = 0;  // errno of a failed rename
  std::string error;   // its message
  // Not moved, but the file is still where it was: its target (or the
  // folder it was to join) was taken or gone. Claim it again, under a new id.
  bool retry = false;
  std::string replaced_by;  // moved, but it is not a regular file now ("a symlink")
};
struct ClaimMoves {
  std::optional<std::string> refused;    // the spool itself is not safe: nothing moved
  std::vector<SpoolMoveResult> results;  // one per move, in order
};
ClaimMoves move_into_spool(const std::filesystem::path& inbox, const std::filesystem::path& spool,
                           const std::vector<SpoolMove>& moves,
                           const std::vector<std::filesystem::path>& remove_dirs);

// Whether a spooled file is there before its handler starts. `spool_gone`:
// the whole spool is missing (a share that is not mounted), not just a file.
struct SpoolCheck {
  bool present = true;
  bool spool_gone = false;
};
SpoolCheck check_spooled(const std::filesystem::path& file, const std::filesystem::path& spool);

// --- Start-up: what the spool holds ---------------------------------------------

struct SpoolSurvey {
  std::vector<bool> pending_present;  // per pending claim target, in order
  struct Folder {
    std::int64_t id = 0;  // spool/<id>
    std::filesystem::path path;
    std::vector<std::pair<std::string, std::int64_t>> files;  // name, size
  };
  std::vector<Folder> folders;
  std::vector<std::int64_t> free_folders;  // ids of spool/.free-<id> folders, to reuse
};
// Reads the spool. Empty folders kept for reuse beyond the first
// `keep_free` are removed.
SpoolSurvey survey_spool(const std::filesystem::path& spool,
                         const std::vector<std::filesystem::path>& pending_targets,
                         std::size_t keep_free);

// --- Outcomes -------------------------------------------------------------------

struct PlaceRequest {
  std::filesystem::path inbox;
  std::filesystem::path from;                     // the spooled file
  std::optional<std::filesystem::path> dest_dir;  // nullopt: delete the file
  std::string rel;
  bool failed = false;  // write a report beside it
  queue::Job job;       // for the report
  std::vector<queue::Attempt> attempts;
  std::string reason;
  // Where to keep the spool folder for a later claim once it is empty (see
  // SpoolMove::reuse); nullopt: remove it. A folder that other files still
  // share stays where it is either way.
  std::optional<std::filesystem::path> keep_folder_as;
  // Other files of this run are still in the spool folder: it is not
  // removed (nor kept) now, and not even tried.
  bool folder_shared = false;
};
struct PlaceResult {
  std::optional<std::filesystem::path> final_path;  // where the file is now; nullopt: deleted
  std::optional<std::string> error;                 // it stays where it was
  bool source_missing = false;
  std::optional<std::filesystem::path> kept_folder;  // keep_folder_as, when it worked
};
// Moves a finished job's file out of the spool to dest_dir/rel under a free
// name (or deletes it), and writes the report beside a failed one.
PlaceResult place_outcome(const PlaceRequest& request);
// place_outcome for each request in order; a destination folder is checked
// (not a symlink, a folder) once for all of them.
std::vector<PlaceResult> place_outcomes(const std::vector<PlaceRequest>& requests);

// Admin retry: takes a failed file back into the spool and removes its report.
struct TakeBack {
  bool ok = false;
  std::string error;
};
TakeBack take_back(const std::filesystem::path& from, const std::filesystem::path& target);

}  // namespace inboxd::app
