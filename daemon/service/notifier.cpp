#include "daemon/service/notifier.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "common/sys_error.hpp"

namespace inboxd::service {
namespace {

using std::chrono::microseconds;

// A whole decimal number and nothing else; what sd_notify's helpers accept.
std::optional<unsigned long long> parse_unsigned(const char* text) {
  if (text == nullptr || *text < '0' || *text > '9') return std::nullopt;
  errno = 0;
  char* end = nullptr;
  unsigned long long value = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return value;
}

// WATCHDOG_USEC, unless WATCHDOG_PID says the watchdog is someone else's.
std::optional<microseconds> watchdog_from_environment() {
  auto usec = parse_unsigned(std::getenv("WATCHDOG_USEC"));
  if (!usec || *usec == 0) return std::nullopt;
  if (const char* pid_text = std::getenv("WATCHDOG_PID")) {
    auto pid = parse_unsigned(pid_text);
    if (!pid || *pid != static_cast<unsigned long long>(::getpid())) return std::nullopt;
  }
  return microseconds(static_cast<microseconds::rep>(*usec));
}

// CLOCK_MONOTONIC in microseconds, the clock systemd compares MONOTONIC_USEC with.
unsigned long long monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<unsigned long long>(now.tv_sec) * 1000000ULL +
         static_cast<unsigned long long>(now.tv_nsec) / 1000ULL;
}

}  // namespace

Notifier Notifier::from_environment() {
  const char* address = std::getenv("NOTIFY_SOCKET");
  if (address == nullptr || *address == '\0') return Notifier();
  auto notifier = to_socket(address, watchdog_from_environment());
  auto log = log::get("service");
  if (!notifier) {
    log->warn("service manager notifications disabled error={}",
              log::quote(notifier.error().message));
    return Notifier();
  }
  auto interval = notifier->watchdog_interval();
  log->debug("service manager notifications enabled socket={} watchdog_interval={}",
             log::quote(address), interval ? format_duration(*interval) : "none");
  return std::move(*notifier);
}

Result<Notifier> Notifier::to_socket(std::string_view socket_address,
                                     std::optional<microseconds> watchdog_timeout) {
  Notifier notifier;
  auto& address = notifier.address_;
  address.sun_family = AF_UNIX;
  const std::string object = "notify socket " + std::string(socket_address);
  bool abstract = !socket_address.empty() && socket_address.front() == '@';
  if (!abstract && (socket_address.empty() || socket_address.front() != '/')) {
    return fail(object + ": not an absolute path or an @abstract name");
  }
  // A path keeps room for its terminating NUL; an abstract name has none.
  if (socket_address.size() + (abstract ? 0 : 1) > sizeof address.sun_path) {
    return fail(object + ": name too long");
  }
  std::memcpy(address.sun_path, socket_address.data(), socket_address.size());
  if (abstract) address.sun_path[0] = '\0';
  notifier.address_size_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                                  socket_address.size() + (abstract ? 0 : 1));
  // Non-blocking: a service manager that stopped reading must not stall the
  // event loop; such a datagram is reported as lost instead.
  notifier.fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!notifier.fd_.valid()) return fail_errno("socket", object);
  notifier.address_text_ = std::string(socket_address);
  notifier.watchdog_timeout_ = watchdog_timeout;
  return notifier;
}

std::optional<Millis> Notifier::watchdog_interval() const {
  if (!enabled() || !watchdog_timeout_) return std::nullopt;
  return std::max(Millis(1), std::chrono::duration_cast<Millis>(*watchdog_timeout_ / 2));
}

Result<void> Notifier::notify(std::string_view message) {
  if (!enabled()) return {};
  for (;;) {
    auto sent = ::sendto(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL,
                         reinterpret_cast<const sockaddr*>(&address_), address_size_);
    if (sent >= 0) return {};
    if (errno != EINTR) return fail_errno("send notification to", address_text_);
  }
}

bool Notifier::send_logged(std::string_view message) {
  if (!enabled()) return false;
  auto sent = notify(message);
  if (!sent) {
    if (!failing_) {
      log_->warn("service manager notification lost error={}", log::quote(sent.error().message));
    } else {
      log_->debug("service manager notification lost error={}", log::quote(sent.error().message));
    }
    failing_ = true;
    return false;
  }
  if (failing_) log_->info("service manager notifications work again");
  failing_ = false;
  log_->trace("service manager notified message={}", log::quote(message));
  return true;
}

void Notifier::ready() { send_logged("READY=1"); }

void Notifier::reloading() {
  send_logged(fmt::format("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
}

void Notifier::stopping() { send_logged("STOPPING=1"); }

void Notifier::watchdog() {
  if (watchdog_timeout_) send_logged("WATCHDOG=1");
}

void Notifier::status(std::string_view line) {
  if (!enabled()) return;
  std::string clean(line);
  std::replace_if(
      clean.begin(), clean.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }, ' ');
  if (last_status_ == clean) return;
  if (send_logged("STATUS=" + clean)) last_status_ = std::move(clean);
}

}  // namespace inboxd::service
