#pragma once
// OutputTail keeps the last `capacity` bytes written to it, for a handler's
// stdout or stderr. Its memory is allocated once, on the first write, and never
// grows afterwards: a handler that writes gigabytes costs `capacity` bytes.
// Bytes are kept exactly as written (no UTF-8 or line handling).
// Threading: not synchronised; the runner uses it on the loop thread only.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace inboxd::runner {

class OutputTail {
 public:
  explicit OutputTail(std::size_t capacity) : capacity_(capacity) {}

  void append(std::string_view bytes);

  // The kept bytes, oldest first: the last min(total(), capacity()) bytes.
  std::string text() const;

  std::size_t capacity() const { return capacity_; }
  // Every byte ever appended, kept or not.
  std::size_t total() const { return total_; }

 private:
  std::size_t capacity_;
  std::size_t total_ = 0;
  // Invariant: buffer_ is empty or exactly capacity_ bytes. The kept bytes are
  // buffer_[start_, capacity_) followed by buffer_[0, start_) once the buffer
  // has wrapped (size_ == capacity_), else buffer_[0, size_).
  std::vector<char> buffer_;
  std::size_t size_ = 0;
  std::size_t start_ = 0;
};

}  // namespace inboxd::runner
