#pragma once
// Outcomes: where a finished job's file goes (PRODUCT.md "File lifecycle" 5).
//
// Nothing in done_dir or failed_dir is ever overwritten: a name that is taken
// gets a suffix before its extension (report.pdf, report~1.pdf, report~2.pdf),
// and the move itself refuses to replace (renameat2 RENAME_NOREPLACE, link +
// unlink where the filesystem lacks it, an O_EXCL copy across filesystems), so
// even a file dropped there by a person between the check and the move is safe.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "daemon/queue/queue_store.hpp"

namespace inboxd::app {

// "report.pdf", 1 -> "report~1.pdf"; "README", 2 -> "README~2".
std::string suffixed_name(std::string_view name, int n);

// A name for rel in dest_dir that is free now, creating rel's folders: the
// name itself, else name~1, name~2, ... With `with_report`, the name's
// "<name>.error.txt" must be free too.
Result<std::filesystem::path> free_destination(const std::filesystem::path& dest_dir,
                                               std::string_view rel, bool with_report);

// Moves without ever replacing; Error::code is EEXIST when `to` is taken.
Result<void> move_no_replace(const std::filesystem::path& from, const std::filesystem::path& to);

// Moves `from` to dest_dir/rel without replacing anything, creating the
// folders of rel as needed. With `with_report`, the chosen name is one whose
// "<name>.error.txt" is free too. Returns the file's final absolute path.
Result<std::filesystem::path> move_into(const std::filesystem::path& from,
                                        const std::filesystem::path& dest_dir, std::string_view rel,
                                        bool with_report);

// The readable failure report written beside a failed file.
std::string format_error_report(const queue::Job& job, const std::vector<queue::Attempt>& attempts,
                                std::string_view reason);

// Writes `text` to `file` only if it does not exist yet, fsynced; readers
// see the whole file or none (where the filesystem has O_TMPFILE).
Result<void> write_new_file(const std::filesystem::path& file, std::string_view text);
// write(2) until all of `text` is written; errors name `file`.
Result<void> write_all(int fd, std::string_view text, const std::filesystem::path& file);

}  // namespace inboxd::app
