#pragma once
// normlab::search::TpeOptions: TpeSampler's settings, with Optuna 3.1's names and defaults, and
// Optuna's default gamma and weights functions. Apart from the sampler so that code which only
// configures a TPE search (or reads its settings back) does not need the sampler's arithmetic.
// No LibTorch.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "normlab/search/detail/numpy_math.hpp"

#include "normlab/search/detail/separate_roundings_begin.hpp"  // no contracted a + b * c below

namespace normlab::search {

/// Optuna's default_gamma: min(ceil(0.1 n), 25).
inline int default_gamma(int n) { return std::min(static_cast<int>(std::ceil(0.1 * n)), 25); }
/// Optuna's hyperopt_default_gamma: min(ceil(0.25 sqrt(n)), 25).
inline int hyperopt_default_gamma(int n) {
  return std::min(static_cast<int>(std::ceil(0.25 * std::sqrt(static_cast<double>(n)))), 25);
}
/// Optuna's default_weights: n ones below 25 observations, else a ramp from 1/n to 1 over the
/// oldest n - 25 observations and ones for the newest 25.
inline std::vector<double> default_weights(int n) {
  if (n <= 0) return {};
  if (n < 25) return std::vector<double>(static_cast<std::size_t>(n), 1.0);
  std::vector<double> w = detail::numpy::linspace(1.0 / n, 1.0, static_cast<std::size_t>(n - 25));
  w.insert(w.end(), 25, 1.0);
  return w;
}

/**
 * TpeSampler's settings, with Optuna 3.1's names and defaults; chaining setters as LibTorch's
 * `XxxOptions` (`TpeOptions().n_startup_trials(5).seed(1998)`).
 */
class TpeOptions {
 public:
  using GammaFn = std::function<int(int)>;
  using WeightsFn = std::function<std::vector<double>(int)>;

  /// Mix a prior Gaussian (centre of the range, sigma = range) into each Parzen estimator.
  TpeOptions& consider_prior(bool value) {
    consider_prior_ = value;
    return *this;
  }
  bool consider_prior() const { return consider_prior_; }

  /// Weight of that prior component.
  TpeOptions& prior_weight(double value) {
    prior_weight_ = value;
    return *this;
  }
  double prior_weight() const { return prior_weight_; }

  /// Floor each sigma at range / min(100, 1 + number of components).
  TpeOptions& consider_magic_clip(bool value) {
    consider_magic_clip_ = value;
    return *this;
  }
  bool consider_magic_clip() const { return consider_magic_clip_; }

  /// Use the distance to the range ends for the outermost observations' sigma.
  TpeOptions& consider_endpoints(bool value) {
    consider_endpoints_ = value;
    return *this;
  }
  bool consider_endpoints() const { return consider_endpoints_; }

  /// Random sampling until this many trials are COMPLETE or PRUNED.
  TpeOptions& n_startup_trials(int value) {
    n_startup_trials_ = value;
    return *this;
  }
  int n_startup_trials() const { return n_startup_trials_; }

  /// Candidates drawn from l(x); the one with the largest l(x)/g(x) is proposed.
  TpeOptions& n_ei_candidates(int value) {
    n_ei_candidates_ = value;
    return *this;
  }
  int n_ei_candidates() const { return n_ei_candidates_; }

  /// Number of "below" (good) observations out of n.
  TpeOptions& gamma(GammaFn value) {
    gamma_ = std::move(value);
    return *this;
  }
  const GammaFn& gamma() const { return gamma_; }

  /// Weights of the n observations of an estimator, oldest first.
  TpeOptions& weights(WeightsFn value) {
    weights_ = std::move(value);
    return *this;
  }
  const WeightsFn& weights() const { return weights_; }

  /// Seed of both random streams; none: from the operating system (Optuna's seed=None).
  TpeOptions& seed(std::optional<uint64_t> value) {
    seed_ = std::move(value);
    return *this;
  }
  const std::optional<uint64_t>& seed() const { return seed_; }

  /// Count RUNNING trials as the worst observations (spreads out parallel workers).
  TpeOptions& constant_liar(bool value) {
    constant_liar_ = value;
    return *this;
  }
  bool constant_liar() const { return constant_liar_; }

  /// Which numpy's last-bit arithmetic to reproduce (see NumpyMath).
  TpeOptions& numpy_math(NumpyMath value) {
    numpy_math_ = value;
    return *this;
  }
  NumpyMath numpy_math() const { return numpy_math_; }

  /// TPESampler.hyperopt_parameters(): n_startup_trials=20, gamma=hyperopt_default_gamma.
  static TpeOptions hyperopt() { return TpeOptions().n_startup_trials(20).gamma(hyperopt_default_gamma); }

 private:
  bool consider_prior_ = true;
  double prior_weight_ = 1.0;
  bool consider_magic_clip_ = true;
  bool consider_endpoints_ = false;
  int n_startup_trials_ = 10;
  int n_ei_candidates_ = 24;
  GammaFn gamma_ = default_gamma;
  WeightsFn weights_ = default_weights;
  std::optional<uint64_t> seed_ = std::nullopt;
  bool constant_liar_ = false;
  NumpyMath numpy_math_ = NumpyMath::Avx512Skx;
};

}  // namespace normlab::search

#include "normlab/search/detail/separate_roundings_end.hpp"
