#include "daemon/runner/output_tail.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>

namespace inboxd::runner {
namespace {

// Appends `text` to a tail of `capacity` in chunks of the given sizes (cycled)
// and returns what the tail keeps.
std::string kept(std::size_t capacity, const std::string& text, std::vector<std::size_t> chunks) {
  OutputTail tail(capacity);
  std::size_t at = 0;
  for (std::size_t i = 0; at < text.size(); ++i) {
    auto n = std::min(chunks[i % chunks.size()], text.size() - at);
    tail.append(std::string_view(text).substr(at, n));
    at += n;
  }
  return tail.text();
}

std::string suffix(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

std::string numbers(int count) {
  std::string out;
  for (int i = 0; i < count; ++i) out += std::to_string(i) + ",";
  return out;
}

}  // namespace

TEST_CASE("a tail keeps everything while under its capacity", "[output_tail]") {
  OutputTail tail(16);
  tail.append("hello ");
  tail.append("world");
  CHECK(tail.text() == "hello world");
  CHECK(tail.total() == 11);
}

TEST_CASE("a tail keeps exactly the last capacity bytes across small writes", "[output_tail]") {
  auto text = numbers(1000);
  CHECK(kept(100, text, {1}) == suffix(text, 100));
  CHECK(kept(100, text, {7, 3, 100, 99}) == suffix(text, 100));
}

TEST_CASE("a write larger than the capacity keeps only its last bytes", "[output_tail]") {
  OutputTail tail(4);
  tail.append("ab");
  tail.append("0123456789");
  CHECK(tail.text() == "6789");
  tail.append("xy");
  CHECK(tail.text() == "89xy");
}

TEST_CASE("a write that exactly fills the tail then wraps keeps the newest bytes",
          "[output_tail]") {
  OutputTail tail(5);
  tail.append("abcde");
  CHECK(tail.text() == "abcde");
  tail.append("f");
  CHECK(tail.text() == "bcdef");
}

TEST_CASE("a tail matches the suffix of its input for random chunkings", "[output_tail]") {
  std::mt19937 gen(7);
  auto text = numbers(5000);
  for (std::size_t capacity : {1u, 2u, 63u, 64u, 1000u, 30000u}) {
    std::uniform_int_distribution<std::size_t> size(1, capacity * 2);
    std::vector<std::size_t> chunks;
    for (int i = 0; i < 50; ++i) chunks.push_back(size(gen));
    CHECK(kept(capacity, text, chunks) == suffix(text, capacity));
  }
}

TEST_CASE("a zero-capacity tail keeps nothing but still counts", "[output_tail]") {
  OutputTail tail(0);
  tail.append("ignored");
  CHECK(tail.text().empty());
  CHECK(tail.total() == 7);
}

}  // namespace inboxd::runner
