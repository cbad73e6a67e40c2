#include "daemon/app/inbox.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <system_error>
#include <unordered_set>

#include <fmt/format.h>

#include "common/guarded.hpp"
#include "common/log.hpp"
#include "common/sys_error.hpp"
#include "daemon/app/backoff.hpp"
#include "daemon/app/outcome.hpp"
#include "daemon/config/command_template.hpp"
#include "watcher/filesystem.hpp"

namespace inboxd::app {
namespace {

namespace fs = std::filesystem;
using log::quote;

// Files claimed per transaction pair; larger bursts take several rounds so
// the loop stays responsive.
constexpr std::size_t kClaimBatch = 1000;
// How long claims wait at most for a writer's burst to pause (see
// claim_room); past it the rest of the burst is claimed along, so what
// waits in memory is bounded by what a writer creates in this time.
constexpr auto kMaxYield = std::chrono::seconds(1);
// Emptied spool folders kept for the next claims (see SpoolMove::reuse), as
// many as a large burst leaves (8 bytes each here). Removing them costs more
// than the rmdir: on ext4 every later mkdir then looks past the inodes freed
// in the last few seconds, which made mkdir and rmdir together an eighth of
// the daemon's CPU while a 3,000-file burst drained.
constexpr std::size_t kKeptFolders = 16384;

// How long an overflow keeps the inbox `degraded` after its rescan.
constexpr auto kOverflowNotice = std::chrono::seconds(60);

// A full scan slower than this marks the watch degraded (in poll mode: also
// slower than half of poll_interval).
constexpr Millis kSlowScan{5000};

// A folder call that has not returned for this long makes the inbox
// `unavailable` ("not responding since ..."): a hung share, not a slow one.
constexpr auto kNotResponding = std::chrono::seconds(10);
// Files moved out of the spool by one folder task at most.
constexpr std::size_t kPlaceBatch = 64;

std::string describe(const runner::HandlerResult& r, Millis timeout) {
  if (r.timed_out) {
    auto text = fmt::format("timed out after {}", format_duration(timeout));
    if (r.signal) text += " (killed by " + runner::signal_name(*r.signal) + ")";
    return text;
  }
  if (r.exit_code) return fmt::format("exit code {}", *r.exit_code);
  if (r.signal) return "killed by " + runner::signal_name(*r.signal);
  return "ended without a status";
}

}  // namespace

std::string_view to_string(InboxState state) {
  switch (state) {
    case InboxState::kActive: return "active";
    case InboxState::kPaused: return "paused";
    case InboxState::kTripped: return "tripped";
    case InboxState::kUnavailable: return "unavailable";
  }
  return "unknown";
}

Inbox::Inbox(Services& services, config::InboxConfig config)
    : services_(services),
      config_(std::move(config)),
      spool_dir_(config_.path / ".inboxd" / services_.instance_id / "spool"),
      log_(log::get("inbox")),
      filter_(config_.include, config_.exclude),
      settle_(config_.settle),
      breaker_(config_.error_threshold),
      worker_(services_.loop, log_) {
  for (auto* timer : {settle_timer_.get(), scan_timer_.get(), retry_timer_.get(),
                      breaker_timer_.get(), health_timer_.get()}) {
    uv_timer_init(services_.loop, timer);
    timer->data = this;
  }
  uv_idle_init(services_.loop, pump_idle_.get());
  pump_idle_.get()->data = this;
  uv_check_init(services_.loop, turn_end_check_.get());
  turn_end_check_.get()->data = this;
  // Work folders inside the inbox are never watched or scanned.
  auto inside = [this](const fs::path& dir) {
    auto rel = dir.lexically_relative(config_.path);
    if (!rel.empty() && *rel.begin() != "..") skip_rels_.push_back(rel.string());
  };
  inside(config_.path / ".inboxd");
  inside(config_.done_dir);
  inside(config_.failed_dir);
}

Inbox::~Inbox() {
  if (inotify_) inotify_->close();
}

std::string_view Inbox::watch_mode() const { return use_inotify_ ? "inotify" : "poll"; }

bool Inbox::overflow_recent() const {
  return overflow_at_ != MonoTime{} && mono_now() - overflow_at_ < kOverflowNotice;
}

std::string_view Inbox::watch_health() const {
  bool ok = available_ && !stuck_ && watch_limit_note_.empty() && scan_note_.empty() &&
            !overflow_recent();
  return ok ? "ok" : "degraded";
}

std::string Inbox::watch_note() const {
  std::vector<std::string> notes;
  if (stuck_) {
    notes.push_back(fmt::format("not responding since {}: {}", format_rfc3339(stuck_->since_wall),
                                stuck_->what));
  }
  if (!available_ && !unavailable_note_.empty()) notes.push_back(unavailable_note_);
  if (!watch_limit_note_.empty()) notes.push_back(watch_limit_note_);
  if (!scan_note_.empty()) notes.push_back(scan_note_);
  if (overflow_recent()) {
    auto ago = std::chrono::duration_cast<Millis>(mono_now() - overflow_at_);
    notes.push_back("inotify queue overflowed " + format_duration(ago) + " ago; rescanned");
  }
  if (notes.empty() && !watch_note_.empty()) notes.push_back(watch_note_);
  std::string text;
  for (const auto& note : notes) text += (text.empty() ? "" : "; ") + note;
  return text;
}

bool Inbox::skip_dir(std::string_view rel_dir) const {
  return std::find(skip_rels_.begin(), skip_rels_.end(), rel_dir) != skip_rels_.end();
}

fs::path Inbox::free_folder(std::int64_t job_id) const {
  return spool_dir() / fmt::format("{}{}", kFreeFolderPrefix, job_id);
}

fs::path Inbox::spool_path(std::int64_t folder_id, std::string_view name) const {
  return spool_dir() / std::to_string(folder_id) / std::string(name);
}

// No file joins the open folder once one of its files leaves the spool (or
// a claim into it failed): the move out may keep or remove the folder on
// the folder thread when it finds it empty, and must not race with a join.
void Inbox::close_open_folder(const fs::path& file) {
  if (open_folder_ && file.parent_path() == spool_dir() / std::to_string(open_folder_->id)) {
    open_folder_.reset();
  }
}

fs::path Inbox::spooled_file(const queue::Job& job) const {
  return job.path ? fs::path(*job.path) : spool_path(job.id, job.name);
}

bool Inbox::on_local_disk() const { return filesystem_ && !filesystem_->shared; }

bool Inbox::settled() const {
  return running_.empty() && starting_.empty() && committing_ == 0 &&
         (worker_.idle() || stuck_.has_value());
}

// --- Folder work ----------------------------------------------------------

template <class T>
void Inbox::post(const std::string& what, std::function<T()> work,
                 std::function<void(const T&)> done) {
  worker_.post<T>(what, std::move(work), [this, done = std::move(done)](const T& result) {
    bool was_stuck = stuck_.has_value();
    stuck_.reset();
    done(result);
    if (was_stuck) {
      log_->info("inbox responding again inbox={}", config_.name);
      reopen();
    }
  });
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(health_timer_.get())) == 0) {
    uv_timer_start(
        health_timer_.get(),
        [](uv_timer_t* t) {
          auto* self = static_cast<Inbox*>(t->data);
          guarded(*self->log_, "inbox health", [self] { self->check_responding(); });
        },
        1000, 1000);
  }
}

// A few calls on a local disk cost microseconds, less than the hand-off to
// the folder thread and back: the per-file calls of the path from a closed
// file to its handler (stat, claim, spool check) run here at once when the
// inbox is on a local filesystem. Scans, outcome moves and everything on a
// share go to the folder thread. As there, a throwing `work` is logged and
// `done` gets a default T.
template <class T>
void Inbox::call(const std::string& what, std::function<T()> work,
                 std::function<void(const T&)> done) {
  if (!on_local_disk() || stuck_) {
    post<T>(what, std::move(work), std::move(done));
    return;
  }
  T result{};
  try {
    result = work();
  } catch (const std::exception& e) {
    log_->error("folder task failed task={} error={}", what, e.what());
  }
  done(result);
}

// Runs every second while folder work is pending: a call that has not
// returned for kNotResponding makes the inbox unavailable until it does.
void Inbox::check_responding() {
  if (worker_.idle()) {
    uv_timer_stop(health_timer_.get());
    return;
  }
  auto busy = worker_.current();
  if (stuck_ || !busy || mono_now() - busy->since < kNotResponding) return;
  stuck_ = busy;
  log_->error(
      "inbox not responding inbox={} since={} call={}: its share may hang; other inboxes "
      "go on",
      config_.name, format_rfc3339(busy->since_wall), quote(busy->what));
  publish_state();
}

// Watches and opens the folder again from scratch (after it hung, vanished
// or lost its spool): nothing seen before is trusted.
void Inbox::reopen() {
  if (inotify_) inotify_->close();
  inotify_.reset();
  uv_timer_stop(scan_timer_.get());
  available_ = false;
  kept_folders_.clear();
  folder_files_.clear();
  open_folder_.reset();
  publish_state();
  start();
}

// --- Start-up and watching ------------------------------------------------

// Checks the drop folder and creates the daemon's own folders in it (on the
// folder thread). A missing or unreadable path, or a share that is not
// mounted, makes the inbox `unavailable`; it is tried again every
// poll_interval.
void Inbox::start() {
  if (intake_stopped_ || opening_) return;
  opening_ = true;
  auto marker_key = "opened:" + config_.path.string();
  auto opened_before = services_.store->meta(marker_key);
  bool first_open = opened_before && !*opened_before;
  OpenRequest request{config_.path,
                      {spool_dir(), config_.done_dir, config_.failed_dir},
                      spool_dir(),
                      opened_before && *opened_before};
  post<OpenResult>(
      "open " + config_.path.string(), [request] { return open_drop_folder(request); },
      [this, marker_key, first_open](const OpenResult& opened) {
        opening_ = false;
        on_opened(opened, marker_key, first_open);
      });
}

void Inbox::on_opened(const OpenResult& opened, const std::string& marker_key, bool first_open) {
  opened_once_ = true;
  if (intake_stopped_) return;
  if (opened.error) {
    if (available_ || !published_state_ || unavailable_note_ != *opened.error) {
      log_->warn("inbox unavailable inbox={} path={} error={} retry_in={}", config_.name,
                 quote(config_.path.string()), quote(*opened.error),
                 format_duration(config_.poll_interval));
    }
    available_ = false;
    unavailable_note_ = *opened.error;
    publish_state();
    uv_timer_start(
        scan_timer_.get(),
        [](uv_timer_t* t) {
          auto* self = static_cast<Inbox*>(t->data);
          guarded(*self->log_, "inbox retry", [self] { self->start(); });
        },
        static_cast<std::uint64_t>(config_.poll_interval.count()), 0);
    return;
  }
  if (first_open) (void)services_.store->set_meta(marker_key, "1");
  filesystem_ = opened.filesystem;
  available_ = true;
  unavailable_note_.clear();
  publish_state();
  log_->info("inbox available inbox={} path={}", config_.name, quote(config_.path.string()));
  start_watching();
  recover_claims();
  pump();
}

void Inbox::start_watching() {
  // watch: auto polls shared filesystems (network, cluster, FUSE): inotify
  // never hears of a file another host wrote there.
  bool shared = filesystem_ && filesystem_->shared;
  use_inotify_ =
      watch_limit_note_.empty() && (config_.watch == config::WatchMode::kInotify ||
                                    (config_.watch == config::WatchMode::kAuto && !shared));
  watch_note_.clear();
  if (filesystem_ && config_.watch == config::WatchMode::kAuto) {
    watch_note_ = shared ? filesystem_->describe() +
                               ": other hosts' writes are invisible to inotify; "
                               "polling every " +
                               format_duration(config_.poll_interval)
                         : filesystem_->describe() + ": inotify";
    log_->info("inbox watch chosen inbox={} watch={} reason={}", config_.name,
               use_inotify_ ? "inotify" : "poll", quote(watch_note_));
    if (!shared) watch_note_.clear();  // the ordinary case needs no note in status
  }
  if (use_inotify_) {
    auto watcher = watcher::InotifyWatcher::start(
        services_.loop, config_.path, config_.recursive,
        [this](std::string_view rel) { return skip_dir(rel); },
        [this](const watcher::Event& e) { on_event(e); });
    if (watcher) {
      inotify_ = std::move(*watcher);
    } else {
      log_->warn("inbox falls back to polling inbox={} error={}", config_.name,
                 quote(watcher.error().message));
      use_inotify_ = false;
    }
  }
  scan("");
  auto period = use_inotify_ ? config_.rescan_interval : config_.poll_interval;
  if (period.count() > 0) {
    auto ms = static_cast<std::uint64_t>(period.count());
    uv_timer_start(
        scan_timer_.get(),
        [](uv_timer_t* t) {
          auto* self = static_cast<Inbox*>(t->data);
          guarded(*self->log_, "inbox scan", [self] { self->scan(""); });
        },
        ms, ms);
  }
}

void Inbox::on_event(const watcher::Event& event) {
  if (intake_stopped_) return;
  auto now = mono_now();
  switch (event.kind) {
    case watcher::EventKind::kWriting:
      closing_.erase(event.rel);
      if (filter_.accepts(watcher::name_of(event.rel))) settle_.note_writing(event.rel, now);
      break;
    case watcher::EventKind::kClosed: observe_closed(event.rel, now); break;
    case watcher::EventKind::kRemoved:
      closing_.erase(event.rel);
      settle_.forget(event.rel);
      break;
    case watcher::EventKind::kDirAdded: scan(event.rel); break;
    case watcher::EventKind::kOverflow:
      log_->warn("inotify queue overflow inbox={}: rescanning", config_.name);
      ++metrics_.overflows;
      overflow_at_ = now;
      closing_.clear();
      settle_.reset_writers(now);
      scan("");
      break;
    case watcher::EventKind::kWatchLimit:
      log_->warn("inotify watch limit reached inbox={} folder={}: polling every {}", config_.name,
                 quote(event.rel), format_duration(config_.poll_interval));
      watch_limit_note_ =
          "inotify watch limit reached (fs.inotify.max_user_watches): polling every " +
          format_duration(config_.poll_interval);
      use_inotify_ = false;
      if (inotify_) inotify_->close();
      inotify_.reset();
      start_watching();
      break;
    case watcher::EventKind::kRootGone:
      log_->warn("inbox folder gone inbox={} path={}", config_.name, quote(config_.path.string()));
      reopen();
      return;
  }
  arm_settle_timer();
}

// A writer closed the file: its settle clock starts from a fresh stat, taken
// on the folder thread together with the other closes that came meanwhile.
// The files closed during one turn of the loop are stat'ed, and claimed,
// together once its I/O is read (a check handle runs right after): one
// transaction for all that one read of the inotify queue brought, instead
// of one per file. On a share a stat in flight gathers them the same way.
void Inbox::observe_closed(const std::string& rel, MonoTime now) {
  burst_.note_close(now);
  if (!filter_.accepts(watcher::name_of(rel))) return;
  ++closing_[rel];
  closed_.push_back(rel);
  if (!on_local_disk() || stuck_) {
    stat_closed();
    return;
  }
  at_turn_end();
}

// What one turn of the loop gathered while it read its I/O is done once all
// of it is read (a check handle runs right after): the files closed
// meanwhile are stat'ed and claimed together, and the files that a sync
// freed go to the folder thread as one task (place_file).
void Inbox::at_turn_end() {
  uv_check_start(turn_end_check_.get(), [](uv_check_t* check) {
    uv_check_stop(check);
    auto* self = static_cast<Inbox*>(check->data);
    guarded(*self->log_, "end of loop turn", [self] { self->on_turn_end(); });
  });
}

void Inbox::on_turn_end() {
  if (!placeable_.empty()) {
    committing_ -= static_cast<int>(placeable_.size());
    post_placements(std::exchange(placeable_, {}));
  }
  if (!intake_stopped_) stat_closed();
}

void Inbox::stat_closed() {
  if (stating_closed_ || closed_.empty()) return;
  stating_closed_ = true;
  call<StatResults>(
      "stat " + config_.path.string(),
      [root = config_.path, rels = std::exchange(closed_, {})] { return stat_files(root, rels); },
      [this](const StatResults& stats) { on_closed_stats(stats); });
}

// With `settle: 0` a closed file is complete as soon as its fresh stat is
// in: it is claimed at once, without waiting for the settle timer and a
// second stat (unless a settle round is under way; then the timer takes it).
void Inbox::on_closed_stats(const StatResults& stats) {
  stating_closed_ = false;
  auto now = mono_now();
  bool at_once =
      config_.settle.count() == 0 && !settling_ && available_ && !stuck_ && !intake_stopped_;
  std::vector<watcher::FileInfo> ready;
  for (const auto& [rel, info] : stats) {
    auto it = closing_.find(rel);
    if (it == closing_.end()) continue;  // written again or removed since
    if (--it->second == 0) closing_.erase(it);
    if (!info) {
      settle_.forget(rel);
      continue;
    }
    settle_.note_closed(*info, now);
    if (at_once && ready.size() < kClaimBatch) ready.push_back(*info);
  }
  if (ready.empty()) {
    arm_settle_timer();
  } else {
    settling_ = true;
    claim_batch(ready);
  }
  stat_closed();
}

// At most one full scan runs at a time; one asked for meanwhile runs after
// it (its files may have changed after the running scan passed them).
void Inbox::scan(const std::string& rel_dir) {
  if (intake_stopped_ || !available_) return;
  bool full = rel_dir.empty();
  if (full) {
    if (scanning_) {
      rescan_wanted_ = true;
      return;
    }
    scanning_ = true;
    ++metrics_.rescans;
  }
  post<ScanResult>(
      "scan " + (config_.path / rel_dir).string(),
      [root = config_.path, rel_dir, recursive = config_.recursive, skip = skip_rels_] {
        return scan_folder(root, rel_dir, recursive, skip);
      },
      [this, full, started = mono_now()](const ScanResult& result) {
        if (full) scanning_ = false;
        on_scanned(result, full, started);
        if (full && std::exchange(rescan_wanted_, false)) scan("");
      });
}

void Inbox::on_scanned(const ScanResult& result, bool full, MonoTime started) {
  if (intake_stopped_ || !available_) return;
  if (full) note_scan(result.error, result.took, result.files.size());
  if (result.error) return;
  auto now = mono_now();
  for (const auto& file : result.files) {
    if (filter_.accepts(file.name())) settle_.observe(file, now);
  }
  if (full) settle_.forget_missing_writers(result.files, started);
  arm_settle_timer();
}

// Failing and slow full scans make the watch `degraded` until a scan is
// quick again; each change is logged once.
void Inbox::note_scan(const std::optional<Error>& error, MonoClock::duration took,
                      std::size_t files) {
  auto limit = use_inotify_ ? kSlowScan : std::min(kSlowScan, config_.poll_interval / 2);
  std::string note;
  if (error) {
    note = "scan failed: " + error->message;
  } else if (took > limit) {
    note = fmt::format("slow scan: {} for {} files",
                       format_duration(std::chrono::duration_cast<Millis>(took)), files);
  }
  if (note.empty() && !scan_note_.empty()) {
    log_->info("scans healthy again inbox={}", config_.name);
  } else if (!note.empty() && scan_note_.empty()) {
    log_->warn("watch degraded inbox={} reason={}", config_.name, quote(note));
  }
  scan_note_ = std::move(note);
}

void Inbox::arm_settle_timer() {
  if (intake_stopped_ || settling_) return;
  auto deadline = settle_.next_deadline();
  if (!deadline) {
    uv_timer_stop(settle_timer_.get());
    return;
  }
  auto now = mono_now();
  auto when = std::max(*deadline, backlog_until_);
  if (yielding(now)) when = std::max(when, burst_.quiet_at());
  auto delay = std::chrono::duration_cast<Millis>(when - now).count();
  uv_timer_start(
      settle_timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<Inbox*>(t->data);
        guarded(*self->log_, "settle", [self] { self->on_settle_timer(); });
      },
      static_cast<std::uint64_t>(std::max<long long>(delay, 0)), 0);
}

// Re-stats every due file (on the folder thread): unchanged ones are
// claimed, changed ones restart their settle clock, vanished or no longer
// regular ones are forgotten. One such round runs at a time.
void Inbox::on_settle_timer() {
  if (intake_stopped_ || !available_ || stuck_ || settling_) return;
  auto now = mono_now();
  auto room = claim_room(now);
  auto due = room > 0 ? settle_.due(now, room) : std::vector<std::string>{};
  if (due.empty()) {
    arm_settle_timer();
    return;
  }
  settling_ = true;
  call<StatResults>(
      "stat " + config_.path.string(),
      [root = config_.path, due = std::move(due)] { return stat_files(root, due); },
      [this](const StatResults& stats) { on_settle_stats(stats); });
}

void Inbox::on_settle_stats(const StatResults& stats) {
  auto now = mono_now();
  std::vector<watcher::FileInfo> ready;
  for (const auto& [rel, info] : stats) {
    if (!info) {
      settle_.forget(rel);
      continue;
    }
    const auto* last = settle_.last_seen(rel);
    if (last != nullptr && last->same_version(*info)) {
      ready.push_back(*info);
    } else {
      settle_.observe(*info, now);
    }
  }
  if (ready.empty() || intake_stopped_ || !available_) {
    settling_ = false;
    arm_settle_timer();
    return;
  }
  claim_batch(ready);
}

// --- Claiming ---------------------------------------------------------------
//
// Order, chosen so that a crash at any point loses nothing and runs nothing
// twice (QueueStore's claim notes have the details):
//   - a file at the top of the inbox is renamed into spool/<F>/<name> under
//     an id reserved for it (F is that id, or on a local disk that of the
//     first file in the open folder, see spool_moves), then recorded `queued`
//     (one transaction for the batch); after a crash in between, the spool
//     survey adopts the files no job owns;
//   - a batch with a file in a subfolder is recorded as `claiming` first, so
//     that a crash cannot lose the folder it came from, then renamed, then
//     marked `queued` (recover_claims settles what a crash interrupted).
// The renames run on the folder thread; when several daemons watch one
// share, the rename decides who wins, and a lost rename leaves no job.
// How many files the next claim may take: a full batch, unless a writer is
// filling the folder (WriteBurst). Then claims wait for its burst to pause,
// taking only a few files whenever handler slots stand idle, and after
// kMaxYield of waiting take full batches again until it ends.
std::size_t Inbox::claim_room(MonoTime now) {
  if (!burst_.busy(now) || !yield_left(now)) return kClaimBatch;
  if (yield_began_ < burst_.began()) yield_began_ = now;
  if (!starved_) return 0;
  return std::max<std::size_t>(8, 4 * static_cast<std::size_t>(config_.concurrency));
}

// Whether claims wait for a writer's burst now: claim_room would give 0.
bool Inbox::yielding(MonoTime now) const {
  return burst_.busy(now) && yield_left(now) && !starved_;
}

// Whether the current burst's wait has not used up kMaxYield (or not begun).
bool Inbox::yield_left(MonoTime now) const {
  return yield_began_ < burst_.began() || now - yield_began_ < kMaxYield;
}

void Inbox::claim_batch(const std::vector<watcher::FileInfo>& files) {
  auto defer = [this] {
    backlog_until_ = mono_now() + config_.poll_interval;
    settling_ = false;
    arm_settle_timer();
  };
  // Files left out stay in the settle tracker, due: its timer brings them
  // back once the burst pauses or a slot stands idle.
  auto yield_room = claim_room(mono_now());
  if (yield_room == 0) {
    settling_ = false;
    arm_settle_timer();
    return;
  }
  if (services_.state_disk->failing()) return defer();
  auto waiting = services_.store->waiting_count(config_.name);
  if (!waiting) {
    log_->error("claim deferred inbox={} error={}", config_.name, quote(waiting.error().message));
    return defer();
  }
  auto room = std::min(config_.max_queue - *waiting, static_cast<std::int64_t>(yield_room));
  if (room <= 0) {
    if (backlog_until_ == MonoTime{}) {
      log_->warn("queue full inbox={} max_queue={}: files wait in the drop folder", config_.name,
                 config_.max_queue);
    }
    return defer();
  }
  backlog_until_ = MonoTime{};
  std::vector<queue::NewClaim> claims;
  for (const auto& f : files) {
    if (static_cast<std::int64_t>(claims.size()) >= room) break;
    claims.push_back(
        {config_.name, std::string(f.name()), f.rel, static_cast<std::int64_t>(f.size)});
  }
  const bool record_first = std::any_of(claims.begin(), claims.end(),
                                        [](const auto& claim) { return claim.rel != claim.name; });
  auto ids = record_first ? services_.store->begin_claims(claims, wall_now_ms())
                          : services_.store->reserve_ids(claims.size());
  if (!ids) {
    state_write_failed(ids.error());
    return defer();
  }
  // Recorded-first claims keep a folder each: their recovery finds the
  // target from the job's id alone.
  auto moves = spool_moves(claims, *ids, !record_first && on_local_disk());
  std::vector<fs::path> targets;
  targets.reserve(moves.size());
  for (const auto& move : moves) targets.push_back(move.target);
  auto what = fmt::format("claim {} files in {}", moves.size(), config_.path.string());
  call<ClaimMoves>(
      what,
      [inbox = config_.path, spool = spool_dir(), moves = std::move(moves)] {
        return move_into_spool(inbox, spool, moves, {});
      },
      [this, claims, ids = *ids, targets = std::move(targets), record_first](
          const ClaimMoves& moved) { on_claims_moved(claims, ids, targets, moved, record_first); });
}

// Where a batch's files go: with `share_folders`, into the open folder as
// long as their names are new there and their ids within its span, else
// into a new folder that becomes the open one; otherwise a folder per file.
// Each new folder is a kept empty one when there is one.
std::vector<SpoolMove> Inbox::spool_moves(const std::vector<queue::NewClaim>& claims,
                                          const std::vector<std::int64_t>& ids,
                                          bool share_folders) {
  std::vector<SpoolMove> moves;
  moves.reserve(claims.size());
  for (std::size_t i = 0; i < claims.size(); ++i) {
    bool joins = share_folders && open_folder_ && ids[i] - open_folder_->id < kSpoolFolderSpan &&
                 open_folder_->names.insert(claims[i].name).second;
    auto folder = joins ? open_folder_->id : ids[i];
    if (share_folders && !joins) open_folder_ = OpenFolder{ids[i], {claims[i].name}};
    moves.push_back({config_.path / claims[i].rel, spool_path(folder, claims[i].name), joins, {}});
    if (!joins && !kept_folders_.empty()) {
      moves.back().reuse = free_folder(kept_folders_.back());
      kept_folders_.pop_back();
    }
  }
  return moves;
}

void Inbox::on_claims_moved(const std::vector<queue::NewClaim>& claims,
                            const std::vector<std::int64_t>& ids,
                            const std::vector<fs::path>& targets, const ClaimMoves& moves,
                            bool recorded_first) {
  if (moves.refused) {
    log_->error("claims stopped inbox={} error={}", config_.name, quote(*moves.refused));
    backlog_until_ = mono_now() + config_.poll_interval;
  }
  std::vector<queue::QueueStore::ClaimResult> results;
  for (std::size_t i = 0; i < claims.size(); ++i) {
    const auto* move = i < moves.results.size() ? &moves.results[i] : nullptr;
    bool moved = move != nullptr && move->moved;
    if (!moved) close_open_folder(targets[i]);  // it may be gone, or taken
    if (moved) ++folder_files_[targets[i].parent_path()];
    results.push_back({ids[i], moved ? std::optional(targets[i].string()) : std::nullopt});
    if (move != nullptr && !moved && move->error_code != 0 && move->error_code != ENOENT) {
      log_->warn("claim failed inbox={} file={} error={}", config_.name, quote(claims[i].rel),
                 quote(move->error));
    }
  }
  std::vector<ClaimedFile> claimed;
  for (std::size_t i = 0; i < claims.size(); ++i) {
    // A spool folder that exists already (see move_one) is no reason to
    // give up on the file: its next claim gets a new id.
    if (i < moves.results.size() && moves.results[i].retry) continue;
    settle_.forget(claims[i].rel);
    if (!results[i].spool_path) continue;
    claimed.push_back(claimed_file(ids[i], claims[i], *results[i].spool_path));
    claimed.back().replaced_by = moves.results[i].replaced_by;
  }
  settling_ = false;
  auto announce = [this, claimed = std::move(claimed)] { on_claims_recorded(claimed); };
  if (recorded_first) {
    confirm_claims(results, announce);
  } else {
    record_claims(claims, results, announce);
  }
  arm_settle_timer();
  pump();
}

Inbox::ClaimedFile Inbox::claimed_file(std::int64_t id, const queue::NewClaim& claim,
                                       std::string spool_path) const {
  queue::Job job;
  job.id = id;
  job.inbox = config_.name;
  job.name = claim.name;
  job.rel = claim.rel;
  job.size = claim.size;
  job.path = std::move(spool_path);
  return {std::move(job), {}};
}

// What follows a claim once its write is in the queue, also when a failing
// state disk delayed that write: the claim is counted, logged and
// announced, and a file replaced before its rename or over max_file_size
// fails at once, never reaching a handler.
void Inbox::on_claims_recorded(const std::vector<ClaimedFile>& claimed) {
  for (const auto& [job, replaced_by] : claimed) {
    ++services_.stats.claimed;
    ++metrics_.claimed;
    log_->info("job claimed id={} inbox={} file={} size={}", job.id, config_.name, quote(job.rel),
               job.size);
    publish_job(job, queue::JobState::kQueued, 0);
    if (!replaced_by.empty()) {
      log_->warn("file replaced before its claim id={} inbox={} file={} now={}", job.id,
                 config_.name, quote(job.rel), replaced_by);
      finish_job(job, nullptr, queue::JobState::kFailed,
                 "replaced by " + replaced_by + " after it was examined; not handed to a handler");
      continue;
    }
    if (config_.max_file_size > 0 && static_cast<std::uint64_t>(job.size) > config_.max_file_size) {
      fail_too_large(job);
    }
  }
}

void Inbox::fail_too_large(const queue::Job& job) {
  auto reason = fmt::format("too large ({} bytes, limit {})", job.size, config_.max_file_size);
  finish_job(job, nullptr, queue::JobState::kFailed, reason);
}

// Claims cut short by a crash are finished, files of jobs that ended just
// before it are moved on, and spooled files without a job are adopted. The
// spool is read on the folder thread; the queue is updated here.
void Inbox::recover_claims() {
  std::vector<fs::path> pending;  // spool paths of `claiming` jobs, in order
  std::vector<queue::Job> claiming;
  if (auto found = services_.store->pending_claims()) {
    for (auto& job : *found) {
      if (job.inbox != config_.name) continue;
      pending.push_back(spool_path(job.id, job.name));
      claiming.push_back(std::move(job));
    }
  }
  post<SpoolSurvey>(
      "read spool " + spool_dir().string(),
      [spool = spool_dir(), pending, keep = on_local_disk() ? kKeptFolders : 0] {
        return survey_spool(spool, pending, keep);
      },
      [this, claiming, pending](const SpoolSurvey& survey) {
        on_survey(claiming, pending, survey);
      });
}

// Matches the files of one spool folder with their jobs, among the ids the
// folder may hold (kSpoolFolderSpan), reading jobs in id order only until
// every file has one: a folder of one job reads one row. Jobs that ended
// just before a crash have their files moved on (in an empty folder, each
// such job is visited, so that the folder is removed). Returns the folder
// with only the files no job owns, for adoption (an empty folder no job
// owns is returned too, to be removed); nullopt when there are none, or the
// queue cannot be read.
std::optional<SpoolSurvey::Folder> Inbox::settle_spool_folder(const SpoolSurvey::Folder& folder) {
  std::unordered_set<std::string> unmatched;  // names
  for (const auto& file : folder.files) unmatched.insert(file.first);
  const bool empty = unmatched.empty();
  bool owned = false;
  std::vector<queue::Job> ended;
  // Matched by folder and name, not by the whole path: a share mounted
  // elsewhere now must not make waiting files look unowned.
  auto visited = services_.store->visit_jobs_between(
      folder.id, folder.id + kSpoolFolderSpan, [&](const queue::Job& job) {
        if (job.inbox != config_.name || !job.path) return true;
        fs::path path(*job.path);
        if (path.parent_path().filename() != folder.path.filename()) return true;
        owned = true;
        bool here = unmatched.erase(path.filename().string()) > 0;
        if (queue::is_terminal(job.state) && (here || empty)) {
          ended.push_back(job);
          ended.back().path = (folder.path / path.filename()).string();
        }
        return empty || !unmatched.empty();
      });
  if (!visited) {
    log_->error("spool folder not checked inbox={} folder={} error={}", config_.name,
                quote(folder.path.string()), quote(visited.error().message));
    return std::nullopt;
  }
  for (const auto& job : ended) {
    log_->info("finishing interrupted outcome id={} inbox={} state={}", job.id, config_.name,
               queue::to_string(job.state));
    place_file(job);
  }
  SpoolSurvey::Folder unowned{folder.id, folder.path, {}};
  for (const auto& file : folder.files) {
    if (unmatched.contains(file.first)) unowned.files.push_back(file);
  }
  if (unowned.files.empty() && !(empty && !owned)) return std::nullopt;
  return unowned;
}

void Inbox::on_survey(const std::vector<queue::Job>& claiming, const std::vector<fs::path>& pending,
                      const SpoolSurvey& survey) {
  // A folder may hold files of ids a crashed process handed out and never
  // recorded: no claim from now on, adoptions included, is given one, so
  // none is sent into that folder again.
  std::int64_t past = 0;
  for (const auto& folder : survey.folders) past = std::max(past, folder.id + kSpoolFolderSpan);
  if (auto skipped = services_.store->skip_ids_below(past); !skipped) {
    log_->error("claim ids not moved past the spool's folders inbox={} error={}", config_.name,
                quote(skipped.error().message));
  }
  std::vector<std::int64_t> ids;
  std::vector<queue::NewClaim> claims;
  std::vector<std::optional<std::string>> spooled;
  for (std::size_t i = 0; i < claiming.size() && i < survey.pending_present.size(); ++i) {
    const auto& job = claiming[i];
    ids.push_back(job.id);
    claims.push_back({config_.name, job.name, job.rel, job.size});
    spooled.push_back(survey.pending_present[i] ? std::optional(pending[i].string())
                                                : std::nullopt);
  }
  if (!ids.empty()) {
    log_->info("recovered interrupted claims inbox={} count={}", config_.name, ids.size());
    confirm_spooled(ids, claims, spooled);
  }
  // Only on a local disk: a share may lack RENAME_NOREPLACE, which keeps a
  // reused folder from landing on an existing one.
  if (on_local_disk()) {
    kept_folders_ = survey.free_folders;
  }
  std::vector<SpoolSurvey::Folder> orphans;
  for (const auto& folder : survey.folders) {
    auto unowned = settle_spool_folder(folder);
    if (unowned) orphans.push_back(std::move(*unowned));
  }
  if (!orphans.empty()) adopt_orphans(orphans);
  pump();
}

// Makes a claim's write and runs `then` once it is made: now, or when a
// failing state disk lets it be made again (in order, with the rest).
void Inbox::write_claims(std::function<Result<void>()> write, std::function<void()> then) {
  auto made = write();
  if (made) {
    then();
    return;
  }
  state_write_failed(made.error(), [write = std::move(write), then = std::move(then)] {
    auto again = write();
    if (again) then();
    return again;
  });
}

// Step 3 of a claim. Until it is written the renamed files are `claiming`
// jobs: never runnable, and found again by recover_claims after a crash.
void Inbox::confirm_claims(std::vector<queue::QueueStore::ClaimResult> results,
                           std::function<void()> then) {
  write_claims(
      [this, results = std::move(results)] {
        return services_.store->finish_claims(results, wall_now_ms());
      },
      std::move(then));
}

// Step 3 for claims recorded first whose renames are known: `spooled[i]` is
// where claim i's file now is in the spool, nullopt if it did not get there.
void Inbox::confirm_spooled(const std::vector<std::int64_t>& ids,
                            const std::vector<queue::NewClaim>& claims,
                            const std::vector<std::optional<std::string>>& spooled) {
  std::vector<queue::QueueStore::ClaimResult> results;
  std::vector<ClaimedFile> claimed;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    results.push_back({ids[i], spooled[i]});
    if (spooled[i]) claimed.push_back(claimed_file(ids[i], claims[i], *spooled[i]));
  }
  confirm_claims(std::move(results),
                 [this, claimed = std::move(claimed)] { on_claims_recorded(claimed); });
}

// The last step of a claim whose files were renamed first: the renamed ones
// become `queued` jobs. Until then they are spool folders without a job,
// which a restart would adopt.
void Inbox::record_claims(const std::vector<queue::NewClaim>& claims,
                          const std::vector<queue::QueueStore::ClaimResult>& results,
                          std::function<void()> then) {
  std::vector<queue::QueueStore::SpooledClaim> renamed;
  for (std::size_t i = 0; i < claims.size() && i < results.size(); ++i) {
    if (results[i].spool_path)
      renamed.push_back({results[i].job_id, claims[i], *results[i].spool_path});
  }
  if (renamed.empty()) return;
  write_claims(
      [this, renamed = std::move(renamed)] {
        return services_.store->record_claims(renamed, wall_now_ms());
      },
      std::move(then));
}

// Files in a spool folder that no job owns (a power loss took the claim's
// rows before they reached the disk, or the database was replaced by an
// older copy): each gets a job, so it is processed, not forgotten. A lone
// file in a folder whose id no job has takes that id and stays where it is;
// the others are claimed again under new ids, each into a new folder of its
// own, so nothing collides (a folder is removed once nothing is left in it).
void Inbox::adopt_orphans(const std::vector<SpoolSurvey::Folder>& folders) {
  std::vector<queue::NewClaim> claims;
  std::vector<fs::path> sources;
  std::vector<fs::path> emptied;
  for (const auto& folder : folders) {
    if (folder.files.size() == 1) {
      const auto& [name, size] = folder.files.front();
      const queue::QueueStore::SpooledClaim found{
          folder.id, {config_.name, name, name, size}, (folder.path / name).string()};
      if (services_.store->record_claims({&found, 1}, wall_now_ms())) {
        log_->warn("spooled file without a job adopted id={} inbox={} file={}", folder.id,
                   config_.name, quote(found.spool_path));
        on_claims_recorded({claimed_file(found.id, found.claim, found.spool_path)});
        continue;
      }
    }
    for (const auto& [name, size] : folder.files) {
      claims.push_back({config_.name, name, name, size});
      sources.push_back(folder.path / name);
    }
    emptied.push_back(folder.path);
  }
  if (claims.empty() && emptied.empty()) return;
  auto ids = services_.store->begin_claims(claims, wall_now_ms());
  if (!ids) {
    state_write_failed(ids.error());
    return;
  }
  std::vector<SpoolMove> moves;
  for (std::size_t i = 0; i < claims.size(); ++i) {
    moves.push_back({sources[i], spool_path((*ids)[i], claims[i].name), false, {}});
    log_->warn("spooled file without a job adopted id={} inbox={} file={}", (*ids)[i], config_.name,
               quote(sources[i].string()));
  }
  post<ClaimMoves>(
      "adopt spooled files in " + spool_dir().string(),
      [inbox = config_.path, spool = spool_dir(), moves = std::move(moves),
       emptied = std::move(emptied)] { return move_into_spool(inbox, spool, moves, emptied); },
      [this, claims, ids = *ids](const ClaimMoves& moved) {
        std::vector<std::optional<std::string>> spooled;
        for (std::size_t i = 0; i < claims.size(); ++i) {
          bool ok = i < moved.results.size() && moved.results[i].moved;
          spooled.push_back(ok ? std::optional(spool_path(ids[i], claims[i].name).string())
                               : std::nullopt);
        }
        confirm_spooled(ids, claims, spooled);
        pump();
      });
}

// --- Running handlers -----------------------------------------------------

// Re-entrant calls (a job that fails before it starts ends up here again)
// only ask for another round: a nested round would start jobs the outer one
// is still walking through.
void Inbox::pump() {
  if (pumping_) {
    pump_again_ = true;
    return;
  }
  struct Round {
    bool& flag;
    explicit Round(bool& f) : flag(f) { flag = true; }
    Round(const Round&) = delete;
    Round& operator=(const Round&) = delete;
    ~Round() { flag = false; }
  } round(pumping_);
  do {
    pump_again_ = false;
    pump_round();
  } while (pump_again_);
}

void Inbox::pump_round() {
  bool was_starved = std::exchange(starved_, false);
  if (intake_stopped_ || !available_ || stuck_ || paused_ || services_.state_disk->failing())
    return;
  auto free = config_.concurrency - static_cast<int>(running_.size() + starting_.size());
  auto now = mono_now();
  if (breaker_.open()) {
    // A tripped inbox starts nothing but, after the cooldown, one probe.
    if (!breaker_.probe_due(now)) {
      arm_breaker_timer();
      return;
    }
    free = std::min(free, 1);
  }
  if (free > 0) {
    // Jobs whose spool check is still running are runnable in the store
    // too: ask for as many more and pass over them.
    auto jobs = services_.store->next_runnable(config_.name, wall_now_ms(),
                                               free + static_cast<int>(starting_.size()));
    if (!jobs) {
      log_->error("cannot read queue inbox={} error={}", config_.name, quote(jobs.error().message));
      return;
    }
    for (const auto& job : *jobs) {
      if (services_.state_disk->failing() || !available_ || stuck_ || paused_) return;
      if (free == 0) break;
      if (starting_.contains(job.id)) continue;
      --free;
      if (breaker_.open()) {
        breaker_.start_probe();
        probe_job_ = job.id;
        log_->info("breaker probe inbox={} id={}", config_.name, job.id);
      }
      start_job(job);
    }
    if (!jobs->empty() && backlog_until_ != MonoTime{}) {
      backlog_until_ = MonoTime{};
      arm_settle_timer();
    }
    // Slots stand idle: claims waiting for a writer's burst take a few now.
    starved_ = free > 0;
    if (starved_ && !was_starved) arm_settle_timer();
  }
  arm_retry_timer();
}

// Pumps from the next turn of the loop, after its I/O. On a local disk a
// job's spool check runs on the loop itself, so a spool emptied behind the
// daemon's back would otherwise fail one queued job after another in a
// single turn, holding the admin socket, readiness and the watchdog for as
// long as the queue is long. An idle handle, not a zero timer: libuv runs a
// zero timer re-armed in its own callback again in the same turn.
void Inbox::pump_soon() {
  uv_idle_start(pump_idle_.get(), [](uv_idle_t* idle) {
    uv_idle_stop(idle);
    auto* self = static_cast<Inbox*>(idle->data);
    guarded(*self->log_, "pump", [self] { self->pump(); });
  });
}

void Inbox::arm_breaker_timer() {
  auto ends = breaker_.cooldown_ends();
  if (!ends) return;
  auto delay = std::chrono::duration_cast<Millis>(*ends - mono_now()).count();
  uv_timer_start(
      breaker_timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<Inbox*>(t->data);
        guarded(*self->log_, "breaker", [self] { self->pump(); });
      },
      static_cast<std::uint64_t>(std::max<long long>(delay, 0)) + 1, 0);
}

// The job that was to probe a tripped breaker will not run now: the
// breaker may pick the next one.
void Inbox::abandon_probe(std::int64_t job_id) {
  if (probe_job_ != job_id) return;
  probe_job_.reset();
  breaker_.probe_abandoned();
}

// Feeds a finished attempt to the breaker (never one cut short by a stop).
void Inbox::record_result(std::int64_t job_id, bool success) {
  auto now = mono_now();
  if (probe_job_ == job_id) {
    probe_job_.reset();
    if (breaker_.probe_finished(success, now)) {
      log_->info("breaker closed inbox={}: the probe succeeded", config_.name);
    } else {
      log_->error("breaker tripped again inbox={}: the probe failed; next probe in {}",
                  config_.name, format_duration(config_.error_threshold.cooldown));
    }
  } else if (breaker_.record(success, now)) {
    log_->error("breaker tripped inbox={} failure_rate={:.2f} window={}: no new handlers for {}",
                config_.name, breaker_.failure_rate(), breaker_.samples(),
                format_duration(config_.error_threshold.cooldown));
  }
  publish_state();
}

InboxState Inbox::state() const {
  if (!available_ || stuck_) return InboxState::kUnavailable;
  if (paused_) return InboxState::kPaused;
  if (breaker_.open()) return InboxState::kTripped;
  return InboxState::kActive;
}

void Inbox::publish_state() {
  auto now_state = state();
  if (published_state_ == now_state) return;
  published_state_ = now_state;
  if (services_.on_inbox) services_.on_inbox(config_.name, to_string(now_state));
}

void Inbox::publish_job(const queue::Job& job, queue::JobState state, int attempt) {
  if (services_.on_job) services_.on_job(job, state, attempt);
}

void Inbox::pause() {
  paused_ = true;
  log_->info("inbox paused inbox={}", config_.name);
  publish_state();
}

void Inbox::resume() {
  paused_ = false;
  breaker_.reset();
  if (probe_job_) probe_job_.reset();
  uv_timer_stop(breaker_timer_.get());
  log_->info("inbox resumed inbox={}", config_.name);
  publish_state();
  pump();
}

bool Inbox::can_update_to(const config::InboxConfig& next) const {
  return next.name == config_.name && next.path == config_.path &&
         next.done_dir == config_.done_dir && next.failed_dir == config_.failed_dir;
}

void Inbox::update_config(const config::InboxConfig& next) {
  bool rewatch = next.recursive != config_.recursive || next.watch != config_.watch ||
                 next.include != config_.include || next.exclude != config_.exclude ||
                 next.poll_interval != config_.poll_interval ||
                 next.rescan_interval != config_.rescan_interval;
  config_ = next;
  breaker_.set_threshold(config_.error_threshold);
  settle_.set_settle(config_.settle);
  filter_ = watcher::NameFilter(config_.include, config_.exclude);
  if (rewatch && available_ && !intake_stopped_ && !stuck_) {
    if (inotify_) inotify_->close();
    inotify_.reset();
    uv_timer_stop(scan_timer_.get());
    start_watching();
  }
  log_->info("inbox reconfigured inbox={}{}", config_.name, rewatch ? " rewatch=true" : "");
  publish_state();
  pump();
}

void Inbox::arm_retry_timer() {
  auto due = services_.store->next_retry_due(config_.name);
  if (!due || !*due) {
    uv_timer_stop(retry_timer_.get());
    return;
  }
  auto delay = std::max<std::int64_t>(**due - wall_now_ms(), 0);
  uv_timer_start(
      retry_timer_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<Inbox*>(t->data);
        guarded(*self->log_, "retry", [self] { self->pump(); });
      },
      static_cast<std::uint64_t>(delay) + 1, 0);
}

std::string Inbox::job_fields(const queue::Job& job, int attempt) const {
  return fmt::format("id={} inbox={} attempt={}", job.id, config_.name, attempt);
}

runner::HandlerSpec Inbox::handler_spec(const queue::Job& job, int attempt,
                                        const fs::path& work_dir) const {
  auto [stem, ext] = config::split_extension(job.name);
  config::PlaceholderValues values{
      .path = job.path.value_or(""),
      .name = job.name,
      .stem = stem,
      .ext = ext,
      .rel = job.rel,
      .inbox = config_.name,
      .job = std::to_string(job.id),
      .attempt = std::to_string(attempt),
      .work_dir = work_dir.string(),
  };
  runner::HandlerSpec spec;
  for (const auto& element : config_.command) {
    spec.argv.push_back(config::expand_template(element, values));
  }
  spec.env = services_.base_env;
  spec.env.push_back("INBOXD_JOB=" + values.job);
  spec.env.push_back("INBOXD_INBOX=" + values.inbox);
  spec.env.push_back("INBOXD_ATTEMPT=" + values.attempt);
  spec.env.push_back("INBOXD_FILE=" + values.path);
  spec.env.push_back("INBOXD_NAME=" + values.name);
  spec.env.push_back("INBOXD_WORK_DIR=" + values.work_dir);
  for (const auto& [key, value] : config_.env) spec.env.push_back(fmt::format("{}={}", key, value));
  spec.cwd = work_dir;
  spec.timeout = config_.timeout;
  spec.kill_grace = config_.kill_grace;
  return spec;
}

// Work folders are reused per handler slot (work/<inbox>/<n>) and emptied
// after every attempt: each attempt still starts in an empty folder, and the
// daemon does not create and remove a directory per job (a mkdir costs over
// a millisecond on ext4 once many directories were recently deleted). A
// slot is made and emptied when first taken (a crash may have left files);
// after that, emptying it at release is enough, unless that failed.
Result<fs::path> Inbox::take_work_dir() {
  std::size_t slot = 0;
  while (slot < work_slots_.size() && work_slots_[slot].taken) ++slot;
  if (slot == work_slots_.size()) work_slots_.emplace_back();
  auto dir = services_.work_root / config_.name / std::to_string(slot);
  if (!work_slots_[slot].empty) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return fail("mkdir " + dir.string() + ": " + ec.message(), ec.value());
    ::chmod(dir.c_str(), 0700);
    (void)empty_folder(dir);
  }
  work_slots_[slot] = {.taken = true, .empty = false};
  return dir;
}

void Inbox::release_work_dir(const fs::path& dir) {
  auto slot = std::strtoull(dir.filename().c_str(), nullptr, 10);
  if (slot < work_slots_.size()) work_slots_[slot] = {.taken = false, .empty = empty_folder(dir)};
}

bool Inbox::empty_folder(const fs::path& dir) {
  if (folder_is_empty(dir)) return true;
  std::error_code ec;
  bool emptied = true;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code remove_ec;
    fs::remove_all(it->path(), remove_ec);
    if (remove_ec) {
      emptied = false;
      log_->warn("cannot clean work folder inbox={} path={} error={}", config_.name,
                 quote(it->path().string()), quote(remove_ec.message()));
    }
  }
  return emptied && !ec;
}

// The spooled file is checked first: a file removed behind the daemon's
// back fails with that reason instead of running a handler on nothing, and a
// spool that is gone altogether (a share no longer mounted) makes the inbox
// unavailable instead of failing its jobs.
void Inbox::start_job(const queue::Job& job) {
  if (!job.path) {
    launch(job);
    return;
  }
  starting_.insert(job.id);
  call<SpoolCheck>(
      "check " + *job.path,
      [file = fs::path(*job.path), spool = spool_dir()] { return check_spooled(file, spool); },
      [this, job](const SpoolCheck& check) {
        starting_.erase(job.id);
        on_spool_checked(job, check);
      });
}

void Inbox::on_spool_checked(const queue::Job& job, const SpoolCheck& check) {
  bool canceled = cancel_requested_.erase(job.id) > 0;
  // Inside a commit shared with a finished job (finish_and_start_next),
  // which must hold nothing but that outcome and the starts, a spool
  // problem waits for the next turn.
  bool later = held_launches_ && (check.spool_gone || !check.present);
  if (later || canceled || intake_stopped_ || paused_ || stuck_ ||
      services_.state_disk->failing()) {
    abandon_probe(job.id);
    if (later) pump_soon();
    return;
  }
  if (check.spool_gone) {
    log_->warn("spool folder gone inbox={} spool={}: reopening the inbox", config_.name,
               quote(spool_dir().string()));
    reopen();
    return;
  }
  if (!check.present) {
    finish_job(job, nullptr, queue::JobState::kFailed,
               "file missing from the spool (removed outside inboxd)", true);
    pump_soon();
    return;
  }
  launch(job);
}

void Inbox::launch(const queue::Job& job) {
  auto begun = begin_launch(job);
  if (!begun) return;
  if (held_launches_) {
    starting_.insert(job.id);
    held_launches_->push_back(std::move(*begun));
    return;
  }
  spawn_handler(*begun);
}

// Records the attempt's start; the handler may start once that is
// committed. Failures are handled here (nullopt).
std::optional<Inbox::Launch> Inbox::begin_launch(const queue::Job& job) {
  int attempt = job.attempts + 1;
  // The work folder lives in the state directory: failing to make it is a
  // failing state disk, not a failed attempt.
  auto work_dir = take_work_dir();
  if (!work_dir) {
    state_write_failed(work_dir.error());
    return std::nullopt;
  }
  auto started_at = wall_now_ms();
  if (auto ok = services_.store->start_attempt(job.id, attempt, started_at); !ok) {
    release_work_dir(*work_dir);
    state_write_failed(ok.error());
    return std::nullopt;
  }
  return Launch{job, attempt, started_at, *work_dir};
}

// A launch whose start was rolled back with the commit it waited for: the
// job is still runnable in the store and starts on a later pump.
void Inbox::abandon_launch(const Launch& launch) {
  starting_.erase(launch.job.id);
  release_work_dir(launch.work_dir);
  abandon_probe(launch.job.id);
}

void Inbox::spawn_handler(const Launch& launch) {
  const auto& job = launch.job;
  starting_.erase(job.id);
  auto spec = handler_spec(job, launch.attempt, launch.work_dir);
  auto run = services_.runner->start(std::move(spec), [this, job](runner::HandlerResult result) {
    auto it = running_.find(job.id);
    if (it == running_.end()) return;
    auto finished = it->second;
    running_.erase(it);
    if (finished.pid_slot) services_.pids->release(*finished.pid_slot);
    on_handler_done(job, finished, std::move(result));
  });
  if (!run) {
    release_work_dir(launch.work_dir);
    ++metrics_.attempts;
    record_spawn_failure(job, launch.attempt, launch.started_at, run.error());
    return;
  }
  auto& running = running_[job.id];
  running = Running{*run, launch.attempt, launch.started_at, launch.work_dir, std::nullopt};
  auto pid = services_.runner->pid(*run).value_or(0);
  if (pid > 0) {
    running.pid_slot =
        record_pid(job, launch.attempt, pid, services_.runner->start_time(*run).value_or(0));
  }
  log_->info("job started {} pid={} file={}", job_fields(job, launch.attempt), pid, quote(job.rel));
  publish_job(job, queue::JobState::kRunning, launch.attempt);
}

// Where the next process finds this handler should the daemon crash while
// it runs. The pid table costs one write and no transaction; when it
// fails, the queue takes the record instead.
std::optional<std::size_t> Inbox::record_pid(const queue::Job& job, int attempt, pid_t pid,
                                             std::uint64_t start) {
  bool was_failing = services_.pids->failing();
  auto slot = services_.pids->put({job.id, attempt, pid, start});
  if (slot) return *slot;
  // Once per stretch of failures, not once per handler.
  if (!was_failing) {
    log_->warn("handler pids kept in the queue until the pid table works again {} error={}",
               job_fields(job, attempt), quote(slot.error().message));
  }
  (void)services_.store->set_attempt_pid(job.id, attempt, pid, start);
  return std::nullopt;
}

void Inbox::record_spawn_failure(const queue::Job& job, int attempt, EpochMs started,
                                 const Error& error) {
  log_->error("handler did not start {} error={}", job_fields(job, attempt), quote(error.message));
  queue::Attempt record;
  record.job_id = job.id;
  record.attempt = attempt;
  record.started_at = started;
  record.finished_at = wall_now_ms();
  record.stderr_tail = error.message;
  conclude_failure(job, record, "handler did not start: " + error.message);
}

void Inbox::on_handler_done(const queue::Job& job, const Running& run,
                            runner::HandlerResult result) {
  release_work_dir(run.work_dir);
  queue::Attempt record;
  record.job_id = job.id;
  record.attempt = run.attempt;
  record.started_at = run.started_at;
  record.finished_at = wall_now_ms();
  record.duration_ms = result.duration.count();
  record.exit_code = result.exit_code;
  if (result.signal) record.signal = runner::signal_name(*result.signal);
  record.timed_out = result.timed_out;
  record.stdout_tail = std::move(result.stdout_tail);
  record.stderr_tail = std::move(result.stderr_tail);
  record.pid = result.pid;
  auto fields = job_fields(job, run.attempt);
  ++metrics_.attempts;
  if (result.timed_out) ++metrics_.timeouts;
  metrics_.durations.observe(static_cast<double>(record.duration_ms) / 1000.0);
  if (cancel_requested_.erase(job.id) > 0 && result.exit_code != 0) {
    abandon_probe(job.id);
    finish_job(job, &record, queue::JobState::kCanceled, "canceled by an administrator");
    pump();
    return;
  }
  if (result.stopped && stopping_handlers_) {
    // Cut short by a graceful stop: not the file's fault, not counted.
    record.counted = false;
    auto requeue = [this, record, id = job.id] {
      return services_.store->finish_attempt(
          record,
          {id, queue::JobState::kQueued, std::nullopt, std::string("interrupted by shutdown")},
          wall_now_ms());
    };
    if (auto ok = requeue(); !ok) state_write_failed(ok.error(), requeue);
    log_->info("job interrupted {} ms={} state=queued", fields, record.duration_ms);
    abandon_probe(job.id);
    publish_job(job, queue::JobState::kQueued, run.attempt);
    return;
  }
  if (result.start_error) {
    record_spawn_failure(job, run.attempt, run.started_at, *result.start_error);
    return;
  }
  if (result.exit_code == 0) {
    record_result(job.id, true);
    finish_and_start_next(job, record);
    return;
  }
  conclude_failure(job, record, describe(result, config_.timeout));
}

void Inbox::conclude_failure(const queue::Job& job, const queue::Attempt& attempt,
                             const std::string& reason) {
  record_result(job.id, false);
  int used = attempt.attempt - job.budget_base;
  bool permanent =
      attempt.exit_code &&
      std::find(config_.permanent_exit_codes.begin(), config_.permanent_exit_codes.end(),
                *attempt.exit_code) != config_.permanent_exit_codes.end();
  if (permanent || used >= config_.retries + 1) {
    finish_job(job, &attempt, queue::JobState::kFailed,
               permanent ? reason + " (permanent)" : reason);
    pump();
    return;
  }
  auto delay =
      jittered_backoff(config_.retry_backoff, config_.retry_backoff_max, used, services_.rng);
  auto record = [this, job, attempt, reason, delay]() -> Result<void> {
    auto now = wall_now_ms();
    auto ok = services_.store->finish_attempt(
        attempt, {job.id, queue::JobState::kRetryWait, now + delay.count(), reason}, now);
    if (!ok) return ok;
    ++services_.stats.retried;
    ++metrics_.retried;
    log_->info("job finished {} ms={} state=retry_wait reason={} retry_in={}",
               job_fields(job, attempt.attempt), attempt.duration_ms, quote(reason),
               format_duration(delay));
    publish_job(job, queue::JobState::kRetryWait, attempt.attempt);
    return {};
  };
  if (auto ok = record(); !ok) state_write_failed(ok.error(), record);
  pump();
}

// Ends a job: records the attempt (if any) and the terminal state in one
// transaction while the file is still in the spool, then moves the file on
// the folder thread and records where it landed. A crash in between leaves
// the file in the spool with the job terminal; recover_claims finishes the
// move. So a job may show its terminal state a moment before its file
// lands, never the other way round.
void Inbox::finish_job(const queue::Job& job, const queue::Attempt* attempt, queue::JobState state,
                       const std::string& reason, bool file_gone) {
  std::optional<queue::Attempt> finished;
  if (attempt != nullptr) finished = *attempt;
  if (auto ok = record_outcome(job, finished, state, reason, file_gone); !ok) {
    state_write_failed(ok.error(), [this, job, finished, state, reason, file_gone] {
      return record_outcome(job, finished, state, reason, file_gone);
    });
  }
}

Result<void> Inbox::record_outcome(const queue::Job& job,
                                   const std::optional<queue::Attempt>& attempt,
                                   queue::JobState state, const std::string& reason,
                                   bool file_gone) {
  auto now = wall_now_ms();
  if (auto ok = write_outcome(job, attempt, state, reason, file_gone, now); !ok) return ok;
  outcome_recorded(job, attempt, state, reason, file_gone, now);
  return {};
}

Result<void> Inbox::write_outcome(const queue::Job& job,
                                  const std::optional<queue::Attempt>& attempt,
                                  queue::JobState state, const std::string& reason, bool file_gone,
                                  EpochMs now) {
  queue::Transition transition{job.id, state, std::nullopt, reason};
  return services_.store->batch([&]() -> Result<void> {
    auto recorded = attempt ? services_.store->finish_attempt(*attempt, transition, now)
                            : services_.store->transition(transition, now);
    if (!recorded || !file_gone) return recorded;
    return services_.store->set_path(job.id, std::nullopt, now);
  });
}

// What follows a committed outcome: counters, the log line, the event, and
// the file's move out of the spool.
void Inbox::outcome_recorded(const queue::Job& job, const std::optional<queue::Attempt>& attempt,
                             queue::JobState state, const std::string& reason, bool file_gone,
                             EpochMs now) {
  bool done = state == queue::JobState::kDone;
  if (state == queue::JobState::kCanceled) {
    ++metrics_.canceled;
  } else {
    ++(done ? services_.stats.done : services_.stats.failed);
    ++(done ? metrics_.done : metrics_.failed);
  }
  completions_.push_back(mono_now());
  while (!completions_.empty() &&
         completions_.back() - completions_.front() > std::chrono::minutes(5)) {
    completions_.pop_front();
  }
  int number = attempt ? attempt->attempt : job.attempts;
  log_->info("job finished {} {}ms={} state={}{}", job_fields(job, number),
             attempt && attempt->exit_code ? fmt::format("exit={} ", *attempt->exit_code) : "",
             attempt ? attempt->duration_ms : 0, queue::to_string(state),
             reason.empty() ? "" : " reason=" + quote(reason));
  publish_job(job, state, number);
  if (file_gone) return;
  auto recorded = job;
  recorded.state = state;
  recorded.last_error = reason;
  recorded.updated_at = now;
  place_file(recorded);
}

// A job that succeeded and the jobs that take its slot share one commit:
// its outcome and their attempts' starts (a fifth fewer pages written per
// job, and one commit less between a handler's exit and the next spawn).
// Their handlers start once the commit holds, as after any start. If it
// fails, nothing of it was written: the outcome takes the usual path, with
// its own error handling, and the jobs stay runnable.
void Inbox::finish_and_start_next(const queue::Job& job, const queue::Attempt& attempt) {
  const std::optional<queue::Attempt> finished = attempt;
  auto now = wall_now_ms();
  held_launches_.emplace();
  auto ok = services_.store->batch_whole([&]() -> Result<void> {
    if (auto written = write_outcome(job, finished, queue::JobState::kDone, "", false, now);
        !written) {
      return written;
    }
    pump();
    return {};
  });
  auto held = std::exchange(held_launches_, std::nullopt).value_or(std::vector<Launch>{});
  if (!ok) {
    for (const auto& launch : held) abandon_launch(launch);
    finish_job(job, &attempt, queue::JobState::kDone, "");
    pump();
    return;
  }
  outcome_recorded(job, finished, queue::JobState::kDone, "", false, now);
  for (const auto& launch : held) spawn_handler(launch);
}

void Inbox::state_write_failed(const Error& error, std::function<Result<void>()> retry) {
  if (retry) {
    log_->warn("outcome kept in memory until the state directory works again inbox={} error={}",
               config_.name, quote(error.message));
    deferred_.push_back(std::move(retry));
  }
  services_.state_disk->report(error);
}

Result<void> Inbox::record_deferred() {
  while (!deferred_.empty()) {
    if (auto ok = deferred_.front()(); !ok) return ok;
    deferred_.pop_front();
  }
  return {};
}

void Inbox::kick() {
  backlog_until_ = MonoTime{};
  arm_settle_timer();
  pump();
}

// Moves a terminal job's file out of the spool once its outcome is on disk,
// so that no power loss can leave the job unfinished with its file gone.
// One sync covers the outcomes of many jobs under load: the files it freed
// in one loop turn go to the folder thread as one task, and where they
// landed is recorded in one transaction.
void Inbox::place_file(const queue::Job& job) {
  placing_.insert(job.id);
  ++committing_;
  services_.commit->after_durable(
      [this, life = std::weak_ptr(life_), job](const std::optional<Error>& error) {
        if (life.expired()) return;
        if (!error) {
          placeable_.push_back(job);
          at_turn_end();
          return;
        }
        --committing_;
        state_write_failed(*error, [this, job]() -> Result<void> {
          place_file(job);
          return {};
        });
      });
}

// Moves the files to their done or failed folders under free names (or
// deletes them), on the folder thread, with the report beside a failed or
// canceled file; then records where they landed. A task takes at most
// kPlaceBatch files, so one on a slow share still answers within
// kNotResponding.
void Inbox::post_placements(std::vector<queue::Job> jobs) {
  for (std::size_t first = 0; first < jobs.size(); first += kPlaceBatch) {
    auto last = std::min(jobs.size(), first + kPlaceBatch);
    std::vector<PlaceRequest> requests;
    requests.reserve(last - first);
    for (auto i = first; i < last; ++i) requests.push_back(placement_request(jobs[i]));
    auto what = requests.size() == 1
                    ? "move " + requests.front().from.string()
                    : fmt::format("move {} files from {}", requests.size(), spool_dir_.string());
    auto shared = std::make_shared<const std::vector<PlaceRequest>>(std::move(requests));
    post<std::vector<PlaceResult>>(
        what, [shared] { return place_outcomes(*shared); },
        [this, shared](const std::vector<PlaceResult>& placed) { on_placed(*shared, placed); });
  }
}

PlaceRequest Inbox::placement_request(const queue::Job& job) {
  bool done = job.state == queue::JobState::kDone;
  PlaceRequest request;
  request.inbox = config_.path;
  request.from = spooled_file(job);
  if (!done) {
    request.dest_dir = config_.failed_dir;
  } else if (config_.on_success == config::OnSuccess::kMove) {
    request.dest_dir = config_.done_dir;
  }
  request.rel = job.rel;
  request.failed = !done;
  request.job = job;
  if (!done) {
    auto fresh = services_.store->job(job.id);
    auto attempts = services_.store->attempts(job.id);
    if (fresh && *fresh) request.job = **fresh;
    if (attempts) request.attempts = std::move(*attempts);
    request.reason = job.last_error;
  }
  auto left = files_left_in_folder(request.from);
  request.folder_shared = left.value_or(0) > 0;
  bool keep = left == 0 && on_local_disk() && kept_folders_.size() + keeping_ < kKeptFolders;
  if (keep) {
    request.keep_folder_as = free_folder(job.id);
    ++keeping_;
  }
  close_open_folder(request.from);
  return request;
}

// How many other files this run put into `file`'s spool folder are still
// there, once `file` leaves it; nullopt when the folder is not this run's
// (recovery). Only an emptied folder is worth keeping for reuse: the folder
// thread looks whether it is empty before it keeps it, and that look reads
// every name in a folder that other files still share.
std::optional<int> Inbox::files_left_in_folder(const fs::path& file) {
  auto it = folder_files_.find(file.parent_path());
  if (it == folder_files_.end()) return std::nullopt;
  int left = --it->second;
  if (left <= 0) folder_files_.erase(it);
  return std::max(left, 0);
}

// `placed` may be shorter than `requests` when the task threw.
void Inbox::on_placed(const std::vector<PlaceRequest>& requests,
                      const std::vector<PlaceResult>& placed) {
  std::vector<std::pair<std::int64_t, std::optional<std::string>>> landed;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& request = requests[i];
    auto id = request.job.id;
    placing_.erase(id);
    if (request.keep_folder_as) --keeping_;
    if (i >= placed.size()) continue;
    const auto& result = placed[i];
    if (result.kept_folder && available_) kept_folders_.push_back(id);
    if (result.error) {
      log_->error("cannot place file id={} inbox={} error={}", id, config_.name,
                  quote(*result.error));
    }
    if (result.source_missing || result.final_path == request.from) continue;
    std::optional<std::string> now_at;
    if (result.final_path) now_at = result.final_path->string();
    landed.emplace_back(id, std::move(now_at));
  }
  if (landed.empty()) return;
  auto record = [this, landed = std::move(landed)] {
    return services_.store->batch_whole([&]() -> Result<void> {
      auto now = wall_now_ms();
      for (const auto& [id, now_at] : landed) {
        if (auto ok = services_.store->set_path(id, now_at, now); !ok) return ok;
      }
      return {};
    });
  };
  if (auto ok = record(); !ok) state_write_failed(ok.error(), record);
}

// --- Admin ------------------------------------------------------------------

bool Inbox::cancel_running(std::int64_t job_id) {
  auto it = running_.find(job_id);
  if (it == running_.end()) return false;
  cancel_requested_.insert(job_id);
  services_.runner->stop(it->second.run, config_.kill_grace);
  return true;
}

void Inbox::cancel_waiting(const queue::Job& job) {
  if (starting_.contains(job.id)) cancel_requested_.insert(job.id);  // its handler must not start
  finish_job(job, nullptr, queue::JobState::kCanceled, "canceled by an administrator");
}

// A job whose file is still on its way to the failed folder is refused:
// taking it back then would race with the move.
Result<void> Inbox::requeue(const queue::Job& job) {
  if (!job.path) return fail("the file of job " + std::to_string(job.id) + " no longer exists");
  if (placing_.contains(job.id)) {
    return fail("the file of job " + std::to_string(job.id) +
                " is still being moved to its folder; try again in a moment");
  }
  if (!taking_back_.insert(job.id).second) {
    return fail("job " + std::to_string(job.id) + " is being retried already");
  }
  auto target = spool_path(job.id, job.name);
  post<TakeBack>(
      "take back " + *job.path,
      [from = fs::path(*job.path), target] { return take_back(from, target); },
      [this, job, target](const TakeBack& taken) { on_taken_back(job, target, taken); });
  return {};
}

void Inbox::on_taken_back(const queue::Job& job, const fs::path& target, const TakeBack& taken) {
  taking_back_.erase(job.id);
  if (!taken.ok) {
    log_->error("retry failed id={} inbox={} error={}", job.id, config_.name, quote(taken.error));
    return;
  }
  auto now = wall_now_ms();
  auto ok = services_.store->batch([&]() -> Result<void> {
    auto moved = services_.store->transition(
        {job.id, queue::JobState::kQueued, std::nullopt, std::string()}, now);
    if (!moved) return moved;
    return services_.store->set_path(job.id, target.string(), now);
  });
  if (!ok) {
    // The file stays in the spool with the job still failed: a later retry
    // finds it there (the job's path is the spooled file only after this).
    log_->error("retry not recorded id={} inbox={} error={}", job.id, config_.name,
                quote(ok.error().message));
    services_.state_disk->report(ok.error());
    return;
  }
  log_->info("job requeued id={} inbox={} file={}", job.id, config_.name, quote(job.rel));
  publish_job(job, queue::JobState::kQueued, job.attempts);
  pump();
}

double Inbox::rate_per_min() const {
  auto now = mono_now();
  auto window = std::min<MonoClock::duration>(std::chrono::minutes(5), now - started_at_);
  auto minutes = std::chrono::duration<double, std::ratio<60>>(window).count();
  std::size_t recent = 0;
  for (auto t : completions_) recent += (now - t <= std::chrono::minutes(5)) ? 1U : 0U;
  if (minutes <= 0.0 || recent == 0) return 0.0;
  return static_cast<double>(recent) / std::max(minutes, 1.0 / 60.0);
}

// --- Stopping -------------------------------------------------------------

void Inbox::stop_intake() {
  intake_stopped_ = true;
  if (inotify_) inotify_->close();
  inotify_.reset();
  uv_timer_stop(settle_timer_.get());
  uv_timer_stop(scan_timer_.get());
  uv_timer_stop(retry_timer_.get());
  uv_idle_stop(pump_idle_.get());
}

void Inbox::stop_handlers(Millis grace) {
  stopping_handlers_ = true;
  for (const auto& [id, run] : running_) services_.runner->stop(run.run, grace);
}

}  // namespace inboxd::app
