#pragma once
// Retry backoff (PRODUCT.md "Details"): the nominal delay before retry n is
// min(retry_backoff * 2^(n-1), retry_backoff_max); the actual delay is uniform
// between half of it and all of it, so failing jobs of one inbox do not retry
// in lockstep.

#include <random>

#include "common/clock.hpp"

namespace inboxd::app {

// n is the retry number, from 1. Saturates instead of overflowing.
Millis nominal_backoff(Millis base, Millis max, int n);

// A delay drawn uniformly from [nominal/2, nominal].
Millis jittered_backoff(Millis base, Millis max, int n, std::mt19937_64& rng);

}  // namespace inboxd::app
