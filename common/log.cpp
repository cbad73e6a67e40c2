#include "common/log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/sinks/base_sink.h>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/clock.hpp"

namespace inboxd::log {
namespace {

// The journal's syslog priorities for spdlog levels.
int journal_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return 7;
    case spdlog::level::info: return 6;
    case spdlog::level::warn: return 4;
    case spdlog::level::err: return 3;
    case spdlog::level::critical: return 2;
    default: return 6;
  }
}

std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

// Writes one complete line per message with a single fwrite, so lines from
// several threads never interleave.
class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void set_format(Format format) {
    std::lock_guard<std::mutex> lock(mutex_);
    format_ = format;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string_view text(msg.payload.data(), msg.payload.size());
    std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    std::string line;
    switch (format_) {
      case Format::kJournal:
        line = fmt::format("<{}>{}: {}\n", journal_priority(msg.level), logger, text);
        break;
      case Format::kJson: {
        auto ms = std::chrono::duration_cast<Millis>(msg.time.time_since_epoch()).count();
        nlohmann::json j = {{"ts", format_rfc3339(ms)},
                            {"level", level_name(msg.level)},
                            {"logger", logger},
                            {"msg", text}};
        line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        break;
      }
      case Format::kText: {
        auto ms = std::chrono::duration_cast<Millis>(msg.time.time_since_epoch()).count();
        line = fmt::format("{} {:<5} {}: {}\n", format_rfc3339(ms), level_name(msg.level), logger,
                           text);
        break;
      }
    }
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  Format format_ = Format::kText;
};

struct Registry {
  std::mutex mutex;
  std::shared_ptr<StderrSink> sink = std::make_shared<StderrSink>();
  spdlog::level::level_enum level = spdlog::level::info;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

Format format_for(bool json) {
  if (stderr_is_journal()) return Format::kJournal;
  return json ? Format::kJson : Format::kText;
}

void setup(Format format, spdlog::level::level_enum level) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.sink->set_format(format);
  r.level = level;
  spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& l) {
    l->set_level(level);
    l->flush_on(spdlog::level::trace);
  });
}

std::shared_ptr<spdlog::logger> get(const std::string& name) {
  auto& r = registry();
  std::lock_guard<std::mutex> lock(r.mutex);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, r.sink);
  logger->set_level(r.level);
  logger->flush_on(spdlog::level::trace);
  spdlog::register_logger(logger);
  return logger;
}

std::optional<spdlog::level::level_enum> parse_level(std::string_view text) {
  if (text == "trace") return spdlog::level::trace;
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  return std::nullopt;
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  // "<device>:<inode>", both decimal; anything else is not the journal.
  const std::string_view text(stream);
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  const char* end = text.data() + text.size();
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  const auto dev_parsed = std::from_chars(text.data(), text.data() + colon, dev);
  const auto ino_parsed = std::from_chars(text.data() + colon + 1, end, ino);
  if (dev_parsed.ec != std::errc() || dev_parsed.ptr != text.data() + colon ||
      ino_parsed.ec != std::errc() || ino_parsed.ptr != end) {
    return false;
  }
  return dev == st.st_dev && ino == st.st_ino;
}

std::string quote(std::string_view value) {
  bool plain = !value.empty();
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= ' ' || c == '"' || c == '\\' || c == '=' || c >= 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) return std::string(value);
  std::string out = "\"";
  for (std::size_t i = 0; i < value.size(); ++i) {
    auto c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      // Keep valid UTF-8 sequences, escape stray bytes.
      std::size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
      bool valid = len != 0 && i + len <= value.size();
      for (std::size_t k = 1; valid && k < len; ++k) {
        valid = (static_cast<unsigned char>(value[i + k]) & 0xc0) == 0x80;
      }
      if (valid) {
        out.append(value.substr(i, len));
        i += len - 1;
      } else {
        out += fmt::format("\\x{:02x}", c);
      }
    }
  }
  out += '"';
  return out;
}

}  // namespace inboxd::log
