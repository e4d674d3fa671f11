#pragma once
// normlab::search::TpeSampler: Optuna 3.1's TPESampler (independent sampling), reproduced
// operation by operation so that, given the same seed and the same objective values, it proposes
// the same points as Optuna. No LibTorch.
//
// Optuna's TPE runs on numpy, and numpy's elementwise exp/log/log1p are not the C library's: on a
// CPU with AVX-512 (SKX subset), numpy 1.22-1.24 computes float64 exp, log and log1p with Intel's
// SVML, which differs from glibc in the last bit for about a quarter of all inputs.
// detail/numpy_math.hpp re-implements those kernels lane by lane (same constants, same operation
// order, same fused multiply-adds), plus numpy's pairwise summation and its default (introsort)
// argsort, so the port can be exact. NumpyMath selects which numpy to match.
//
// Speed without losing a bit (docs/search.md, "Speed"): the work that decides the result is done
// exactly; the rest is done with guaranteed error bounds, and exactly again whenever a bound could
// matter:
//  - truncnorm::ndtri_exp finds the result of Optuna's 100-step bisection with ~15 independent
//    evaluations instead of 100 dependent ones (a Newton window, checked; a predicted path, checked);
//  - TpeSampler::propose_from_approximations scores the 24 candidates at points known to within a
//    proven radius, bounds the scores' errors, and computes only the winner's ppf exactly; when two
//    scores are too close to tell apart, everything is computed exactly, as before;
//  - the loops over components run in detail/tpe_simd.hpp's AVX2/AVX-512 kernels (chosen at run
//    time: normlab needs no -march), which produce the scalar code's bits or, for the bounded
//    scores, stay within their stated error.
// detail::simd::force_reference() runs Optuna's algorithm literally; tests/search/
// tpe_kernels_test.cpp checks every shortcut against it and tpe_test.cpp against Optuna's goldens.
//
// The pieces, each Optuna's own module: detail/truncnorm.hpp (_erf.py, _truncnorm.py),
// detail/parzen_estimator.hpp (parzen_estimator.py), tpe_options.hpp (the settings); this header
// holds the sampler (sampler.py) and includes them all.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "normlab/search/distribution.hpp"
#include "normlab/search/random.hpp"
#include "normlab/search/detail/numpy_math.hpp"
#include "normlab/search/detail/parzen_estimator.hpp"
#include "normlab/search/detail/tpe_simd.hpp"
#include "normlab/search/detail/truncnorm.hpp"
#include "normlab/search/random_state.hpp"
#include "normlab/search/sampler.hpp"
#include "normlab/search/tpe_options.hpp"
#include "normlab/search/trial.hpp"


#include "normlab/search/detail/separate_roundings_begin.hpp"  // no contracted a + b * c below

namespace normlab::search {

/**
 * Tree-structured Parzen Estimator, exactly as optuna.samplers.TPESampler (3.1) with
 * multivariate=False samples each parameter independently.
 *
 * For parameter x of a new trial:
 *  1. Observations: COMPLETE trials score (-inf, sign * value); PRUNED ones (-last step,
 *     sign * last intermediate value) ((-step, inf) if that is NaN, (1, 0) without intermediate
 *     values); with constant_liar RUNNING ones score (inf, sign * inf). sign = -1 when maximising.
 *     FAIL and WAITING trials are ignored. n counts the scores whose step is finite.
 *  2. Fewer than n_startup_trials: a RandomSampler with its own RandomState(seed) draws x.
 *  3. Otherwise the scores are stably sorted; the gamma(n) best are "below", the rest "above"
 *     (each kept in trial order, trials without x dropped).
 *  4. A Parzen estimator (truncated Gaussians on the transformed range: log for log
 *     distributions, +-step/2 for discrete ones) is fitted to each group.
 *  5. n_ei_candidates samples are drawn from l (below) with RandomState(seed): `choice` of the
 *     components, then `uniform` quantiles through the truncated normal's ppf.
 *  6. The candidate maximising log l(x) - log g(x) is proposed.
 *
 * Parity: with the same seed and objective values the proposals equal Optuna's bit for bit on the
 * CPU class selected by TpeOptions::numpy_math (tests/search/tpe_test.cpp replays Optuna runs
 * recorded by scripts/golden/tpe_golden.py; docs/search.md). Not ported: multivariate, group,
 * constraints_func, multi-objective, categorical distributions.
 *
 * Reference: J. Bergstra, R. Bardenet, Y. Bengio, B. Kegl, "Algorithms for Hyper-Parameter
 * Optimization", NeurIPS 2011; J. Bergstra, D. Yamins, D. Cox, "Making a Science of Model Search",
 * ICML 2013.
 */
class TpeSampler final : public Sampler {
 public:
  /// @param options TpeOptions (all Optuna's defaults when omitted).
  explicit TpeSampler(TpeOptions options = {})
      : options_(std::move(options)),
        rng_(options_.seed() ? *options_.seed() : detail::entropy_seed()),
        random_sampler_(options_.seed() ? *options_.seed() : detail::entropy_seed()),
        math_{options_.numpy_math()} {
    if (!options_.gamma()) throw std::invalid_argument("normlab::TpeSampler: gamma must be set");
    if (!options_.weights()) throw std::invalid_argument("normlab::TpeSampler: weights must be set");
    if (options_.n_ei_candidates() < 1)
      throw std::invalid_argument("normlab::TpeSampler: n_ei_candidates must be >= 1");
  }

  double sample_independent(const StudyView& study, const FrozenTrial& trial,
                            const std::string& name, const Distribution& distribution) override {
    if (is_single(distribution)) return single_value(distribution);

    collect_observations(study, name, scores_, values_);
    int n = 0;
    for (const auto& s : scores_) n += s.step < std::numeric_limits<double>::infinity();
    if (n < options_.n_startup_trials())
      return random_sampler_.sample_independent(study, trial, name, distribution);

    split(scores_, values_, options_.gamma()(n), below_, above_);
#if NORMLAB_TPE_X86_SIMD
    if (detail::simd::active_isa() != detail::simd::Isa::Generic) return propose_avx2(distribution);
#endif
    return propose<false>(distribution);
  }

  /// Re-seeds both streams as a new TPESampler(seed=seed) would have them.
  void reseed(uint64_t seed) override {
    rng_.seed_with(seed);
    random_sampler_.reseed(seed);
  }

  std::string name() const override { return "tpe"; }
  const TpeOptions& options() const { return options_; }

 private:
  struct Score {
    double step;
    double value;
  };

  /// The proposal from the split observations (below_, above_): fit l and g, draw the
  /// candidates from l, keep the best log l - log g. Fast: with the vector kernels (the caller is
  /// compiled for AVX2 and FMA).
  template <bool Fast>
  double propose(const Distribution& distribution) {
    detail::fit_parzen<Fast>(below_, distribution, options_, math_, l_);
    detail::fit_parzen<Fast>(above_, distribution, options_, math_, g_);
    // `l.sample(rng, n_ei_candidates)`: the components, then the quantiles.
    const std::size_t n_candidates = static_cast<std::size_t>(options_.n_ei_candidates());
    active_ = rng_.choice(l_.weights.size(), n_candidates, l_.weights);
    quantiles_ = rng_.uniform(0.0, 1.0, n_candidates);
    if (!detail::simd::force_reference().load(std::memory_order_relaxed))
      if (const std::optional<double> fast = propose_from_approximations<Fast>()) return *fast;

    candidates_.resize(n_candidates);
    for (std::size_t i = 0; i < n_candidates; ++i) candidates_[i] = l_.from_transformed(candidate_point(i), math_);
    // Both estimators see the same transformed candidates.
    xs_.resize(n_candidates);
    for (std::size_t i = 0; i < n_candidates; ++i) xs_[i] = l_.log ? math_.log(candidates_[i]) : candidates_[i];
    detail::parzen_log_pdf<Fast>(l_, xs_, log_l_, weighted_, math_);
    detail::parzen_log_pdf<Fast>(g_, xs_, log_g_, weighted_, math_);
    // TPESampler._compare: np.argmax(log l - log g), the first maximum (or the first NaN).
    std::size_t best = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < n_candidates; ++i) {
      const double s = log_l_[i] - log_g_[i];
      if (std::isnan(s)) { best = i; break; }
      if (i == 0 || s > best_score) { best_score = s; best = i; }
    }
    return candidates_[best];
  }

  /// Candidate i in l's transformed space, exactly: the truncated normal's ppf of quantile i
  /// (a[k], b[k], log_mass[k] are (low - mu)/sigma, (high - mu)/sigma and their log mass).
  double candidate_point(std::size_t i) const {
    const std::size_t k = active_[i];
    return detail::truncnorm::ppf(quantiles_[i], l_.a[k], l_.b[k], l_.log_mass[k], math_) * l_.sigmas[k] + l_.mus[k];
  }

  /// The same proposal, bit for bit, without the exact candidates where they are not needed:
  /// each candidate's ppf is taken from its guaranteed window (detail::truncnorm::ppf_approx: one
  /// Newton step and two checks, instead of ~15 evaluations), the scores log l - log g are
  /// computed at those points, and each score's distance to the exact one is bounded by
  /// (Lipschitz constant of the scores) x (distance of the points) + (rounding error of both
  /// evaluations). When the best approximate score beats every other one by more than both
  /// bounds, the exact argmax is the same candidate, and only its ppf is computed exactly. Else
  /// (close scores, a candidate too near a bound of the range, a NaN): nullopt, and the caller
  /// computes everything exactly. Continuous float distributions only (a step or an int rounds
  /// the candidates, which is not continuous).
  template <bool Fast>
  std::optional<double> propose_from_approximations() {
    const auto* f = std::get_if<FloatDistribution>(&l_.distribution);
    if (!f || f->step || l_.degenerate || g_.degenerate) return std::nullopt;
    constexpr double u = 0x1p-53;  // unit roundoff
    const std::size_t m = active_.size();
    xs_.resize(m);
    radius_.resize(m);
    // The chosen components' constants side by side, then every ppf window at once.
    cand_a_.resize(m);
    cand_b_.resize(m);
    cand_mass_.resize(m);
    cand_t_.resize(m);
    ppf_scratch_.resize(4 * m);
    for (std::size_t i = 0; i < m; ++i) {
      cand_a_[i] = l_.a[active_[i]];
      cand_b_[i] = l_.b[active_[i]];
      cand_mass_[i] = l_.log_mass[active_[i]];
    }
    // log_ndtr_single(a < 0 ? a : -b) once per chosen component; log(q), log1p(-q) vectorised.
    component_log_ndtr_.assign(l_.mus.size(), std::numeric_limits<double>::quiet_NaN());
    cand_log_ndtr_.resize(m);
    cand_log_q_.resize(m);
    cand_log1p_q_.resize(m);
    for (std::size_t i = 0; i < m; ++i) {
      double& known = component_log_ndtr_[active_[i]];
      if (std::isnan(known)) known = detail::truncnorm::log_ndtr_single(cand_a_[i] < 0 ? cand_a_[i] : -cand_b_[i]);
      cand_log_ndtr_[i] = known;
      cand_log1p_q_[i] = -quantiles_[i];
    }
    detail::log_array<Fast>(math_, quantiles_.data(), cand_log_q_.data(), m);
    detail::log1p_array<Fast>(math_, cand_log1p_q_.data(), cand_log1p_q_.data(), m);
    for (std::size_t i = 0; i < m; ++i)
      if (!(cand_a_[i] < 0)) cand_log_q_[i] = cand_log1p_q_[i];
    detail::truncnorm::ppf_approx_batch(m, quantiles_.data(), cand_a_.data(), cand_b_.data(), cand_mass_.data(),
                                        cand_log_ndtr_.data(), cand_log_q_.data(), cand_t_.data(), radius_.data(),
                                        ppf_scratch_.data(), math_);
    for (std::size_t i = 0; i < m; ++i) {
      const std::size_t k = active_[i];
      const double t = cand_t_[i], t_radius = radius_[i];
      // The exact path's point is v = x (a float) or log(exp(x)) (a log float), for the exact x.
      const double x = t * l_.sigmas[k] + l_.mus[k];
      double r = 0;
      if (t_radius > 0)  // x: two roundings on each side
        r = l_.sigmas[k] * t_radius * (1 + 8 * u) + 4 * u * (std::fabs(t) * l_.sigmas[k] + std::fabs(x)) + 0x1p-1070;
      if (l_.log) r += 64 * u * (1 + std::fabs(x));  // exp then log: a few ulps of 1 + |x|
      // Both points must lie in [low, high], where no component truncates (z in [a_k, b_k]).
      if (!(x - r >= l_.low && x + r <= l_.high && x - r >= g_.low && x + r <= g_.high)) return std::nullopt;
      xs_[i] = x;
      radius_[i] = r;
    }
    detail::parzen_log_pdf_bounded<Fast>(l_, xs_, log_l_, dropped_l_, weighted_, math_);
    detail::parzen_log_pdf_bounded<Fast>(g_, xs_, log_g_, dropped_g_, weighted_, math_);
    std::size_t best = 0;
    for (std::size_t i = 0; i < m; ++i) {
      if (!std::isfinite(log_l_[i] - log_g_[i])) return std::nullopt;
      if (log_l_[i] - log_g_[i] > log_l_[best] - log_g_[best]) best = i;
    }
    // |computed score - exact score| <= bound(i): the scores' Lipschitz constant times the points'
    // distance, plus the rounding errors of both evaluations (ours and the exact one).
    auto bound = [&](std::size_t i) {
      const double rounding = 64 * u * (l_.error_scale + std::fabs(log_l_[i]) + g_.error_scale + std::fabs(log_g_[i])) +
                              8 * u * static_cast<double>(l_.mus.size() + g_.mus.size());
      return ((l_.lipschitz + g_.lipschitz) * radius_[i] + 2 * rounding + dropped_l_[i] + dropped_g_[i]) * (1 + 0x1p-20);
    };
    const double floor = log_l_[best] - log_g_[best] - bound(best);
    for (std::size_t i = 0; i < m; ++i)
      if (i != best && !(log_l_[i] - log_g_[i] + bound(i) < floor)) return std::nullopt;
    return l_.from_transformed(candidate_point(best), math_);
  }

#if NORMLAB_TPE_X86_SIMD
  /// propose<true> with every call inlined and compiled for AVX2 and FMA: std::fma becomes one
  /// instruction instead of a libm call (same result, it is exactly rounded either way).
  __attribute__((target("avx2,fma"), flatten)) double propose_avx2(const Distribution& distribution) {
    return propose<true>(distribution);
  }
#endif

  static bool is_single(const Distribution& d) {
    return std::visit([](const auto& x) { return x.low == x.high; }, d);
  }
  static double single_value(const Distribution& d) {
    return std::visit([](const auto& x) { return static_cast<double>(x.low); }, d);
  }

  /// params[name], NaN when absent. A trial has a handful of parameters: a scan that compares
  /// lengths first skips most string comparisons (std::map::find compares every key it visits).
  static double param_value(const std::map<std::string, double>& params, const std::string& name) {
    if (params.size() > 8) {
      const auto it = params.find(name);
      return it == params.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
    }
    for (const auto& [key, value] : params)
      if (key.size() == name.size() && std::memcmp(key.data(), name.data(), key.size()) == 0) return value;
    return std::numeric_limits<double>::quiet_NaN();
  }

  /// `_get_observation_pairs` for one parameter (single objective, no constraints).
  void collect_observations(const StudyView& study, const std::string& name, std::vector<Score>& scores,
                            std::vector<double>& values) const {
    const double sign = study.direction == StudyDirection::Minimize ? 1.0 : -1.0;
    constexpr double inf = std::numeric_limits<double>::infinity();
    scores.clear();
    values.clear();
    scores.reserve(study.trials.size());
    values.reserve(study.trials.size());
    for (const auto& t : study.trials) {
      Score score{};
      if (t.state == TrialState::Complete) {
        if (!t.value) continue;
        score = {-inf, sign * *t.value};
      } else if (t.state == TrialState::Pruned) {
        if (!t.intermediate_values.empty()) {
          const auto& [step, value] = *t.intermediate_values.rbegin();
          score = std::isnan(value) ? Score{-static_cast<double>(step), inf}
                                    : Score{-static_cast<double>(step), sign * value};
        } else {
          score = {1.0, 0.0};
        }
      } else if (t.state == TrialState::Running && options_.constant_liar()) {
        score = {inf, sign * inf};
      } else {
        continue;
      }
      scores.push_back(score);
      values.push_back(param_value(t.params, name));
    }
  }

  /// `_split_observation_pairs`: stable lexicographic sort of (step, value), first n_below below.
  /// Only which observations are the first n_below matters, so they are selected (nth_element on
  /// keys that order like numpy's sort, the index breaking ties as a stable sort does) rather than
  /// sorted; and the selection is kept for the next call with the same scores (the other
  /// parameters of the same trial).
  void split(const std::vector<Score>& scores, const std::vector<double>& values, int n_below,
             std::vector<double>& below, std::vector<double>& above) {
    const bool same = n_below == split_n_below_ && scores.size() == split_scores_.size() &&
                      (scores.empty() || std::memcmp(scores.data(), split_scores_.data(), scores.size() * sizeof(Score)) == 0);
    if (!same) {
      split_scores_ = scores;
      split_n_below_ = n_below;
      // numpy's order of doubles (-0 == 0, NaN last and all NaNs equal) as unsigned integers.
      auto key = [](double d) -> uint64_t {
        if (std::isnan(d)) return ~uint64_t{0};
        const uint64_t bits = std::bit_cast<uint64_t>(d == 0 ? 0.0 : d);
        return bits >> 63 ? ~bits : bits | (uint64_t{1} << 63);
      };
      split_keys_.resize(scores.size());
      for (std::size_t i = 0; i < scores.size(); ++i)
        split_keys_[i] = {key(scores[i].step), key(scores[i].value), i};
      is_below_.assign(scores.size(), 0);
      const std::size_t k = std::min(scores.size(), static_cast<std::size_t>(std::max(n_below, 0)));
      auto less = [](const SplitKey& x, const SplitKey& y) {
        return x.step != y.step ? x.step < y.step : x.value != y.value ? x.value < y.value : x.index < y.index;
      };
      if (k > 0 && k < split_keys_.size()) std::nth_element(split_keys_.begin(), split_keys_.begin() + (k - 1), split_keys_.end(), less);
      for (std::size_t i = 0; i < k; ++i) is_below_[split_keys_[i].index] = 1;
    }
    below.clear();
    above.clear();
    for (std::size_t i = 0; i < scores.size(); ++i) {
      if (std::isnan(values[i])) continue;
      (is_below_[i] ? below : above).push_back(values[i]);
    }
  }

  TpeOptions options_;
  RandomState rng_;
  RandomSampler random_sampler_;
  detail::numpy::Math math_;
  // Scratch reused by every call (a sampler is used under its study's lock, one call at a time).
  std::vector<Score> scores_;
  std::vector<double> values_, below_, above_, candidates_, xs_, log_l_, log_g_, weighted_;
  std::vector<double> dropped_l_, dropped_g_;
  std::vector<double> quantiles_, radius_, cand_a_, cand_b_, cand_mass_, cand_t_, ppf_scratch_;
  std::vector<double> component_log_ndtr_, cand_log_ndtr_, cand_log_q_, cand_log1p_q_;
  std::vector<std::size_t> active_, order_;
  struct SplitKey {
    uint64_t step, value;
    std::size_t index;
  };
  std::vector<Score> split_scores_;  // the scores is_below_ was computed for
  int split_n_below_ = -1;
  std::vector<SplitKey> split_keys_;
  std::vector<char> is_below_;
  detail::ParzenEstimator l_, g_;
};

}  // namespace normlab::search

#include "normlab/search/detail/separate_roundings_end.hpp"
