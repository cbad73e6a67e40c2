#include "daemon/admin/metrics_text.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace inboxd::admin {
namespace {

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="1",b="2"}`, with `extra` (already formatted, e.g. `le="0.5"`) last;
// empty when there are no labels at all.
std::string label_set(const MetricsText::Labels& labels, std::string_view extra = {}) {
  if (labels.empty() && extra.empty()) return {};
  std::string out = "{";
  for (const auto& [key, value] : labels) {
    if (out.size() > 1) out += ',';
    out += fmt::format("{}=\"{}\"", key, escape_label_value(value));
  }
  if (!extra.empty()) {
    if (out.size() > 1) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  auto bucket = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  ++counts_[static_cast<std::size_t>(bucket - upper_bounds_.begin())];
  sum_ += value;
  ++count_;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_sample_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Below 2^53 every integer is exact; print it as one.
  if (std::fabs(value) < 9007199254740992.0 && value == std::trunc(value)) {
    return fmt::format("{}", static_cast<long long>(value));
  }
  return fmt::format("{}", value);
}

MetricsText::Family& MetricsText::family(std::string_view name, std::string_view help,
                                         std::string_view type) {
  auto found = std::find_if(families_.begin(), families_.end(),
                            [name](const Family& f) { return f.name == name; });
  if (found != families_.end()) return *found;
  families_.push_back(Family{std::string(name), std::string(help), type, {}});
  return families_.back();
}

void MetricsText::counter(std::string_view name, std::string_view help, const Labels& labels,
                          double value) {
  family(name, help, "counter").samples +=
      fmt::format("{}{} {}\n", name, label_set(labels), format_sample_value(value));
}

void MetricsText::gauge(std::string_view name, std::string_view help, const Labels& labels,
                        double value) {
  family(name, help, "gauge").samples +=
      fmt::format("{}{} {}\n", name, label_set(labels), format_sample_value(value));
}

void MetricsText::histogram(std::string_view name, std::string_view help, const Labels& labels,
                            const Histogram& histogram) {
  auto& samples = family(name, help, "histogram").samples;
  const auto& bounds = histogram.upper_bounds();
  const auto& counts = histogram.bucket_counts();
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    auto le = i < bounds.size() ? format_sample_value(bounds[i]) : std::string("+Inf");
    samples += fmt::format("{}_bucket{} {}\n", name,
                           label_set(labels, fmt::format("le=\"{}\"", le)), cumulative);
  }
  samples +=
      fmt::format("{}_sum{} {}\n", name, label_set(labels), format_sample_value(histogram.sum()));
  samples += fmt::format("{}_count{} {}\n", name, label_set(labels), histogram.count());
}

std::string MetricsText::text() const {
  std::string out;
  for (const auto& f : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f.name, escape_help(f.help), f.name, f.type);
    out += f.samples;
  }
  return out;
}

}  // namespace inboxd::admin
