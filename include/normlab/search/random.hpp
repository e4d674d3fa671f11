#pragma once
// normlab::search::RandomSampler: Optuna 3.1's RandomSampler, draw for draw. No LibTorch.

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <variant>

#include "normlab/search/distribution.hpp"
#include "normlab/search/random_state.hpp"
#include "normlab/search/sampler.hpp"


#include "normlab/search/detail/separate_roundings_begin.hpp"  // no contracted a + b * c below

namespace normlab::search {

namespace detail {

/// A seed from the operating system, for samplers built without one (Optuna's seed=None).
inline uint64_t entropy_seed() {
  std::random_device device;
  return (static_cast<uint64_t>(device()) << 32) ^ device();
}

/// numpy.round for one double: round half to even.
inline double np_round(double v) { return std::nearbyint(v); }

/// numpy.clip(v, low, high) for one double (NaN stays NaN).
inline double np_clip(double v, double low, double high) {
  if (std::isnan(v)) return v;
  return v < low ? low : (v > high ? high : v);
}

}  // namespace detail

/**
 * Uniform random search, as optuna.samplers.RandomSampler (3.1) draws it.
 *
 * Each parameter costs one `RandomState.uniform(low, high)` in the transformed space of
 * optuna._transform._SearchSpaceTransform:
 *  - float: `[low, high]`, then `min(x, nextafter(high, -inf))` so `high` is never returned;
 *  - log float: `[log low, log high]` (libm `log`, as Python's math.log), then `exp` and the same
 *    clamp;
 *  - float with step / int: `[low - step/2, high + step/2]`, then `round((x - low)/step)*step + low`
 *    (round half to even) clipped to `[low, high]`;
 *  - log int: `[log(low - 1/2), log(high + 1/2)]`, then `round(exp(x))` clipped.
 * With the same seed it proposes exactly Optuna's values (tests/search/samplers_test.cpp).
 */
class RandomSampler final : public Sampler {
 public:
  /// @param seed seeds a numpy-compatible RandomState (see RandomState for seeds >= 2**32).
  explicit RandomSampler(uint64_t seed) : rng_(seed) {}
  /// Seeded from the operating system, as Optuna's RandomSampler(seed=None).
  RandomSampler() : rng_(detail::entropy_seed()) {}

  double sample_independent(const StudyView&, const FrozenTrial&, const std::string&,
                            const Distribution& distribution) override {
    return sample(rng_, distribution);
  }

  void reseed(uint64_t seed) override { rng_.seed_with(seed); }
  std::string name() const override { return "random"; }

  /// One draw of `distribution` from `rng`, in the external representation.
  static double sample(RandomState& rng, const Distribution& distribution) {
    return std::visit([&](const auto& d) { return sample_one(rng, d); }, distribution);
  }

 private:
  static double sample_one(RandomState& rng, const FloatDistribution& d) {
    const bool single = d.low == d.high;
    if (d.log) {
      const double x = rng.uniform(std::log(d.low), std::log(d.high));
      const double v = std::exp(x);
      return single ? v : std::fmin(v, std::nextafter(d.high, d.high - 1));
    }
    if (d.step) {
      const double half = 0.5 * *d.step;
      const double x = rng.uniform(d.low - half, d.high + half);
      return detail::np_clip(detail::np_round((x - d.low) / *d.step) * *d.step + d.low, d.low, d.high);
    }
    const double x = rng.uniform(d.low, d.high);
    return single ? x : std::fmin(x, std::nextafter(d.high, d.high - 1));
  }

  static double sample_one(RandomState& rng, const IntDistribution& d) {
    const double half = 0.5 * static_cast<double>(d.step);
    const double low = static_cast<double>(d.low), high = static_cast<double>(d.high);
    if (d.log) {
      const double x = rng.uniform(std::log(low - half), std::log(high + half));
      return detail::np_clip(detail::np_round(std::exp(x)), low, high);
    }
    const double x = rng.uniform(low - half, high + half);
    const double step = static_cast<double>(d.step);
    return detail::np_clip(detail::np_round((x - low) / step) * step + low, low, high);
  }

  RandomState rng_;
};

}  // namespace normlab::search

#include "normlab/search/detail/separate_roundings_end.hpp"
