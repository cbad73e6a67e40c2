#pragma once
// MetricsText: builds the Prometheus text exposition format (version 0.0.4)
// for the `metrics` command and the metrics_file. The application adds
// samples in any order; the text groups them by family, with the HELP and
// TYPE lines once per family, in the order each family was first added.
//
// Label values are escaped (backslash, double quote, newline); HELP text too
// (backslash, newline). Metric and label names are the caller's constants and
// are not checked.
//
// Histogram keeps fixed buckets for one series (e.g. a handler's duration in
// seconds); histogram() writes its _bucket{le=...} (cumulative, +Inf last),
// _sum and _count lines.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace inboxd::admin {

// Upper bounds, in seconds, for inboxd_handler_duration_seconds.
inline const std::vector<double>& handler_duration_buckets() {
  static const std::vector<double> kBuckets = {0.1, 0.5, 1,   2.5, 5,    10,  30,
                                               60,  120, 300, 600, 1800, 3600};
  return kBuckets;
}

class Histogram {
 public:
  // upper_bounds must be sorted ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> upper_bounds = handler_duration_buckets());

  void observe(double value);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Per-bucket (not cumulative) counts; one more than upper_bounds (+Inf last).
  const std::vector<std::uint64_t>& bucket_counts() const { return counts_; }
  double sum() const { return sum_; }
  std::uint64_t count() const { return count_; }

 private:
  std::vector<double> upper_bounds_;
  std::vector<std::uint64_t> counts_;
  double sum_ = 0.0;
  std::uint64_t count_ = 0;
};

class MetricsText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  void counter(std::string_view name, std::string_view help, const Labels& labels, double value);
  void gauge(std::string_view name, std::string_view help, const Labels& labels, double value);
  void histogram(std::string_view name, std::string_view help, const Labels& labels,
                 const Histogram& histogram);

  // The exposition, every line ending in '\n'.
  std::string text() const;

 private:
  struct Family {
    std::string name;
    std::string help;
    std::string_view type;
    std::string samples;
  };

  // The family called name; created (with help and type) on first use.
  Family& family(std::string_view name, std::string_view help, std::string_view type);

  std::vector<Family> families_;
};

// "a\"b" for a"b: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);

// Integers without a fraction, other values in their shortest exact form,
// NaN, +Inf and -Inf as Prometheus spells them.
std::string format_sample_value(double value);

}  // namespace inboxd::admin
