// scan_bench: what one poll scan of a large drop folder costs in inboxd,
// against the machine's limit. Not run by ctest; build it optimised and run it
// by hand (scripts/bench --only scan runs it too):
//
//   scan_bench [-n FILES] [-r ROUNDS] [-s SCANS] [-d PARENT] [-p PREFIX]
//
// Creates FILES (default 100,000) small files named PREFIX000123.pdf (default
// prefix "scan-") in a fresh folder under PARENT (default $TMPDIR or /tmp),
// next to the .inboxd, done and failed folders a real inbox holds. Then it
// alternates ROUNDS (default 5) rounds of
//   A  the limit: a bare opendir/readdir/fstatat(AT_SYMLINK_NOFOLLOW) loop
//      over the folder, counting regular files, nothing kept;
//   B  inboxd's poll scan, as Inbox::scan does it: scan_directory of the
//      whole inbox, NameFilter (include "*", the default excludes) on each
//      name, SettleTracker::observe for each file that passes, then
//      next_deadline() (what arm_settle_timer asks after every scan).
// One SettleTracker lives through the whole run, as in the daemon, so the
// rounds measure the steady-state re-scan of unchanged files; the first B
// scan (every file new to the tracker) is measured and reported on its own.
// After the rounds, further B scans run until SCANS (default 20) B scans in
// all, and the resident set size is read after each one: it must not grow
// with the number of scans.
//
// Nothing drops the page cache: both A and B read a warm dentry and inode
// cache, so the figures are CPU cost (user and kernel), not disk reads.
//
// Under valgrind --tool=callgrind every measured scan is bracketed by
// CALLGRIND_ZERO_STATS and CALLGRIND_DUMP_STATS_AT("limit" | "inboxd-first" |
// "inboxd"), so each dump holds the instructions of exactly one scan.
//
// Prints a line per round (wall, user and system ms), the medians, the ratio
// B/A (median of the rounds' ratios), µs per file, minor page faults per scan,
// RSS figures, and last a single JSON line with the same numbers. The folder
// is removed at the end.

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"
#include "common/version.hpp"
#include "daemon/config/config.hpp"
#include "watcher/file_info.hpp"
#include "watcher/name_filter.hpp"
#include "watcher/settle_tracker.hpp"

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(label)
#endif

namespace {

using Clock = std::chrono::steady_clock;
namespace watcher = inboxd::watcher;

struct Options {
  long files = 100'000;
  int rounds = 5;
  int scans = 20;
  std::string parent;
  std::string prefix = "scan-";
};

[[noreturn]] void usage() {
  std::fputs("usage: scan_bench [-n FILES] [-r ROUNDS] [-s SCANS] [-d PARENT] [-p PREFIX]\n",
             stderr);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options opt;
  const char* tmp = std::getenv("TMPDIR");
  opt.parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage();
    const char* value = argv[++i];
    if (flag == "-n") {
      opt.files = std::atol(value);
    } else if (flag == "-r") {
      opt.rounds = std::atoi(value);
    } else if (flag == "-s") {
      opt.scans = std::atoi(value);
    } else if (flag == "-d") {
      opt.parent = value;
    } else if (flag == "-p") {
      opt.prefix = value;
    } else {
      usage();
    }
  }
  if (opt.files < 1 || opt.rounds < 1 || opt.scans < 1) usage();
  opt.scans = std::max(opt.scans, opt.rounds + 1);
  return opt;
}

std::runtime_error sys_failure(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

// The bench's own folder, removed when it goes out of scope (also when a
// step fails and the exception unwinds through main).
class BenchDir {
 public:
  explicit BenchDir(const std::string& parent) {
    std::string pattern = parent + "/inboxd-scan-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throw sys_failure("mkdtemp " + pattern);
    path_ = pattern;
  }
  ~BenchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string file_name(const std::string& prefix, long i) {
  return fmt::format("{}{:06}.pdf", prefix, i);
}

// FILES small, non-empty files plus the three folders of a real inbox.
void populate(const std::filesystem::path& dir, const Options& opt) {
  for (const char* sub : {".inboxd", "done", "failed"}) {
    if (::mkdir((dir / sub).c_str(), 0755) != 0) throw sys_failure("mkdir");
  }
  for (long i = 0; i < opt.files; ++i) {
    const std::string path = (dir / file_name(opt.prefix, i)).string();
    const std::string content = fmt::format("%PDF-1.4\n% scan {} of a bench drop folder\n", i);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) throw sys_failure("open " + path);
    const bool written =
        ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
    ::close(fd);
    if (!written) throw sys_failure("write " + path);
  }
}

// --- A: the machine's limit ---------------------------------------------------

struct LimitCount {
  long files = 0;
  long long bytes = 0;
};

// The least a poll scan can do: list the folder and lstat every entry
// relative to the open folder. Nothing is kept.
__attribute__((noinline)) LimitCount scan_limit(const char* path) {
  LimitCount count;
  DIR* dir = ::opendir(path);
  if (dir == nullptr) throw sys_failure(std::string("opendir ") + path);
  const int fd = ::dirfd(dir);
  const dirent* entry;
  while ((entry = ::readdir(dir)) != nullptr) {
    const char* name = entry->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    struct stat st {};
    if (::fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISREG(st.st_mode)) {
      ++count.files;
      count.bytes += st.st_size;
    }
  }
  ::closedir(dir);
  return count;
}

// --- B: inboxd's poll scan ------------------------------------------------------

// The parts of an Inbox a poll scan touches, configured as the defaults do.
class PollScan {
 public:
  explicit PollScan(std::filesystem::path root)
      : root_(std::move(root)),
        filter_({"*"}, inboxd::config::default_exclude()),
        settle_(std::chrono::seconds(2)),
        skip_rels_{".inboxd", "done", "failed"} {}

  // Inbox::scan("") followed by the next_deadline() of arm_settle_timer.
  // Returns how many files passed the filter and were observed.
  __attribute__((noinline)) long scan() {
    auto files = watcher::scan_directory(root_, "", false, [this](std::string_view rel) {
      return std::find(skip_rels_.begin(), skip_rels_.end(), rel) != skip_rels_.end();
    });
    if (!files) throw std::runtime_error(files.error().message);
    const auto now = inboxd::mono_now();
    long observed = 0;
    for (const auto& file : *files) {
      if (filter_.accepts(file.name())) {
        settle_.observe(file, now);
        ++observed;
      }
    }
    deadline_ = settle_.next_deadline();
    return observed;
  }

  std::size_t tracked() const { return settle_.size(); }

 private:
  std::filesystem::path root_;
  watcher::NameFilter filter_;
  watcher::SettleTracker settle_;
  std::vector<std::string> skip_rels_;
  std::optional<inboxd::MonoTime> deadline_;
};

// --- Measuring ----------------------------------------------------------------------

struct Sample {
  double wall_ms = 0;
  double user_ms = 0;
  double sys_ms = 0;
  double minor_faults = 0;  // pages the kernel had to map in during the scan
};

double cpu_ms(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
}

template <class F>
Sample measure(const char* label, F&& body) {
  rusage r0{};
  rusage r1{};
  ::getrusage(RUSAGE_SELF, &r0);
  CALLGRIND_ZERO_STATS;
  const auto t0 = Clock::now();
  body();
  const auto t1 = Clock::now();
  CALLGRIND_DUMP_STATS_AT(label);
  ::getrusage(RUSAGE_SELF, &r1);
  return Sample{std::chrono::duration<double, std::milli>(t1 - t0).count(),
                cpu_ms(r1.ru_utime) - cpu_ms(r0.ru_utime),
                cpu_ms(r1.ru_stime) - cpu_ms(r0.ru_stime),
                static_cast<double>(r1.ru_minflt - r0.ru_minflt)};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Resident set size now, in KiB (/proc/self/statm counts pages).
long rss_kib() {
  long pages = 0;
  long resident = 0;
  if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(statm);
  }
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

long peak_rss_kib() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // KiB on Linux
}

// value rounded to `digits` decimals (so that the JSON shows 2.9, not 2.9000000000000004).
double round_to(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  return static_cast<double>(std::llround(value * scale)) / scale;
}

std::vector<double> rounded(const std::vector<double>& values, int digits) {
  std::vector<double> out;
  for (double value : values) out.push_back(round_to(value, digits));
  return out;
}

std::vector<double> walls(const std::vector<Sample>& samples) {
  std::vector<double> out;
  for (const auto& s : samples) out.push_back(s.wall_ms);
  return rounded(out, 3);
}

void check(const char* what, long got, long expected) {
  if (got != expected) {
    throw std::runtime_error(fmt::format("{} saw {} files, expected {}", what, got, expected));
  }
}

int run(const Options& opt) {
  BenchDir dir(opt.parent);
  const auto root = dir.path();
  const auto t0 = Clock::now();
  populate(root, opt);
  const double create_s = std::chrono::duration<double>(Clock::now() - t0).count();
  fmt::print(
      "scan_bench: {} files in {} (created in {:.1f} s; names like {}, 45-50 bytes each; "
      "plus .inboxd, done and failed folders)\n",
      opt.files, root.string(), create_s, file_name(opt.prefix, 123));

  // A warm-up listing so that the first measured scan does not pay for
  // anything the creation left cold.
  check("warm-up limit scan", scan_limit(root.c_str()).files, opt.files);

  PollScan poll(root);
  long seen = 0;
  std::vector<long> rss_after;  // after each inboxd scan
  const Sample first = measure("inboxd-first", [&] { seen = poll.scan(); });
  check("first inboxd scan", seen, opt.files);
  rss_after.push_back(rss_kib());
  fmt::print(
      "first inboxd scan (every file new to the settle tracker): {:.1f} ms "
      "(user {:.1f}, sys {:.1f}); {} files tracked\n",
      first.wall_ms, first.user_ms, first.sys_ms, poll.tracked());

  std::vector<Sample> limit;
  std::vector<Sample> inboxd;
  for (int round = 1; round <= opt.rounds; ++round) {
    LimitCount count;
    limit.push_back(measure("limit", [&] { count = scan_limit(root.c_str()); }));
    check("limit scan", count.files, opt.files);
    inboxd.push_back(measure("inboxd", [&] { seen = poll.scan(); }));
    check("inboxd scan", seen, opt.files);
    rss_after.push_back(rss_kib());
    const Sample& a = limit.back();
    const Sample& b = inboxd.back();
    fmt::print(
        "round {}: limit {:8.1f} ms (user {:6.1f}, sys {:6.1f})   inboxd {:8.1f} ms "
        "(user {:6.1f}, sys {:6.1f})   B/A {:.2f}\n",
        round, a.wall_ms, a.user_ms, a.sys_ms, b.wall_ms, b.user_ms, b.sys_ms,
        b.wall_ms / a.wall_ms);
  }
  // More scans of the unchanged folder: the memory they use must not grow.
  while (static_cast<int>(rss_after.size()) < opt.scans) {
    measure("inboxd-extra", [&] { seen = poll.scan(); });
    check("inboxd scan", seen, opt.files);
    rss_after.push_back(rss_kib());
  }

  auto med = [](const std::vector<Sample>& samples, double Sample::*field) {
    std::vector<double> values;
    for (const auto& s : samples) values.push_back(s.*field);
    return median(values);
  };
  const double files = static_cast<double>(opt.files);
  const double a_ms = med(limit, &Sample::wall_ms);
  const double b_ms = med(inboxd, &Sample::wall_ms);
  // Each round's B/A: the machine's speed drifts between rounds, and both
  // scans of a round see the same drift.
  std::vector<double> ratios;
  for (std::size_t i = 0; i < limit.size(); ++i)
    ratios.push_back(inboxd[i].wall_ms / limit[i].wall_ms);
  const double ratio = median(ratios);
  const long peak = peak_rss_kib();
  fmt::print(
      "median of {} rounds: limit {:.1f} ms ({:.3f} us/file), inboxd {:.1f} ms "
      "({:.3f} us/file); B/A {:.2f} (median of the rounds' ratios; ratio of the medians "
      "{:.2f}); first inboxd scan {:.1f} ms ({:.3f} us/file)\n",
      opt.rounds, a_ms, a_ms * 1e3 / files, b_ms, b_ms * 1e3 / files, ratio, b_ms / a_ms,
      first.wall_ms, first.wall_ms * 1e3 / files);
  fmt::print(
      "median CPU: limit user {:.1f} + sys {:.1f} ms, inboxd user {:.1f} + sys {:.1f} ms; "
      "minor page faults per scan: limit {:.0f}, inboxd {:.0f}\n",
      med(limit, &Sample::user_ms), med(limit, &Sample::sys_ms), med(inboxd, &Sample::user_ms),
      med(inboxd, &Sample::sys_ms), med(limit, &Sample::minor_faults),
      med(inboxd, &Sample::minor_faults));
  fmt::print(
      "RSS after inboxd scan 1: {} KiB, after scan {}: {} KiB (growth {} KiB, highest "
      "after any scan {} KiB); peak RSS (ru_maxrss) {} KiB\n",
      rss_after.front(), rss_after.size(), rss_after.back(), rss_after.back() - rss_after.front(),
      *std::max_element(rss_after.begin(), rss_after.end()), peak);

  nlohmann::json out = {
      {"bench", "scan_bench"},
      {"inboxd_version", inboxd::kVersion},
      {"files", opt.files},
      {"rounds", opt.rounds},
      {"name_example", file_name(opt.prefix, 123)},
      {"create_seconds", round_to(create_s, 2)},
      {"limit_ms", walls(limit)},
      {"inboxd_ms", walls(inboxd)},
      {"limit_median_ms", round_to(a_ms, 3)},
      {"inboxd_median_ms", round_to(b_ms, 3)},
      {"ratio", round_to(ratio, 2)},
      {"ratios", rounded(ratios, 2)},
      {"ratio_of_medians", round_to(b_ms / a_ms, 2)},
      {"limit_us_per_file", round_to(a_ms * 1e3 / files, 3)},
      {"inboxd_us_per_file", round_to(b_ms * 1e3 / files, 3)},
      {"limit_median_user_ms", round_to(med(limit, &Sample::user_ms), 1)},
      {"limit_median_sys_ms", round_to(med(limit, &Sample::sys_ms), 1)},
      {"inboxd_median_user_ms", round_to(med(inboxd, &Sample::user_ms), 1)},
      {"inboxd_median_sys_ms", round_to(med(inboxd, &Sample::sys_ms), 1)},
      {"limit_median_minor_faults", med(limit, &Sample::minor_faults)},
      {"inboxd_median_minor_faults", med(inboxd, &Sample::minor_faults)},
      {"first_scan_ms", round_to(first.wall_ms, 3)},
      {"first_scan_us_per_file", round_to(first.wall_ms * 1e3 / files, 3)},
      {"scans", rss_after.size()},
      {"rss_kib_after_scan_1", rss_after.front()},
      {"rss_kib_after_last_scan", rss_after.back()},
      {"rss_kib_growth", rss_after.back() - rss_after.front()},
      {"rss_kib_highest_after_a_scan", *std::max_element(rss_after.begin(), rss_after.end())},
      {"rss_kib_after_each_scan", rss_after},
      {"peak_rss_kib", peak},
      {"tracked", poll.tracked()},
  };
  fmt::print("{}\n", out.dump());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  try {
    return run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scan_bench: %s\n", e.what());
    return 1;
  }
}
