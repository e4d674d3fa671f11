#pragma once
// TpeSampler's Parzen estimator: Optuna 3.1's optuna/samplers/_tpe/parzen_estimator.py
// (_ParzenEstimator, univariate) ported operation by operation. fit_parzen() is its constructor
// (weights, bounds, the mixture's means and sigmas, each component's log mass); parzen_log_pdf()
// its log_pdf. Its own header because it is Optuna's own module: the sampler (tpe.hpp) only splits
// the observations, fits one estimator to each side and compares them. An implementation detail
// of TpeSampler (namespace detail), not an interface of its own. No LibTorch.
//
// With Fast, the loops run in detail/tpe_simd.hpp's vector kernels (the caller is compiled for
// AVX2 and FMA); they compute the scalar code's bits. fit_parzen also prepares the bounds that
// TpeSampler::propose_from_approximations needs (lipschitz, error_scale, the sorted mixture).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "normlab/search/distribution.hpp"
#include "normlab/search/random.hpp"
#include "normlab/search/detail/numpy_math.hpp"
#include "normlab/search/detail/tpe_simd.hpp"
#include "normlab/search/detail/truncnorm.hpp"
#include "normlab/search/tpe_options.hpp"

#include "normlab/search/detail/separate_roundings_begin.hpp"  // no contracted a + b * c below

namespace normlab::search {

#if NORMLAB_TPE_X86_SIMD
namespace detail::simd {

/// For k < n: a[k] = (low - mu[k]) / sigma[k], b[k] = (high - mu[k]) / sigma[k], and
/// arg[k] = -ndtr(a[k]) - ndtr(-b[k]) (the argument of log1p in log_gauss_mass), four components at
/// a time. ndtr(x) = 0.5 + 0.5 optuna_erf(x / sqrt 2) is exactly 0 or 1 where |x / sqrt 2| >= 6
/// (erf's saturated branch returns the sign); the other lanes use the scalar ndtr.
__attribute__((target("avx2,fma"))) inline void mass_arguments_avx2(double low, double high, const double* mu,
                                                                     const double* sigma, std::size_t n, double* a,
                                                                     double* b, double* arg, const numpy::Math& m) {
  const __m256d vlow = _mm256_set1_pd(low), vhigh = _mm256_set1_pd(high), sqrt2 = _mm256_set1_pd(truncnorm::sqrt2);
  const __m256d six = _mm256_set1_pd(6.0), abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
  const __m256d half = _mm256_set1_pd(0.5), zero = _mm256_setzero_pd(), sign = _mm256_set1_pd(-0.0);
  std::size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    const __m256d vmu = _mm256_loadu_pd(mu + k), vsigma = _mm256_loadu_pd(sigma + k);
    const __m256d va = _mm256_div_pd(_mm256_sub_pd(vlow, vmu), vsigma);
    const __m256d vb = _mm256_div_pd(_mm256_sub_pd(vhigh, vmu), vsigma);
    _mm256_storeu_pd(a + k, va);
    _mm256_storeu_pd(b + k, vb);
    // 0.5 + 0.5 sign(x / sqrt 2) where |x / sqrt 2| >= 6
    const __m256d ta = _mm256_div_pd(va, sqrt2), tb = _mm256_div_pd(_mm256_xor_pd(vb, sign), sqrt2);
    const int ok_a = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_and_pd(ta, abs_mask), six, _CMP_GE_OQ));
    const int ok_b = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_and_pd(tb, abs_mask), six, _CMP_GE_OQ));
    const __m256d one = _mm256_set1_pd(1.0), minus_one = _mm256_set1_pd(-1.0);
    const __m256d na = _mm256_add_pd(half, _mm256_mul_pd(half, _mm256_blendv_pd(minus_one, one, _mm256_cmp_pd(ta, zero, _CMP_GT_OQ))));
    const __m256d nb = _mm256_add_pd(half, _mm256_mul_pd(half, _mm256_blendv_pd(minus_one, one, _mm256_cmp_pd(tb, zero, _CMP_GT_OQ))));
    _mm256_storeu_pd(arg + k, _mm256_sub_pd(_mm256_xor_pd(na, sign), nb));
    if ((ok_a & ok_b) != 0xf)
      for (std::size_t j = k; j < k + 4; ++j) arg[j] = -truncnorm::ndtr(a[j], m) - truncnorm::ndtr(-b[j], m);
  }
  for (; k < n; ++k) {
    a[k] = (low - mu[k]) / sigma[k];
    b[k] = (high - mu[k]) / sigma[k];
    arg[k] = -truncnorm::ndtr(a[k], m) - truncnorm::ndtr(-b[k], m);
  }
}

}  // namespace detail::simd
#endif

namespace detail {

/// log(sqrt(2 pi)) as Optuna's _normal_logpdf computes it (libm).
inline double norm_pdf_log_c() {
  static const double c = std::log(std::sqrt(2 * 3.141592653589793));
  return c;
}

/// m.log / m.log1p of n values (vectorised with Fast: the caller is compiled for AVX2 and FMA).
template <bool Fast>
void log_array(const numpy::Math& m, const double* in, double* out, std::size_t n) {
#if NORMLAB_TPE_X86_SIMD
  if constexpr (Fast)
    if (m.mode == NumpyMath::Avx512Skx) return simd::log_svml_array_avx2(in, out, n);
#endif
  for (std::size_t k = 0; k < n; ++k) out[k] = m.log(in[k]);
}
template <bool Fast>
void log1p_array(const numpy::Math& m, const double* in, double* out, std::size_t n) {
#if NORMLAB_TPE_X86_SIMD
  if constexpr (Fast)
    if (m.mode == NumpyMath::Avx512Skx) return simd::log1p_svml_array_avx2(in, out, n);
#endif
  for (std::size_t k = 0; k < n; ++k) out[k] = m.log1p(in[k]);
}

/// A univariate Parzen estimator (optuna.samplers._tpe.parzen_estimator._ParzenEstimator), its
/// per-component constants in contiguous arrays. Reused from call to call (no allocation once
/// the arrays have grown). fit_parzen() builds it; parzen_log_pdf() evaluates it.
struct ParzenEstimator {
  Distribution distribution;
  std::vector<double> weights, log_weights, mus, sigmas;
  std::vector<double> a, b, log_mass;  // (low - mu)/sigma, (high - mu)/sigma, log mass in [a, b]
  double low = 0, high = 0;
  std::optional<double> q;
  bool log = false;
  bool degenerate = false;  // some a_k == b_k: NaN densities, left to the scalar code
  // Bounds for propose_from_approximations: |d/dx log_pdf| <= lipschitz on [low, high], and the
  // rounding error of one log_pdf evaluation v is at most 64 u (error_scale + |v|) + 8 u n.
  double lipschitz = 0, error_scale = 0;
  // The same mixture for detail::simd::log_mixture_bound_avx2 (sorted by mean; Fast fits only).
  std::vector<double> bound_mu, bound_inv_sigma, bound_c;
  double bound_shift = 0;
  // fit_parzen's scratch, kept to reuse its memory.
  std::vector<std::size_t> sorted_indices;
  std::vector<double> ends, sorted_sigmas;

  detail::simd::MixtureView view() const {
    return {mus.data(), sigmas.data(), a.data(), b.data(), log_mass.data(), log_weights.data(), mus.size()};
  }

  /// `_transform_from_uniform` for one value.
  double from_transformed(double x, const detail::numpy::Math& m) const {
    return std::visit(
        [&](const auto& d) -> double {
          using D = std::decay_t<decltype(d)>;
          if constexpr (std::is_same_v<D, FloatDistribution>) {
            if (d.log) return m.exp(x);
            if (d.step) return detail::np_clip(detail::np_round((x - d.low) / *q) * *q + d.low, d.low, d.high);
            return x;
          } else {
            const double lo = static_cast<double>(d.low), hi = static_cast<double>(d.high);
            if (d.log) return detail::np_clip(detail::np_round(m.exp(x)), lo, hi);
            return detail::np_clip(detail::np_round((x - lo) / *q) * *q + lo, lo, hi);
          }
        },
        distribution);
  }

  /// `log_pdf` of one transformed value for a discrete (stepped) distribution: interval masses.
  double log_pdf_discrete(double x, std::vector<double>& weighted, const detail::numpy::Math& m) const {
    const std::size_t n = mus.size();
    weighted.resize(n);
    const double upper = std::isnan(x + *q / 2.0) ? x + *q / 2.0 : std::min(x + *q / 2.0, high);
    const double lower = std::isnan(x - *q / 2.0) ? x - *q / 2.0 : std::max(x - *q / 2.0, low);
    for (std::size_t k = 0; k < n; ++k) {
      const double lp =
          detail::truncnorm::log_gauss_mass((lower - mus[k]) / sigmas[k], (upper - mus[k]) / sigmas[k], m) -
          log_mass[k];
      weighted[k] = (0.0 + lp) + log_weights[k];
    }
    double max = weighted[0];  // ndarray.max: NaN if any is NaN
    for (std::size_t k = 1; k < n && !std::isnan(max); ++k)
      if (std::isnan(weighted[k]) || weighted[k] > max) max = weighted[k];
    for (std::size_t k = 0; k < n; ++k) weighted[k] = m.exp(weighted[k] - max);
    return m.log(0.0 + detail::numpy::pairwise_sum(weighted.data(), n)) + max;
  }
};

/// `_ParzenEstimator(observations, {name: distribution}, parameters)` (univariate), into p, with
/// the settings of `options`.
template <bool Fast>
void fit_parzen(const std::vector<double>& observations, const Distribution& distribution, const TpeOptions& options,
                const numpy::Math& m, ParzenEstimator& p) {
  p.distribution = distribution;
  p.q.reset();
  const std::size_t n = observations.size();
  const bool consider_prior = options.consider_prior() || n == 0;

  // _calculate_weights
  std::vector<double> w = options.weights()(static_cast<int>(n));
  if (w.size() > n) w.resize(n);
  if (w.size() != n)
    throw std::invalid_argument("normlab::TpeSampler: the weights function returned " + std::to_string(w.size()) +
                                " values for " + std::to_string(n) + " observations");
  for (double v : w)
    if (v < 0) throw std::invalid_argument("normlab::TpeSampler: the weights function returned a negative value");
  if (!w.empty() && numpy::sum(w) <= 0)
    throw std::invalid_argument("normlab::TpeSampler: the weights function returned all-zero values");
  for (double v : w)
    if (!std::isfinite(v)) throw std::invalid_argument("normlab::TpeSampler: the weights function returned inf or NaN");
  p.weights.assign(w.begin(), w.end());
  if (consider_prior) p.weights.push_back(options.prior_weight());
  const double total = numpy::sum(p.weights);
  for (auto& v : p.weights) v /= total;
  p.log_weights.resize(p.weights.size());
  log_array<Fast>(m, p.weights.data(), p.log_weights.data(), p.weights.size());

  // _calculate_parzen_bounds
  std::visit(
      [&](const auto& d) {
        using D = std::decay_t<decltype(d)>;
        p.log = d.log;
        if constexpr (std::is_same_v<D, FloatDistribution>) {
          if (d.log) {
            p.low = m.log(d.low);
            p.high = m.log(d.high);
          } else if (d.step) {
            p.q = *d.step;
            p.low = d.low - 0.5 * *d.step;
            p.high = d.high + 0.5 * *d.step;
          } else {
            p.low = d.low;
            p.high = d.high;
          }
        } else {
          if (d.log) {
            p.low = m.log(static_cast<double>(d.low) - 0.5);
            p.high = m.log(static_cast<double>(d.high) + 0.5);
          } else {
            p.q = static_cast<double>(d.step);
            p.low = static_cast<double>(d.low) - 0.5 * static_cast<double>(d.step);
            p.high = static_cast<double>(d.high) + 0.5 * static_cast<double>(d.step);
          }
        }
      },
      distribution);

  // _calculate_numerical_params (univariate)
  const double low = p.low, high = p.high;
  std::vector<double>& mus = p.mus;
  mus.assign(observations.begin(), observations.end());
  if (p.log) log_array<Fast>(m, mus.data(), mus.data(), n);
  if (consider_prior) mus.push_back(0.5 * (low + high));
  const std::size_t count = mus.size();
  numpy::argsort_into(mus.data(), count, p.sorted_indices);
  std::vector<double>& ends = p.ends;
  ends.resize(count + 2);
  ends[0] = low;
  for (std::size_t i = 0; i < count; ++i) ends[i + 1] = mus[p.sorted_indices[i]];
  ends[count + 1] = high;
  auto np_maximum = [](double x, double y) { return (std::isnan(x) || std::isnan(y)) ? x + y : std::max(x, y); };
  std::vector<double>& sorted_sigmas = p.sorted_sigmas;
  sorted_sigmas.resize(count);
  for (std::size_t i = 0; i < count; ++i) sorted_sigmas[i] = np_maximum(ends[i + 1] - ends[i], ends[i + 2] - ends[i + 1]);
  if (!options.consider_endpoints() && ends.size() >= 4) {
    sorted_sigmas[0] = ends[2] - ends[1];
    sorted_sigmas[count - 1] = ends[count] - ends[count - 1];
  }
  p.sigmas.assign(count, 0.0);
  for (std::size_t i = 0; i < count; ++i) p.sigmas[p.sorted_indices[i]] = sorted_sigmas[i];
  const double max_sigma = 1.0 * (high - low);
  const double min_sigma = options.consider_magic_clip()
                               ? 1.0 * (high - low) / std::min(100.0, 1.0 + static_cast<double>(count))
                               : 1e-12;
  for (auto& s : p.sigmas) s = np_clip(s, min_sigma, max_sigma);
  if (consider_prior) p.sigmas[n] = 1.0 * (high - low);

  p.a.resize(count);
  p.b.resize(count);
  p.log_mass.resize(count);
  p.degenerate = false;
  // log_gauss_mass(a, b); where a <= 0 < b (the usual case) that is log1p(-ndtr(a) - ndtr(-b)),
  // whose log1p runs over the whole array at once.
  bool done = false;
#if NORMLAB_TPE_X86_SIMD
  if constexpr (Fast) {
    simd::mass_arguments_avx2(low, high, mus.data(), p.sigmas.data(), count, p.a.data(), p.b.data(),
                              p.log_mass.data(), m);
    for (std::size_t k = 0; k < count; ++k) p.degenerate = p.degenerate || p.a[k] == p.b[k];
    done = true;
  }
#endif
  if (!done)
    for (std::size_t k = 0; k < count; ++k) {
      const double a = (low - mus[k]) / p.sigmas[k], b = (high - mus[k]) / p.sigmas[k];
      p.a[k] = a;
      p.b[k] = b;
      p.degenerate = p.degenerate || a == b;
      p.log_mass[k] = -truncnorm::ndtr(a, m) - truncnorm::ndtr(-b, m);
    }
  log1p_array<Fast>(m, p.log_mass.data(), p.log_mass.data(), count);
  for (std::size_t k = 0; k < count; ++k)
    if (p.b[k] <= 0 || p.a[k] > 0) p.log_mass[k] = truncnorm::log_gauss_mass(p.a[k], p.b[k], m);
  double min_sigma2 = std::numeric_limits<double>::infinity(), z_max = 0, terms_max = 0;
  for (std::size_t k = 0; k < count; ++k) {
    min_sigma2 = std::min(min_sigma2, p.sigmas[k] * p.sigmas[k]);
    z_max = std::max({z_max, std::fabs(p.a[k]), std::fabs(p.b[k])});
    terms_max = std::max(terms_max, std::fabs(p.log_mass[k]) + std::fabs(p.log_weights[k]));
  }
  // d/dx log sum_k w_k N_k(x) is a weighted mean of -(x - mu_k) / sigma_k^2.
  p.lipschitz = (high - low) / min_sigma2 * (1 + 0x1p-20);
  p.error_scale = 0.5 * z_max * z_max + terms_max + 8;
  if constexpr (Fast) {
    // Padded to a multiple of 8 with components that never count (exponent -1e300), so the
    // kernels need no scalar tail.
    const std::size_t padded = (count + 7) / 8 * 8;
    p.bound_mu.assign(padded, 0.0);
    p.bound_inv_sigma.assign(padded, 0.0);
    p.bound_c.assign(padded, -1e300);
    p.bound_shift = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < count; ++i) {
      const std::size_t k = p.sorted_indices[i];
      p.bound_mu[i] = mus[k];
      p.bound_inv_sigma[i] = 1.0 / p.sigmas[k];
      p.bound_c[i] = (p.log_weights[k] - p.log_mass[k]) - norm_pdf_log_c();
      p.bound_shift = std::max(p.bound_shift, p.bound_c[i]);
    }
    for (std::size_t i = 0; i < count; ++i) p.bound_c[i] -= p.bound_shift;
  }
}

/// `log_pdf` of p at every transformed point xs into out (weighted: scratch).
template <bool Fast>
void parzen_log_pdf(const ParzenEstimator& p, const std::vector<double>& xs, std::vector<double>& out,
                    std::vector<double>& weighted, const numpy::Math& m) {
  const std::size_t n = xs.size();
  out.resize(n);
  if (p.q) {
    for (std::size_t i = 0; i < n; ++i) out[i] = p.log_pdf_discrete(xs[i], weighted, m);
    return;
  }
  const double log_c = norm_pdf_log_c();
  weighted.resize(p.mus.size());
  const simd::MixtureView view = p.view();
#if NORMLAB_TPE_X86_SIMD
  if constexpr (Fast) {
    if (!p.degenerate) {
      simd::log_mixture_avx2(view, log_c, xs.data(), n, out.data(), weighted.data(), m);
      return;
    }
  }
#endif
  for (std::size_t i = 0; i < n; ++i)
    out[i] = simd::log_mixture_scalar(view, log_c, xs[i], weighted.data(), m);
}

/// log_pdf of p at the transformed points xs within TpeSampler::propose_from_approximations' error
/// bound: log_mixture_bound_avx2 (or _avx512) with Fast, else the exact log_pdf (error 0).
/// `dropped` receives an extra error bound per point (terms left out of the sum).
template <bool Fast>
void parzen_log_pdf_bounded(const ParzenEstimator& p, const std::vector<double>& xs, std::vector<double>& out,
                            std::vector<double>& dropped, std::vector<double>& weighted, const numpy::Math& m) {
  dropped.assign(xs.size(), 0.0);
#if NORMLAB_TPE_X86_SIMD
  if constexpr (Fast) {
    out.resize(xs.size());
    const simd::BoundMixture mixture{p.bound_mu.data(), p.bound_inv_sigma.data(), p.bound_c.data(),
                                     p.bound_shift, p.bound_mu.size(), p.mus.size()};
    if (simd::active_isa() == simd::Isa::Avx512)
      simd::log_mixture_bound_avx512(mixture, xs.data(), xs.size(), out.data(), dropped.data());
    else
      simd::log_mixture_bound_avx2(mixture, xs.data(), xs.size(), out.data(), dropped.data());
    return;
  }
#endif
  parzen_log_pdf<Fast>(p, xs, out, weighted, m);
}

}  // namespace detail

}  // namespace normlab::search

#include "normlab/search/detail/separate_roundings_end.hpp"
