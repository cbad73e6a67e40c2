// parse_duration and parse_size: what they accept, and what they suggest for
// what they refuse.

#include <catch2/catch.hpp>

#include "daemon/config/config.hpp"

namespace inboxd::config {
namespace {

using namespace std::chrono_literals;

TEST_CASE("durations are 0 or a whole number with a unit", "[config][units]") {
  auto [text, expected] = GENERATE(table<std::string, Millis>({
      {"0", 0ms},
      {"0s", 0ms},
      {"250ms", 250ms},
      {"2s", 2s},
      {"5m", 5min},
      {"1h", 1h},
      {"1d", 24h},
      {"36500d", 36500 * 24h},
  }));
  CAPTURE(text);
  auto parsed = parse_duration(text);
  REQUIRE(parsed.has_value());
  CHECK(*parsed == expected);
}

TEST_CASE("a refused duration explains itself and suggests a spelling", "[config][units]") {
  auto [text, message] = GENERATE(table<std::string, std::string>({
      {"5 minutes", R"("5 minutes" is not a duration (try 5m))"},
      {"5 m", R"("5 m" is not a duration (try 5m))"},
      {"2S", R"("2S" is not a duration (try 2s))"},
      {"90 seconds", R"("90 seconds" is not a duration (try 90s))"},
      {"1.5s", R"("1.5s" is not a duration (try 1500ms))"},
      {"1.5h", R"("1.5h" is not a duration (try 90m))"},
      {"0.0001s", R"("0.0001s" is not a duration (no fractions; use a smaller unit))"},
      {"1.s", R"("1.s" is not a duration (write a whole number))"},
      {"-1s", R"("-1s" is not a duration (it cannot be negative))"},
      {"+5s", R"("+5s" is not a duration (try 5s))"},
      {"300", R"("300" is not a duration (missing unit: try 300s))"},
      {"1.5", R"("1.5" is not a duration (missing unit; units: ms, s, m, h, d))"},
      {"5 fortnights",
       R"("5 fortnights" is not a duration (unknown unit "fortnights"; units: ms, s, m, h, d))"},
      {"", R"("" is not a duration (write a number and a unit: ms, s, m, h, d))"},
      {"soon", R"("soon" is not a duration (write a number and a unit: ms, s, m, h, d))"},
      {"36501d", R"("36501d" is too long (the longest allowed is 36500d))"},
      {"99999999999999999999s",
       R"("99999999999999999999s" is too long (the longest allowed is 36500d))"},
      {"9999999999999999d", R"("9999999999999999d" is too long (the longest allowed is 36500d))"},
      {"100000 days", R"("100000 days" is too long (the longest allowed is 36500d))"},
      // A bare number is never suggested as a number of seconds too long to accept.
      {"222222222222", R"("222222222222" is too long (the longest allowed is 36500d))"},
      {"99999999999999999999",
       R"("99999999999999999999" is too long (the longest allowed is 36500d))"},
  }));
  CAPTURE(text);
  auto parsed = parse_duration(text);
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().message == message);
}

TEST_CASE("sizes are bytes or a whole number with a binary unit", "[config][units]") {
  auto [text, expected] = GENERATE(table<std::string, std::uint64_t>({
      {"0", 0},
      {"1024", 1024},
      {"512KiB", 512ULL << 10},
      {"10MiB", 10ULL << 20},
      {"1GiB", 1ULL << 30},
      {"2TiB", 2ULL << 40},
      {"18446744073709551615", 18446744073709551615ULL},
      {"15PiB", 15ULL << 50},
  }));
  CAPTURE(text);
  auto parsed = parse_size(text);
  REQUIRE(parsed.has_value());
  CHECK(*parsed == expected);
}

TEST_CASE("a refused size explains itself and suggests a spelling", "[config][units]") {
  auto [text, message] = GENERATE(table<std::string, std::string>({
      {"10 MB", R"("10 MB" is not a size (try 10MiB))"},
      {"10MB", R"("10MB" is not a size (try 10MiB))"},
      {"512kb", R"("512kb" is not a size (try 512KiB))"},
      {"1024 KiB", R"("1024 KiB" is not a size (try 1MiB))"},
      {"1.5GiB", R"("1.5GiB" is not a size (try 1536MiB))"},
      {"100B", R"("100B" is not a size (try 100))"},
      {"-1", R"("-1" is not a size (it cannot be negative))"},
      {"big", R"("big" is not a size (write a number and a unit: KiB, MiB, GiB, TiB))"},
      {"3 furlongs",
       R"("3 furlongs" is not a size (unknown unit "furlongs"; units: KiB, MiB, GiB, TiB))"},
      {"18446744073709551616",
       R"("18446744073709551616" is too large (it does not fit in 64 bits))"},
      {"16384PiB", R"("16384PiB" is too large (it does not fit in 64 bits))"},
  }));
  CAPTURE(text);
  auto parsed = parse_size(text);
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().message == message);
}

}  // namespace
}  // namespace inboxd::config
