#include "daemon/app/outcome.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/sys_error.hpp"
#include "common/unique_fd.hpp"
#include "daemon/config/command_template.hpp"
#include "daemon/runner/handler_process.hpp"

namespace inboxd::app {
namespace {

namespace fs = std::filesystem;

bool exists_nofollow(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// Copies from -> to where to must not exist; used only across filesystems.
Result<void> copy_exclusive(const fs::path& from, const fs::path& to) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in.valid()) return fail_errno("open", from.string());
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return fail_errno("fstat", from.string());
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 0777));
  if (!out.valid()) return fail_errno("create", to.string());
  off_t offset = 0;
  while (offset < st.st_size) {
    auto sent = ::sendfile(out.get(), in.get(), &offset, static_cast<size_t>(st.st_size - offset));
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) {
      int err = sent < 0 ? errno : EIO;
      ::unlink(to.c_str());
      return fail_errno("copy to", to.string(), err);
    }
  }
  if (::fsync(out.get()) != 0) {
    int err = errno;
    ::unlink(to.c_str());
    return fail_errno("fsync", to.string(), err);
  }
  if (::unlink(from.c_str()) != 0) return fail_errno("unlink", from.string());
  return {};
}

}  // namespace

Result<void> move_no_replace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return {};
  int err = errno;
  if (err == EINVAL || err == ENOSYS || err == EPERM) {
    // Filesystems without RENAME_NOREPLACE (some network ones): link refuses
    // to replace too.
    if (::link(from.c_str(), to.c_str()) == 0) {
      ::unlink(from.c_str());
      return {};
    }
    err = errno;
  }
  if (err == EXDEV) return copy_exclusive(from, to);
  return fail_errno("rename " + from.string() + " to", to.string(), err);
}

namespace {

std::string attempt_line(const queue::Attempt& a) {
  std::string status;
  if (a.timed_out) {
    status = "timed out";
    if (a.signal) status += ", killed by " + *a.signal;
  } else if (a.exit_code) {
    status = fmt::format("exit code {}", *a.exit_code);
  } else if (a.signal) {
    status = "killed by " + *a.signal;
  } else {
    status = "did not finish";
  }
  auto finished = a.finished_at ? format_rfc3339(*a.finished_at) : std::string("-");
  return fmt::format("  attempt {}: {} (started {}, finished {}, {})\n", a.attempt, status,
                     format_rfc3339(a.started_at), finished,
                     format_duration(Millis{a.duration_ms}));
}

// The last `count` lines of text, each indented by four spaces.
std::string last_lines(std::string_view text, std::size_t count) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  auto first = lines.size() > count ? lines.size() - count : 0;
  std::string out;
  for (auto i = first; i < lines.size(); ++i) {
    out += "    ";
    out.append(lines[i]);
    out += '\n';
  }
  return out;
}

}  // namespace

std::string suffixed_name(std::string_view name, int n) {
  auto [stem, ext] = config::split_extension(name);
  if (ext.empty()) return fmt::format("{}~{}", name, n);
  return fmt::format("{}~{}.{}", stem, n, ext);
}

Result<fs::path> free_destination(const fs::path& dest_dir, std::string_view rel,
                                  bool with_report) {
  fs::path rel_path{std::string(rel)};
  auto folder = (dest_dir / rel_path).parent_path();
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return fail("mkdir " + folder.string() + ": " + ec.message(), ec.value());
  std::string name = rel_path.filename().string();
  for (int n = 0; n < 100000; ++n) {
    auto candidate = folder / (n == 0 ? name : suffixed_name(name, n));
    if (exists_nofollow(candidate)) continue;
    if (with_report && exists_nofollow(candidate.string() + ".error.txt")) continue;
    return candidate;
  }
  return fail("no free name for " + name + " in " + folder.string());
}

Result<fs::path> move_into(const fs::path& from, const fs::path& dest_dir, std::string_view rel,
                           bool with_report) {
  // Someone may take the chosen name between the check and the move; the
  // move refuses to replace it and the next free name is tried.
  for (int tries = 0; tries < 100; ++tries) {
    auto target = free_destination(dest_dir, rel, with_report);
    if (!target) return target;
    auto moved = move_no_replace(from, *target);
    if (moved) return target;
    if (moved.error().code != EEXIST) return fail(moved.error());
  }
  return fail("move " + from.string() + ": names in " + dest_dir.string() + " keep being taken");
}

std::string format_error_report(const queue::Job& job, const std::vector<queue::Attempt>& attempts,
                                std::string_view reason) {
  std::string out;
  out += fmt::format("inboxd could not process this file.\n\n");
  out += fmt::format("file:     {}\n", job.rel);
  out += fmt::format("inbox:    {}\n", job.inbox);
  out += fmt::format("job:      {}\n", job.id);
  out += fmt::format("size:     {} bytes\n", job.size);
  out += fmt::format("received: {}\n", format_rfc3339(job.created_at));
  out += fmt::format("failed:   {}\n", format_rfc3339(job.updated_at));
  out += fmt::format("reason:   {}\n", reason);
  if (attempts.empty()) {
    out += "\nThe handler was not run.\n";
    return out;
  }
  out += fmt::format("\nattempts ({}):\n", attempts.size());
  for (const auto& a : attempts) out += attempt_line(a);
  const auto& last = attempts.back();
  if (!last.stderr_tail.empty()) {
    out += "\nlast lines the handler wrote to stderr:\n";
    out += last_lines(last.stderr_tail, 20);
  } else if (!last.stdout_tail.empty()) {
    out += "\nthe handler wrote nothing to stderr; last lines of its stdout:\n";
    out += last_lines(last.stdout_tail, 20);
  }
  out += fmt::format("\nTo try again: inboxctl retry {}\n", job.id);
  return out;
}

Result<void> write_all(int fd, std::string_view text, const fs::path& file) {
  while (!text.empty()) {
    auto n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("write", file.string());
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// The report appears complete or not at all: it is written to an unnamed
// file in the same folder (O_TMPFILE), fsynced, then given its name with
// linkat, which fails rather than replace an existing file. Filesystems
// without O_TMPFILE (some network ones) get an exclusive create and write.
Result<void> write_new_file(const fs::path& file, std::string_view text) {
  auto dir = file.parent_path();
  UniqueFd tmp(::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644));
  if (tmp.valid()) {
    if (auto ok = write_all(tmp.get(), text, file); !ok) return ok;
    if (::fsync(tmp.get()) != 0) return fail_errno("fsync", file.string());
    auto proc = "/proc/self/fd/" + std::to_string(tmp.get());
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, file.c_str(), AT_SYMLINK_FOLLOW) == 0) return {};
    if (errno == EEXIST) return fail_errno("create", file.string());
  }
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd.valid()) return fail_errno("create", file.string());
  if (auto ok = write_all(fd.get(), text, file); !ok) return ok;
  if (::fsync(fd.get()) != 0) return fail_errno("fsync", file.string());
  return {};
}

}  // namespace inboxd::app
