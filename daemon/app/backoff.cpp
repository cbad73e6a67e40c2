#include "daemon/app/backoff.hpp"

#include <algorithm>

namespace inboxd::app {

Millis nominal_backoff(Millis base, Millis max, int n) {
  if (base.count() <= 0) return Millis{0};
  auto delay = base.count();
  for (int i = 1; i < n && delay < max.count(); ++i) {
    delay *= 2;
  }
  return Millis{std::min(delay, max.count())};
}

Millis jittered_backoff(Millis base, Millis max, int n, std::mt19937_64& rng) {
  auto nominal = nominal_backoff(base, max, n).count();
  if (nominal <= 0) return Millis{0};
  std::uniform_int_distribution<long long> pick(nominal / 2, nominal);
  return Millis{pick(rng)};
}

}  // namespace inboxd::app
