#include "daemon/inboxctl/watch_command.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <deque>
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "daemon/inboxctl/exit_codes.hpp"
#include "daemon/inboxctl/render.hpp"
#include "daemon/inboxctl/table.hpp"

namespace inboxd::inboxctl {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

volatile std::sig_atomic_t g_stop = 0;

constexpr Millis kStatusPeriod = 1s;
constexpr Millis kRedrawAtMost = 100ms;
constexpr Millis kAnswerLimit = 10s;
constexpr std::size_t kRecentEvents = 6;

void on_stop_signal(int) { g_stop = 1; }
// Its only job is to interrupt poll() so the view is redrawn at the new size.
void on_resize_signal(int) {}

// No SA_RESTART: poll() returns EINTR so the loops see the flag at once.
void install(int signum, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  ::sigaction(signum, &action, nullptr);
}

void write_out(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

// Waits for input on fd for at most `limit` (negative: no limit). False when
// a signal interrupted the wait.
bool wait_readable(int fd, Millis limit) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(limit.count())) >= 0;
}

int stream_closed() {
  std::cerr << "inboxctl: inboxd closed the connection\n";
  return kExitUnavailable;
}

// One line per event until the stream ends or a stop signal.
int plain_events(AdminClient& stream, bool raw, const Style& style) {
  while (g_stop == 0) {
    while (auto line = stream.take_line()) {
      auto event = json::parse(*line, nullptr, false);
      if (raw) {
        write_out(*line + "\n");
      } else if (field(event, "event") != "watching") {
        write_out(render_event(event, style));
      }
    }
    if (!wait_readable(stream.fd(), Millis(-1))) continue;
    if (!stream.read_available() && !stream.has_line()) return stream_closed();
  }
  return kExitOk;
}

struct RunningJob {
  std::string inbox;
  std::string name;
  std::int64_t attempt = 0;
  std::int64_t since_s = 0;  // wall clock, seconds
};

std::int64_t now_s() { return wall_now_ms() / 1000; }

// Cuts a line (which may hold our colour sequences) to `width` columns.
std::string clip(const std::string& line, std::size_t width) {
  std::string out;
  std::size_t shown = 0;
  bool in_escape = false;
  for (char ch : line) {
    auto c = static_cast<unsigned char>(ch);
    if (in_escape || c == 0x1B) {
      out += ch;
      in_escape = c != 'm';  // ESC starts a sequence, 'm' ends ours
      continue;
    }
    bool starts_char = (c & 0xC0) != 0x80;
    if (starts_char && shown == width) break;
    if (starts_char) ++shown;
    out += ch;
  }
  if (out.size() != line.size()) out += "\x1b[0m";
  return out;
}

class LiveView {
 public:
  LiveView(AdminClient& stream, std::string socket, const Style& style)
      : stream_(stream), socket_(std::move(socket)), style_(style) {}

  int run();

 private:
  void refresh();
  bool ask(const json& request, json* reply);
  void load_running();
  void on_event(const json& event);
  std::string inbox_table() const;
  std::string running_table(std::size_t rows) const;
  void draw();

  AdminClient& stream_;
  std::string socket_;
  Style style_;
  std::optional<AdminClient> requests_;
  json status_;
  std::string problem_;  // why the last status poll failed
  std::map<std::int64_t, RunningJob> running_;
  std::deque<std::string> recent_;
};

bool LiveView::ask(const json& request, json* reply) {
  if (!requests_) {
    auto client = AdminClient::connect(socket_);
    if (!client) {
      problem_ = client.error().message;
      return false;
    }
    requests_.emplace(std::move(*client));
  }
  auto line = requests_->exchange(request, kAnswerLimit);
  if (!line) {
    problem_ = line.error().message;
    requests_.reset();
    return false;
  }
  *reply = json::parse(*line, nullptr, false);
  if (field(*reply, "ok") != true) {
    problem_ = render_error(*reply);
    return false;
  }
  problem_.clear();
  return true;
}

void LiveView::refresh() {
  json reply;
  if (ask({{"cmd", "status"}}, &reply)) status_ = std::move(reply);
}

void LiveView::load_running() {
  json reply;
  if (!ask({{"cmd", "jobs"}, {"state", "running"}, {"limit", 1000}}, &reply)) return;
  for (const auto& job : field(reply, "jobs")) {
    const auto& updated = field(job, "updated_at");
    auto since = updated.is_string() ? parse_rfc3339(updated.get<std::string>()) : std::nullopt;
    running_[field(job, "id").get<std::int64_t>()] = RunningJob{
        cell_text(field(job, "inbox")), cell_text(field(job, "name")),
        field(job, "attempts").is_number() ? field(job, "attempts").get<std::int64_t>() : 0,
        since.value_or(now_s())};
  }
}

void LiveView::on_event(const json& event) {
  if (field(event, "event") == "watching") return;
  if (field(event, "event") == "job" && field(event, "id").is_number_integer()) {
    auto id = field(event, "id").get<std::int64_t>();
    if (field(event, "state") == "running") {
      auto attempt = field(event, "attempt");
      running_[id] = RunningJob{cell_text(field(event, "inbox")), cell_text(field(event, "name")),
                                attempt.is_number() ? attempt.get<std::int64_t>() : 0, now_s()};
    } else {
      running_.erase(id);
    }
  }
  auto line = render_event(event, style_);
  if (!line.empty() && line.back() == '\n') line.pop_back();
  recent_.push_front(line);
  if (recent_.size() > kRecentEvents) recent_.pop_back();
}

std::string LiveView::inbox_table() const {
  using A = Table::Align;
  Table table({{"INBOX"},
               {"STATE"},
               {"DONE/TOTAL", A::kRight},
               {"FAILED", A::kRight},
               {"QUEUED", A::kRight},
               {"RUNNING", A::kRight},
               {"RATE/MIN", A::kRight},
               {"ETA", A::kRight},
               {"HEALTH"}});
  for (const auto& inbox : field(status_, "inboxes")) {
    const auto& c = field(inbox, "counts");
    std::int64_t total = 0;
    for (const char* key : {"queued", "running", "retry_wait", "done", "failed", "canceled"}) {
      if (field(c, key).is_number()) total += field(c, key).get<std::int64_t>();
    }
    auto state = cell_text(field(inbox, "state"));
    auto health = cell_text(field(inbox, "watch_health"));
    auto rate = field(inbox, "rate_per_min");
    table.add_row(
        {cell_text(field(inbox, "name")), style_.paint(state, state_colour(state)),
         fmt::format("{}/{}", cell_text(field(c, "done")), total), cell_text(field(c, "failed")),
         cell_text(field(c, "queued")), cell_text(field(c, "running")),
         rate.is_number() ? fmt::format("{:.1f}", rate.get<double>()) : "-",
         human_seconds(field(inbox, "eta_s")), style_.paint(health, state_colour(health))});
  }
  return table.render();
}

std::string LiveView::running_table(std::size_t rows) const {
  if (running_.empty()) return "  (nothing running)\n";
  using A = Table::Align;
  Table table({{"ID", A::kRight}, {"INBOX"}, {"ATTEMPT", A::kRight}, {"FOR", A::kRight}, {"NAME"}});
  std::size_t shown = 0;
  for (const auto& [id, job] : running_) {
    if (shown++ == rows) break;
    table.add_row({std::to_string(id), job.inbox, std::to_string(job.attempt),
                   human_seconds(json(now_s() - job.since_s)), job.name});
  }
  auto out = table.render();
  if (running_.size() > rows) out += fmt::format("  ... and {} more\n", running_.size() - rows);
  return out;
}

void LiveView::draw() {
  winsize size{};
  std::size_t width = 80, height = 24;
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    width = size.ws_col;
    height = size.ws_row;
  }
  std::string screen =
      fmt::format("{}  pid {}  up {}   (Ctrl-C to quit)\n", cell_text(field(status_, "version")),
                  cell_text(field(status_, "pid")), human_seconds(field(status_, "uptime_s")));
  if (!problem_.empty())
    screen += style_.paint("status: " + printable(problem_), Colour::kRed) + "\n";
  screen += "\n" + inbox_table();
  auto used = static_cast<std::size_t>(std::count(screen.begin(), screen.end(), '\n'));
  auto budget = height > used + kRecentEvents + 6 ? height - used - kRecentEvents - 6 : 3;
  screen += "\n" + style_.paint("RUNNING NOW", Colour::kBold) + "\n" + running_table(budget);
  screen += "\n" + style_.paint("LATEST EVENTS", Colour::kBold) + "\n";
  for (const auto& line : recent_) screen += "  " + line + "\n";
  std::string out = "\x1b[H";
  std::size_t start = 0;
  while (start < screen.size()) {
    auto end = screen.find('\n', start);
    out += clip(screen.substr(start, end - start), width) + "\x1b[K\n";
    start = end + 1;
  }
  write_out(out + "\x1b[J");
}

int LiveView::run() {
  install(SIGWINCH, on_resize_signal);
  write_out("\x1b[?1049h\x1b[?25l\x1b[2J");  // alternate screen, cursor hidden
  refresh();
  load_running();
  draw();
  auto next_status = mono_now() + kStatusPeriod;
  int code = kExitOk;
  while (g_stop == 0) {
    auto wait = std::chrono::duration_cast<Millis>(next_status - mono_now());
    wait_readable(stream_.fd(), std::max(wait, Millis(0)));
    bool open = stream_.read_available();
    while (auto line = stream_.take_line()) on_event(json::parse(*line, nullptr, false));
    if (!open) {
      code = kExitUnavailable;
      break;
    }
    if (mono_now() >= next_status) {
      refresh();
      next_status = mono_now() + kStatusPeriod;
    }
    draw();
    if (g_stop == 0) wait_readable(-1, kRedrawAtMost);  // batch bursts of events
  }
  write_out("\x1b[?25h\x1b[?1049l");
  return code == kExitOk ? kExitOk : stream_closed();
}

}  // namespace

int run_watch(AdminClient stream, const Invocation& invocation, const Style& style) {
  install(SIGINT, on_stop_signal);
  install(SIGTERM, on_stop_signal);
  if (auto sent = stream.send(invocation.request); !sent) {
    std::cerr << "inboxctl: " << sent.error().message << "\n";
    return kExitUnavailable;
  }
  auto first = stream.read_line(kAnswerLimit);
  if (!first) {
    std::cerr << "inboxctl: " << first.error().message << "\n";
    return kExitUnavailable;
  }
  auto hello = json::parse(*first, nullptr, false);
  if (field(hello, "ok") == false) {
    if (invocation.json) write_out(*first + "\n");
    std::cerr << "inboxctl: " << render_error(hello);
    return kExitDaemonError;
  }
  if (invocation.json || ::isatty(STDOUT_FILENO) != 1) {
    if (invocation.json) write_out(*first + "\n");
    return plain_events(stream, invocation.json, style);
  }
  return LiveView(stream, invocation.socket, style).run();
}

}  // namespace inboxd::inboxctl
