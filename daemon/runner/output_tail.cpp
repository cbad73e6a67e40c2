#include "daemon/runner/output_tail.hpp"

#include <algorithm>

namespace inboxd::runner {

void OutputTail::append(std::string_view bytes) {
  total_ += bytes.size();
  if (capacity_ == 0 || bytes.empty()) return;
  if (buffer_.empty()) buffer_.resize(capacity_);
  if (bytes.size() >= capacity_) {
    // Only the newest capacity_ bytes can survive this write.
    bytes.remove_prefix(bytes.size() - capacity_);
    std::copy(bytes.begin(), bytes.end(), buffer_.begin());
    size_ = capacity_;
    start_ = 0;
    return;
  }
  // Fill the free room first; once full, overwrite the oldest bytes at start_.
  while (!bytes.empty()) {
    std::size_t at = size_ < capacity_ ? size_ : start_;
    std::size_t n = std::min(capacity_ - at, bytes.size());
    std::copy_n(bytes.begin(), n, buffer_.begin() + static_cast<std::ptrdiff_t>(at));
    bytes.remove_prefix(n);
    if (size_ < capacity_) {
      size_ += n;
    } else {
      start_ = (start_ + n) % capacity_;
    }
  }
}

std::string OutputTail::text() const {
  if (size_ == 0) return {};
  if (size_ < capacity_) return std::string(buffer_.data(), size_);
  std::string out;
  out.reserve(capacity_);
  auto split = buffer_.begin() + static_cast<std::ptrdiff_t>(start_);
  out.append(split, buffer_.end());
  out.append(buffer_.begin(), split);
  return out;
}

}  // namespace inboxd::runner
