#include "daemon/inboxctl/render.hpp"

#include <fmt/format.h>

#include "common/clock.hpp"
#include "daemon/inboxctl/table.hpp"

namespace inboxd::inboxctl {
namespace {

using nlohmann::json;

constexpr std::size_t kStderrLinesShown = 20;

std::string state_cell(const json& state, const Style& style) {
  auto text = cell_text(state);
  return style.paint(text, state_colour(text));
}

std::string number(const json& value) {
  return value.is_number() ? value.dump() : std::string("-");
}

std::string rate(const json& value) {
  return value.is_number() ? fmt::format("{:.1f}", value.get<double>()) : std::string("-");
}

Table status_table() {
  using A = Table::Align;
  return Table({{"INBOX"},
                {"STATE"},
                {"WATCH"},
                {"HEALTH"},
                {"QUEUED", A::kRight},
                {"RUNNING", A::kRight},
                {"RETRY", A::kRight},
                {"DONE", A::kRight},
                {"FAILED", A::kRight},
                {"CANCELED", A::kRight},
                {"OLDEST", A::kRight},
                {"RATE/MIN", A::kRight},
                {"ETA", A::kRight}});
}

// "exit 0", "killed by SIGKILL", "timed out, killed by SIGTERM", "running".
std::string attempt_outcome(const json& attempt, const Style& style) {
  if (field(attempt, "finished_at").is_null()) return style.paint("running", Colour::kCyan);
  std::string text;
  if (field(attempt, "timed_out") == true) text = "timed out, ";
  if (const auto& code = field(attempt, "exit_code"); code.is_number()) {
    text += "exit " + code.dump();
    return style.paint(text, code == 0 ? Colour::kGreen : Colour::kRed);
  }
  text += "killed by " + cell_text(field(attempt, "signal"));
  return style.paint(text, Colour::kRed);
}

// The last kStderrLinesShown lines of a tail, each indented.
std::string tail_lines(const std::string& tail) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < tail.size()) {
    auto end = tail.find('\n', start);
    if (end == std::string::npos) end = tail.size();
    lines.push_back(tail.substr(start, end - start));
    start = end + 1;
  }
  std::string out;
  std::size_t first = lines.size() > kStderrLinesShown ? lines.size() - kStderrLinesShown : 0;
  if (first > 0)
    out += fmt::format("    ({} earlier lines not shown; --json has them all)\n", first);
  for (std::size_t i = first; i < lines.size(); ++i)
    out += "    | " + printable(lines[i], "\t") + "\n";
  return out;
}

std::string render_attempt(const json& attempt, const Style& style) {
  auto duration = field(attempt, "duration_ms");
  auto took = duration.is_number() ? format_duration(Millis(duration.get<std::int64_t>())) : "-";
  auto out = fmt::format("attempt {}: {} after {} (started {}, finished {})\n",
                         number(field(attempt, "attempt")), attempt_outcome(attempt, style), took,
                         local_time(field(attempt, "started_at")),
                         local_time(field(attempt, "finished_at")));
  const auto& stderr_tail = field(attempt, "stderr_tail");
  if (stderr_tail.is_string() && !stderr_tail.get<std::string>().empty()) {
    out += "  stderr:\n" + tail_lines(stderr_tail.get<std::string>());
  } else {
    out += "  stderr: (empty)\n";
  }
  return out;
}

}  // namespace

const json& field(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string render_status(const json& reply, const Style& style) {
  auto out = fmt::format("{}  pid {}  up {}\n\n", cell_text(field(reply, "version")),
                         number(field(reply, "pid")), human_seconds(field(reply, "uptime_s")));
  auto table = status_table();
  std::string notes;
  for (const auto& inbox : field(reply, "inboxes")) {
    const auto& counts = field(inbox, "counts");
    table.add_row({cell_text(field(inbox, "name")), state_cell(field(inbox, "state"), style),
                   cell_text(field(inbox, "watch")),
                   state_cell(field(inbox, "watch_health"), style), number(field(counts, "queued")),
                   number(field(counts, "running")), number(field(counts, "retry_wait")),
                   number(field(counts, "done")), number(field(counts, "failed")),
                   number(field(counts, "canceled")),
                   human_seconds(field(inbox, "oldest_queued_age_s")),
                   rate(field(inbox, "rate_per_min")), human_seconds(field(inbox, "eta_s"))});
    if (const auto& note = field(inbox, "watch_note"); note.is_string()) {
      notes += fmt::format("{}: watching {}: {}\n", cell_text(field(inbox, "name")),
                           cell_text(field(inbox, "watch_health")), cell_text(note));
    }
  }
  out += table.empty() ? std::string("no inboxes\n") : table.render();
  if (!notes.empty()) out += "\n" + notes;
  return out;
}

std::string render_jobs(const json& reply, const Style& style) {
  using A = Table::Align;
  Table table(
      {{"ID", A::kRight}, {"INBOX"}, {"STATE"}, {"ATTEMPTS", A::kRight}, {"UPDATED"}, {"NAME"}});
  for (const auto& job : field(reply, "jobs")) {
    table.add_row({number(field(job, "id")), cell_text(field(job, "inbox")),
                   state_cell(field(job, "state"), style), number(field(job, "attempts")),
                   local_time(field(job, "updated_at")), cell_text(field(job, "name"))});
  }
  return table.empty() ? std::string("no jobs\n") : table.render();
}

std::string render_job(const json& reply, const Style& style) {
  const auto& job = field(reply, "job");
  const auto& size = field(job, "size");
  auto out = fmt::format("job {}: {}\n", number(field(job, "id")), cell_text(field(job, "name")));
  auto row = [&out](const char* label, const std::string& value) {
    out += fmt::format("  {:<13} {}\n", label, value);
  };
  row("inbox", cell_text(field(job, "inbox")));
  row("state", state_cell(field(job, "state"), style));
  row("file", cell_text(field(job, "rel")));
  row("size", size.is_number() ? fmt::format("{} ({} bytes)", human_size(size.get<std::int64_t>()),
                                             size.get<std::int64_t>())
                               : "-");
  row("attempts", number(field(job, "attempts")));
  row("created", local_time(field(job, "created_at")));
  row("updated", local_time(field(job, "updated_at")));
  row("next attempt", local_time(field(job, "next_attempt_at")));
  row("path", field(job, "path").is_null() ? "- (deleted)" : cell_text(field(job, "path")));
  row("last error", cell_text(field(job, "last_error")));
  const auto& history = field(job, "history");
  if (history.empty()) out += "\nno attempts\n";
  for (const auto& attempt : history) out += "\n" + render_attempt(attempt, style);
  return out;
}

std::string render_change(const json& request, const json& reply) {
  auto cmd = field(request, "cmd").get<std::string>();
  if (cmd == "retry") {
    const auto& ids = field(reply, "retried");
    if (ids.empty()) return "nothing to retry\n";
    std::string list;
    for (const auto& id : ids) list += (list.empty() ? "" : ", ") + number(id);
    return fmt::format("retried {} job{}: {}\n", ids.size(), ids.size() == 1 ? "" : "s", list);
  }
  if (cmd == "cancel") return fmt::format("canceled job {}\n", number(field(request, "id")));
  if (cmd == "pause") return fmt::format("paused inbox {}\n", cell_text(field(request, "inbox")));
  if (cmd == "resume") return fmt::format("resumed inbox {}\n", cell_text(field(request, "inbox")));
  if (cmd == "reload") return "configuration reloaded\n";
  return "ok\n";
}

std::string render_event(const json& event, const Style& style) {
  auto now = local_time(json(format_rfc3339(wall_now_ms())));
  const auto& kind = field(event, "event");
  if (kind == "job") {
    return fmt::format("{} job {} {} {} attempt={} {}\n", now, number(field(event, "id")),
                       cell_text(field(event, "inbox")), state_cell(field(event, "state"), style),
                       number(field(event, "attempt")), cell_text(field(event, "name")));
  }
  if (kind == "inbox") {
    return fmt::format("{} inbox {} {}\n", now, cell_text(field(event, "inbox")),
                       state_cell(field(event, "state"), style));
  }
  return fmt::format("{} {}\n", now,
                     printable(event.dump(-1, ' ', false, json::error_handler_t::replace)));
}

std::string render_error(const json& reply) {
  const auto& error = field(reply, "error");
  auto code = cell_text(field(error, "code"));
  auto message = field(error, "message").is_string() ? field(error, "message").get<std::string>()
                                                     : std::string("(no message)");
  if (message.find('\n') == std::string::npos)
    return fmt::format("{}: {}\n", code, printable(message));
  std::string out = code + ":\n";
  std::size_t start = 0;
  while (start <= message.size()) {
    auto end = message.find('\n', start);
    if (end == std::string::npos) end = message.size();
    out += "  " + printable(message.substr(start, end - start)) + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace inboxd::inboxctl
