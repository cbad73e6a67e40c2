// The Prometheus text exposition builder.

#include <catch2/catch.hpp>
#include <limits>

#include "daemon/admin/metrics_text.hpp"

using namespace inboxd::admin;

TEST_CASE("each family has one HELP and one TYPE line even when samples interleave",
          "[admin][metrics]") {
  MetricsText text;
  text.counter("inboxd_jobs_total", "Jobs finished.", {{"inbox", "a"}, {"outcome", "done"}}, 3);
  text.gauge("inboxd_inbox_up", "1 when available.", {{"inbox", "a"}}, 1);
  text.counter("inboxd_jobs_total", "Jobs finished.", {{"inbox", "b"}, {"outcome", "failed"}}, 0);
  CHECK(text.text() ==
        "# HELP inboxd_jobs_total Jobs finished.\n"
        "# TYPE inboxd_jobs_total counter\n"
        "inboxd_jobs_total{inbox=\"a\",outcome=\"done\"} 3\n"
        "inboxd_jobs_total{inbox=\"b\",outcome=\"failed\"} 0\n"
        "# HELP inboxd_inbox_up 1 when available.\n"
        "# TYPE inboxd_inbox_up gauge\n"
        "inboxd_inbox_up{inbox=\"a\"} 1\n");
}

TEST_CASE("label values escape backslash, double quote and newline", "[admin][metrics]") {
  MetricsText text;
  text.gauge("g", "Help with \\ and\nnewline.", {{"inbox", "a\\b\"c\nd"}}, 2);
  CHECK(text.text() ==
        "# HELP g Help with \\\\ and\\nnewline.\n"
        "# TYPE g gauge\n"
        "g{inbox=\"a\\\\b\\\"c\\nd\"} 2\n");
}

TEST_CASE("a sample without labels has no braces", "[admin][metrics]") {
  MetricsText text;
  text.gauge("inboxd_up", "Up.", {}, 1);
  CHECK(text.text().find("\ninboxd_up 1\n") != std::string::npos);
}

TEST_CASE("sample values print integers plainly and fractions exactly", "[admin][metrics]") {
  CHECK(format_sample_value(0) == "0");
  CHECK(format_sample_value(1234567) == "1234567");
  CHECK(format_sample_value(0.25) == "0.25");
  CHECK(format_sample_value(-3) == "-3");
  CHECK(format_sample_value(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(format_sample_value(std::numeric_limits<double>::quiet_NaN()) == "NaN");
}

TEST_CASE("a histogram writes cumulative buckets ending in +Inf, then sum and count",
          "[admin][metrics]") {
  Histogram h({0.5, 1, 5});
  for (double v : {0.2, 0.5, 0.7, 3.0, 10.0}) h.observe(v);
  MetricsText text;
  text.histogram("inboxd_handler_duration_seconds", "Handler run time.", {{"inbox", "a"}}, h);
  CHECK(text.text() ==
        "# HELP inboxd_handler_duration_seconds Handler run time.\n"
        "# TYPE inboxd_handler_duration_seconds histogram\n"
        "inboxd_handler_duration_seconds_bucket{inbox=\"a\",le=\"0.5\"} 2\n"
        "inboxd_handler_duration_seconds_bucket{inbox=\"a\",le=\"1\"} 3\n"
        "inboxd_handler_duration_seconds_bucket{inbox=\"a\",le=\"5\"} 4\n"
        "inboxd_handler_duration_seconds_bucket{inbox=\"a\",le=\"+Inf\"} 5\n"
        "inboxd_handler_duration_seconds_sum{inbox=\"a\"} 14.4\n"
        "inboxd_handler_duration_seconds_count{inbox=\"a\"} 5\n");
}

TEST_CASE("the handler duration histogram has the documented default buckets", "[admin][metrics]") {
  Histogram h;
  CHECK(h.upper_bounds() == handler_duration_buckets());
  CHECK(h.bucket_counts().size() == handler_duration_buckets().size() + 1);
}
