#include "daemon/queue/wal_sync.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/sys_error.hpp"

namespace inboxd::queue {

namespace {

Result<UniqueFd> open_wal(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return fail_errno("open", path.string());
  return fd;
}

Error with_context(const std::string& context, const Error& error) {
  return Error{"queue: " + context + ": " + error.message, error.code};
}

}  // namespace

WalSync::WalSync(std::filesystem::path path, UniqueFd fd, sqlite::Database db)
    : path_(std::move(path)), fd_(std::move(fd)), db_(std::move(db)) {}

Result<std::shared_ptr<WalSync>> WalSync::open(const std::filesystem::path& db_file) {
  auto path = db_file;
  path += "-wal";
  auto fd = open_wal(path);
  if (!fd) return fail(fd.error());
  auto db = sqlite::Database::open(db_file.string());
  if (!db) return fail(with_context("open " + db_file.string(), db.error()));
  sqlite3_busy_timeout(db->handle(), 1000);
  if (auto ok = db->exec("PRAGMA synchronous = NORMAL"); !ok) return fail(ok.error());
  return std::shared_ptr<WalSync>(new WalSync(std::move(path), std::move(*fd), std::move(*db)));
}

// Caller holds mutex_.
Result<std::uint64_t> WalSync::reopen_if_replaced() {
  struct stat held {};
  if (::fstat(fd_.get(), &held) != 0) return fail_errno("fstat", path_.string());
  if (held.st_nlink == 0) {
    auto fd = open_wal(path_);
    if (!fd) return fail(fd.error());
    fd_ = std::move(*fd);
    if (::fstat(fd_.get(), &held) != 0) return fail_errno("fstat", path_.string());
  }
  return static_cast<std::uint64_t>(held.st_size);
}

Result<std::uint64_t> WalSync::sync() {
  std::lock_guard lock(mutex_);
  auto size = reopen_if_replaced();
  if (!size) return size;
  if (::fdatasync(fd_.get()) != 0) return fail_errno("fdatasync", path_.string());
  return size;
}

Result<void> WalSync::checkpoint() {
  std::lock_guard lock(mutex_);
  auto ok = db_.exec("PRAGMA wal_checkpoint(PASSIVE)");
  if (!ok) return fail(with_context("checkpoint " + path_.string(), ok.error()));
  return {};
}

}  // namespace inboxd::queue
