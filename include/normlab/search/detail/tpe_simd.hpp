#pragma once
// The hot loops of TpeSampler, vectorised for x86-64 CPUs with AVX2 and FMA (chosen at run time,
// so that normlab itself needs no -march flag): the log-density of a Parzen mixture at many
// points, SVML's exp four lanes at a time, and numpy's pairwise sum. They compute exactly the bits
// of the scalar code in detail/numpy_math.hpp and tpe.hpp: each lane performs the same IEEE
// operations in the same order (a fused multiply-add where the scalar code calls std::fma, none
// elsewhere); only independent elements are computed side by side. Lanes the vector exp does not
// cover (|x| >= 707.7, NaN) are redone by the scalar code. No LibTorch.
//
// Define NORMLAB_TPE_NO_SIMD to compile the scalar code only; tests force it with
// detail::simd::force_generic().

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "normlab/search/detail/numpy_math.hpp"

#if !defined(NORMLAB_TPE_NO_SIMD) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NORMLAB_TPE_X86_SIMD 1
#include <immintrin.h>
#else
#define NORMLAB_TPE_X86_SIMD 0
#endif

#include "normlab/search/detail/separate_roundings_begin.hpp"  // no contracted a + b * c below

namespace normlab::search::detail::simd {

/// The instruction sets the kernels exist for (each includes the previous ones).
enum class Isa { Generic, Avx2Fma, Avx512 };

inline Isa detect_isa() {
#if NORMLAB_TPE_X86_SIMD
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return __builtin_cpu_supports("avx512f") ? Isa::Avx512 : Isa::Avx2Fma;
#endif
  return Isa::Generic;
}

/// Set to run the scalar code even where AVX2 and FMA exist (tests compare both).
inline std::atomic<bool>& force_generic() {
  static std::atomic<bool> flag{false};
  return flag;
}

/// Set to run Optuna's algorithm literally, as the reference the fast paths are tested against:
/// every candidate exact, the 100-step bisection, the scalar code (implies force_generic).
inline std::atomic<bool>& force_reference() {
  static std::atomic<bool> flag{false};
  return flag;
}

/// The kernels to use on this CPU.
inline Isa active_isa() {
  static const Isa detected = detect_isa();
  return force_generic().load(std::memory_order_relaxed) || force_reference().load(std::memory_order_relaxed)
             ? Isa::Generic
             : detected;
}

/// A univariate mixture of truncated normals (a continuous Parzen estimator), as contiguous arrays
/// of its n components: mean, sigma, the truncation bounds a = (low - mu)/sigma and
/// b = (high - mu)/sigma, the log of the normal mass in [a, b], and the log weight.
struct MixtureView {
  const double* mu;
  const double* sigma;
  const double* a;
  const double* b;
  const double* log_mass;
  const double* log_weight;
  std::size_t n;
};

/// The log-density of the mixture at the transformed point x, exactly as
/// `_ParzenEstimator.log_pdf` computes it with numpy (scalar reference):
///   w_k = (0 + lp_k) + log_weight_k,  lp_k = (-(z*z)/2 - log sqrt(2 pi)) - log_mass_k,
///   z = (x - mu_k)/sigma_k, lp_k = -inf outside [a_k, b_k] and NaN when a_k == b_k;
///   result = log(0 + sum_k exp(w_k - max w)) + max w, sum in numpy's pairwise order.
/// `w` is scratch of n doubles.
inline double log_mixture_scalar(const MixtureView& c, double norm_c, double x, double* w, const numpy::Math& m) {
  const std::size_t n = c.n;
  for (std::size_t k = 0; k < n; ++k) {
    const double z = (x - c.mu[k]) / c.sigma[k];
    double lp = (-(z * z) / 2.0 - norm_c) - c.log_mass[k];
    if (z < c.a[k] || c.b[k] < z) lp = -std::numeric_limits<double>::infinity();
    if (c.a[k] == c.b[k]) lp = std::numeric_limits<double>::quiet_NaN();
    w[k] = (0.0 + lp) + c.log_weight[k];
  }
  double max = w[0];  // ndarray.max: NaN if any is NaN
  for (std::size_t k = 1; k < n && !std::isnan(max); ++k)
    if (std::isnan(w[k]) || w[k] > max) max = w[k];
  for (std::size_t k = 0; k < n; ++k) w[k] = m.exp(w[k] - max);
  return m.log(0.0 + numpy::pairwise_sum(w, n)) + max;
}

#if NORMLAB_TPE_X86_SIMD

#define NORMLAB_TPE_AVX2 __attribute__((target("avx2,fma")))

/// __svml_exp8 (numpy::exp_svml) on four lanes, valid where |x| < 707.7 (others: garbage).
NORMLAB_TPE_AVX2 inline __m256d exp_svml_avx2(__m256d x) {
  const __m256d inv_ln2 = _mm256_set1_pd(0x1.71547652b82fep+0), shifter = _mm256_set1_pd(0x1.8000000003ff0p+48);
  const __m256d ln2_hi = _mm256_set1_pd(0x1.62e42fefa39efp-1), ln2_lo = _mm256_set1_pd(0x1.abc9e3b39803fp-56);
  const __m256d c0 = _mm256_set1_pd(0x1.72eb5ef0d213dp-10), c1 = _mm256_set1_pd(0x1.1106603d97c00p-7),
                c2 = _mm256_set1_pd(0x1.555564bb4f5f0p-5), c3 = _mm256_set1_pd(0x1.5555554b508a2p-3),
                c4 = _mm256_set1_pd(0x1.0000000002622p-1);
  __m256d t = _mm256_fmadd_pd(x, inv_ln2, shifter);
  // fma(x, inv_ln2, -(t - shifter)) < 0: t was rounded up, step back one ulp (1/16).
  const __m256d below = _mm256_cmp_pd(_mm256_fmsub_pd(x, inv_ln2, _mm256_sub_pd(t, shifter)), _mm256_setzero_pd(),
                                      _CMP_LT_OQ);
  t = _mm256_sub_pd(t, _mm256_and_pd(below, _mm256_set1_pd(0x1p-4)));
  const __m256d n = _mm256_sub_pd(t, shifter);
  const __m256i tbits = _mm256_castpd_si256(t);
  const __m256d table = _mm256_i64gather_pd(numpy::svml_exp_table, _mm256_and_si256(tbits, _mm256_set1_epi64x(0xf)), 8);
  __m256d r = _mm256_fnmadd_pd(n, ln2_hi, x);  // fma(-n, ln2_hi, x)
  r = _mm256_fnmadd_pd(ln2_lo, n, r);          // fma(-ln2_lo, n, r)
  const __m256d r2 = _mm256_mul_pd(r, r);
  __m256d p = _mm256_fmadd_pd(c0, r, c1);
  const __m256d q = _mm256_fmadd_pd(c2, r, c3);
  const __m256d r3 = _mm256_mul_pd(r2, r);
  const __m256d s = _mm256_fmadd_pd(r2, c4, r);
  p = _mm256_fmadd_pd(r2, p, q);
  p = _mm256_fmadd_pd(r3, p, s);
  p = _mm256_fmadd_pd(table, p, table);
  // 2^floor(n): t = 1.5 2^48 + (1023 + n), in units of 1/16 in its low mantissa bits, so
  // (bits(t) >> 4) ends in the biased exponent 1023 + floor(n) (1 ... 2046 here).
  const __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_srli_epi64(tbits, 4), 52));
  return _mm256_mul_pd(p, scale);
}

/// numpy::svml_log_core on four lanes (m in [1, 2), e the exponent, low_scaled the low part).
NORMLAB_TPE_AVX2 inline __m256d svml_log_core_avx2(__m256d m, __m256d e, __m256d low_scaled) {
  __m256d steps = _mm256_setzero_pd();  // how many of numpy::svml_rcp_steps lie at or below m
  const __m256d one = _mm256_set1_pd(1.0);
  for (int i = 0; i < 16; ++i)
    steps = _mm256_add_pd(steps, _mm256_and_pd(_mm256_cmp_pd(m, _mm256_set1_pd(numpy::svml_rcp_steps[i]), _CMP_GE_OQ), one));
  const __m256d rcp = _mm256_sub_pd(one, _mm256_mul_pd(steps, _mm256_set1_pd(1.0 / 32.0)));  // steps / 32, exact
  __m256d r = _mm256_fmsub_pd(rcp, m, one);  // fma(rcp, m, -1)
  r = _mm256_fmadd_pd(low_scaled, rcp, r);
  // svml_log_table[steps == 0 ? 0 : 16 - steps] == svml_log_table[(16 - steps) & 15]
  const __m128i index = _mm_and_si128(_mm_sub_epi32(_mm_set1_epi32(16), _mm256_cvtpd_epi32(steps)), _mm_set1_epi32(15));
  const __m256d table = _mm256_i32gather_pd(numpy::svml_log_table, index, 8);
  e = _mm256_add_pd(e, _mm256_and_pd(_mm256_cmp_pd(rcp, _mm256_set1_pd(0.75), _CMP_LT_OQ), one));
  const __m256d c0 = _mm256_set1_pd(0x1.c81cd309d7c70p-4), c1 = _mm256_set1_pd(-0x1.007357e93af62p-3),
                c2 = _mm256_set1_pd(0x1.249229cee81efp-3), c3 = _mm256_set1_pd(-0x1.55553fb28db06p-3),
                c4 = _mm256_set1_pd(0x1.9999999cc9f5cp-3), c5 = _mm256_set1_pd(-0x1.00000000c05bdp-2),
                c6 = _mm256_set1_pd(0x1.5555555555466p-2), c7 = _mm256_set1_pd(-0x1.fffffffffffc6p-2),
                ln2 = _mm256_set1_pd(0x1.62e42fefa39efp-1);
  const __m256d r2 = _mm256_mul_pd(r, r);
  const __m256d r4 = _mm256_mul_pd(r2, r2);
  __m256d p = _mm256_fmadd_pd(c0, r, c1);
  const __m256d p2 = _mm256_fmadd_pd(c2, r, c3);
  __m256d q = _mm256_fmadd_pd(c4, r, c5);
  const __m256d q2 = _mm256_fmadd_pd(c6, r, c7);
  p = _mm256_fmadd_pd(r2, p, p2);
  q = _mm256_fmadd_pd(r2, q, q2);
  p = _mm256_fmadd_pd(r4, p, q);
  p = _mm256_fmadd_pd(r2, p, r);
  return _mm256_fmadd_pd(ln2, e, _mm256_add_pd(table, p));
}

/// x = m 2^e, m in [1, 2), for lanes holding normal positive doubles (numpy::split_mantissa).
NORMLAB_TPE_AVX2 inline void split_mantissa_avx2(__m256d x, __m256d& m, __m256d& e) {
  const __m256i bits = _mm256_castpd_si256(x);
  m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000fffffffffffffLL)),
                                          _mm256_set1_epi64x(0x3ff0000000000000LL)));
  // The biased exponent (< 2^11) as a double: OR it into the mantissa of 2^52, subtract 2^52.
  const __m256i biased = _mm256_srli_epi64(bits, 52);
  const __m256d big = _mm256_set1_pd(0x1p52);
  e = _mm256_sub_pd(_mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(biased, _mm256_castpd_si256(big))), big),
                    _mm256_set1_pd(1023.0));
}

/// out[k] = numpy::log_svml(in[k]) (in and out may be the same array).
NORMLAB_TPE_AVX2 __attribute__((flatten)) inline void log_svml_array_avx2(const double* in, double* out, std::size_t n) {
  const __m256d smallest = _mm256_set1_pd(0x1p-1022), largest = _mm256_set1_pd(std::numeric_limits<double>::max());
  std::size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    const __m256d x = _mm256_loadu_pd(in + k);
    // Normal positive finite lanes; the rest (0, negatives, NaN, inf, subnormals) go scalar.
    const __m256d ok = _mm256_and_pd(_mm256_cmp_pd(x, smallest, _CMP_GE_OQ), _mm256_cmp_pd(x, largest, _CMP_LE_OQ));
    __m256d m, e;
    split_mantissa_avx2(x, m, e);
    const __m256d res = svml_log_core_avx2(m, e, _mm256_setzero_pd());
    const int okbits = _mm256_movemask_pd(ok);
    _mm256_storeu_pd(out + k, res);
    if (okbits != 0xf)
      for (int j = 0; j < 4; ++j)
        if (!(okbits >> j & 1)) out[k + j] = numpy::log_svml(in[k + j]);
  }
  for (; k < n; ++k) out[k] = numpy::log_svml(in[k]);
}

/// out[k] = numpy::log1p_svml(in[k]) (in and out may be the same array).
NORMLAB_TPE_AVX2 __attribute__((flatten)) inline void log1p_svml_array_avx2(const double* in, double* out,
                                                                            std::size_t n) {
  const __m256d one = _mm256_set1_pd(1.0), minus_one = _mm256_set1_pd(-1.0);
  const __m256d largest = _mm256_set1_pd(0x1p999);
  const __m256d sign = _mm256_set1_pd(-0.0);
  std::size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    const __m256d x = _mm256_loadu_pd(in + k);
    // -1 < x <= 2^999 (1 + x is then a normal number >= 2^-53); the rest go scalar.
    const __m256d ok = _mm256_and_pd(_mm256_cmp_pd(x, minus_one, _CMP_GT_OQ), _mm256_cmp_pd(x, largest, _CMP_LE_OQ));
    const __m256d xp1 = _mm256_add_pd(one, x);
    // min(1, x) - (xp1 - max(1, x)); std::min/max(1, x) return 1 unless x < 1 / 1 < x.
    const __m256d mn = _mm256_blendv_pd(one, x, _mm256_cmp_pd(x, one, _CMP_LT_OQ));
    const __m256d mx = _mm256_blendv_pd(one, x, _mm256_cmp_pd(one, x, _CMP_LT_OQ));
    const __m256d low = _mm256_sub_pd(mn, _mm256_sub_pd(xp1, mx));
    __m256d m, e;
    split_mantissa_avx2(xp1, m, e);
    // ldexp(low, -e) == low * 2^-e (one correctly rounded product either way); e in [-53, 999] here.
    const __m256d magic = _mm256_set1_pd(0x1.8p52);
    const __m256i e_int = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(e, magic)), _mm256_castpd_si256(magic));
    const __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_sub_epi64(_mm256_set1_epi64x(1023), e_int), 52));
    const __m256d low_scaled = _mm256_mul_pd(low, scale);
    const __m256d res = svml_log_core_avx2(m, e, low_scaled);
    const __m256d signed_res = _mm256_or_pd(res, _mm256_and_pd(x, sign));
    const int okbits = _mm256_movemask_pd(ok);
    _mm256_storeu_pd(out + k, signed_res);
    if (okbits != 0xf)
      for (int j = 0; j < 4; ++j)
        if (!(okbits >> j & 1)) out[k + j] = numpy::log1p_svml(in[k + j]);
  }
  for (; k < n; ++k) out[k] = numpy::log1p_svml(in[k]);
}

/// out[k] = exp_svml(in[k] - shift), k < n (in and out may be the same array).
NORMLAB_TPE_AVX2 __attribute__((flatten)) inline void exp_shifted_avx2(const double* in, double shift, double* out,
                                                                       std::size_t n) {
  const __m256d vshift = _mm256_set1_pd(shift);
  const __m256d limit = _mm256_set1_pd(0x1.61da04cbafe44p+9);
  const __m256d abs_mask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL));
  std::size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    const __m256d x = _mm256_sub_pd(_mm256_loadu_pd(in + k), vshift);
    const __m256d ok = _mm256_cmp_pd(_mm256_and_pd(x, abs_mask), limit, _CMP_LT_OQ);
    _mm256_storeu_pd(out + k, exp_svml_avx2(x));
    const int okbits = _mm256_movemask_pd(ok);
    if (okbits != 0xf) {
      alignas(32) double xs[4];
      _mm256_store_pd(xs, x);
      for (int j = 0; j < 4; ++j)
        if (!(okbits >> j & 1)) out[k + j] = numpy::exp_svml(xs[j]);
    }
  }
  for (; k < n; ++k) out[k] = numpy::exp_svml(in[k] - shift);
}

/// numpy::pairwise_sum with the eight partial sums in two vectors (same additions, same order).
NORMLAB_TPE_AVX2 inline double pairwise_sum_avx2(const double* a, std::size_t n) {
  if (n < 8) {
    double res = 0.;
    for (std::size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    __m256d lo = _mm256_loadu_pd(a), hi = _mm256_loadu_pd(a + 4);
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      lo = _mm256_add_pd(lo, _mm256_loadu_pd(a + i));
      hi = _mm256_add_pd(hi, _mm256_loadu_pd(a + i + 4));
    }
    alignas(32) double r[8];
    _mm256_store_pd(r, lo);
    _mm256_store_pd(r + 4, hi);
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum_avx2(a, n2) + pairwise_sum_avx2(a + n2, n - n2);
}

/// log_mixture_scalar at each of the m points xs[i] into out[i]; `w` is scratch of c.n doubles.
/// Components with a_k == b_k must have been excluded by the caller (it uses the scalar code).
NORMLAB_TPE_AVX2 __attribute__((flatten)) inline void log_mixture_avx2(const MixtureView& c, double norm_c,
                                                                       const double* xs, std::size_t m, double* out,
                                                                       double* w, const numpy::Math& math) {
  const std::size_t n = c.n;
  const __m256d vnorm = _mm256_set1_pd(norm_c), half = _mm256_set1_pd(0.5), zero = _mm256_setzero_pd();
  const __m256d sign = _mm256_set1_pd(-0.0), ninf = _mm256_set1_pd(-std::numeric_limits<double>::infinity());
  for (std::size_t i = 0; i < m; ++i) {
    const double x = xs[i];
    const __m256d vx = _mm256_set1_pd(x);
    __m256d vmax = ninf, vnan = zero;
    std::size_t k = 0;
    for (; k + 4 <= n; k += 4) {
      const __m256d z = _mm256_div_pd(_mm256_sub_pd(vx, _mm256_loadu_pd(c.mu + k)), _mm256_loadu_pd(c.sigma + k));
      // -(z*z)/2 == -(z*z) * 0.5 exactly (both are the correctly rounded half).
      __m256d lp = _mm256_mul_pd(_mm256_xor_pd(_mm256_mul_pd(z, z), sign), half);
      lp = _mm256_sub_pd(_mm256_sub_pd(lp, vnorm), _mm256_loadu_pd(c.log_mass + k));
      const __m256d out_of_range = _mm256_or_pd(_mm256_cmp_pd(z, _mm256_loadu_pd(c.a + k), _CMP_LT_OQ),
                                                _mm256_cmp_pd(_mm256_loadu_pd(c.b + k), z, _CMP_LT_OQ));
      lp = _mm256_blendv_pd(lp, ninf, out_of_range);
      const __m256d wk = _mm256_add_pd(_mm256_add_pd(zero, lp), _mm256_loadu_pd(c.log_weight + k));
      _mm256_storeu_pd(w + k, wk);
      vmax = _mm256_max_pd(vmax, wk);
      vnan = _mm256_or_pd(vnan, _mm256_cmp_pd(wk, wk, _CMP_UNORD_Q));
    }
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, vmax);
    double max = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
    bool any_nan = _mm256_movemask_pd(vnan) != 0;
    for (; k < n; ++k) {
      const double z = (x - c.mu[k]) / c.sigma[k];
      double lp = (-(z * z) / 2.0 - norm_c) - c.log_mass[k];
      if (z < c.a[k] || c.b[k] < z) lp = -std::numeric_limits<double>::infinity();
      w[k] = (0.0 + lp) + c.log_weight[k];
      if (std::isnan(w[k])) any_nan = true;
      else if (w[k] > max) max = w[k];
    }
    if (any_nan) {
      max = std::numeric_limits<double>::quiet_NaN();
    } else if (max == 0.0 || n < 4) {  // the sign of a zero maximum, or no vector lanes: as numpy
      max = w[0];
      for (std::size_t j = 1; j < n; ++j)
        if (w[j] > max) max = w[j];
    }
    if (math.mode == NumpyMath::Avx512Skx) {
      exp_shifted_avx2(w, max, w, n);
    } else {
      for (std::size_t j = 0; j < n; ++j) w[j] = math.exp(w[j] - max);
    }
    out[i] = math.log(0.0 + pairwise_sum_avx2(w, n)) + max;
  }
}

/// A mixture prepared for log_mixture_bound_avx2: components sorted by mean, 1/sigma, and
/// c_k = (log_weight_k - log_mass_k - log sqrt(2 pi)) - shift with shift = max of those, so that
/// log pdf(x) = shift + log sum_k exp(c_k - z_k^2 / 2), z_k = (x - mu_k) / sigma_k (inside [low, high]).
/// The arrays may be padded with components whose c is -1e300 (never counted).
struct BoundMixture {
  const double* mu;
  const double* inv_sigma;
  const double* c;
  double shift;
  std::size_t n;           ///< array length
  std::size_t components;  ///< real components (for the bound on dropped terms)
};

/// e^x for x in [-708, 0] (others: garbage), within 5 ulps: x = n ln2 + r, |r| <= ln2/2, and the
/// degree-13 Taylor polynomial of e^r (remainder < 0.1 ulp; Horner's rounding < 4 ulps).
NORMLAB_TPE_AVX2 inline __m256d exp_bounded_avx2(__m256d x) {
  const __m256d n = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(0x1.71547652b82fep+0)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(0x1.62e42fefa39efp-1), x);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(0x1.abc9e3b39803fp-56), r);
  __m256d p = _mm256_set1_pd(1.0 / 6227020800.0);  // 1/13!
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 479001600.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 39916800.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 3628800.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 362880.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 40320.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 5040.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 720.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 120.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 24.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0 / 6.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(0.5));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
  p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(1.0));
  // 2^n, n in [-1022, 0]: the integer n sits in the low bits of n + 1.5 2^52.
  const __m256d magic = _mm256_set1_pd(0x1.8p52);
  const __m256i n_int = _mm256_sub_epi64(_mm256_castpd_si256(_mm256_add_pd(n, magic)), _mm256_castpd_si256(magic));
  const __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(n_int, _mm256_set1_epi64x(1023)), 52));
  return _mm256_mul_pd(p, scale);
}

/// log pdf of the mixture at each xs[i] into out[i], NOT bit for bit like log_mixture_avx2 but
/// within a bound (TpeSampler::propose_from_approximations): every point must lie in [low, high]
/// (no truncation). Terms with exponent c_k - z_k^2/2 below -40 are dropped, whole blocks of four
/// at a time when their means (sorted) are all far; dropped[i] receives a bound on what that
/// changes in out[i] (n e^-39 / sum). NaN comes out when the sum is below 1e-200 (then the caller
/// computes exactly). Per component: one subtraction, one product, one fused multiply-add, and
/// for the live ones a table-free exp.
NORMLAB_TPE_AVX2 inline void log_mixture_bound_avx2(const BoundMixture& c, const double* xs, std::size_t m,
                                                    double* out, double* dropped) {
  constexpr double cutoff = -40.0;
  const std::size_t n = c.n;
  const __m256d floor = _mm256_set1_pd(cutoff), minus_half = _mm256_set1_pd(-0.5);
  for (std::size_t i = 0; i < m; ++i) {
    const __m256d vx = _mm256_set1_pd(xs[i]);
    __m256d acc = _mm256_setzero_pd();
    std::size_t k = 0;
    for (; k + 4 <= n; k += 4) {
      const __m256d z = _mm256_mul_pd(_mm256_sub_pd(vx, _mm256_loadu_pd(c.mu + k)), _mm256_loadu_pd(c.inv_sigma + k));
      const __m256d arg = _mm256_fmadd_pd(_mm256_mul_pd(minus_half, z), z, _mm256_loadu_pd(c.c + k));
      const __m256d live = _mm256_cmp_pd(arg, floor, _CMP_GE_OQ);
      if (_mm256_movemask_pd(live) == 0) continue;
      acc = _mm256_add_pd(acc, _mm256_and_pd(live, exp_bounded_avx2(_mm256_max_pd(arg, floor))));
    }
    alignas(32) double lanes[4];
    _mm256_store_pd(lanes, acc);
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; k < n; ++k) {
      const double z = (xs[i] - c.mu[k]) * c.inv_sigma[k];
      const double arg = std::fma(-0.5 * z, z, c.c[k]);
      if (arg >= cutoff) sum += std::exp(arg);
    }
    // Dropped terms are each below e^(cutoff + 1) (their exponents' rounding errors are far below 1).
    out[i] = sum >= 1e-200 ? c.shift + std::log(sum) : std::numeric_limits<double>::quiet_NaN();
    dropped[i] = static_cast<double>(c.components) * 0x1p-56 / sum;  // e^-39 < 2^-56
  }
}

/// log_mixture_bound_avx2 on eight lanes (AVX-512F); the exp scales with vscalefpd. Same bound.
__attribute__((target("avx2,fma,avx512f"), noinline)) inline void log_mixture_bound_avx512(
    const BoundMixture& c, const double* xs, std::size_t m, double* out, double* dropped) {
  constexpr double cutoff = -40.0;
  const std::size_t n = c.n;
  const __m512d floor = _mm512_set1_pd(cutoff), minus_half = _mm512_set1_pd(-0.5);
  for (std::size_t i = 0; i < m; ++i) {
    const __m512d vx = _mm512_set1_pd(xs[i]);
    __m512d acc = _mm512_setzero_pd();
    std::size_t k = 0;
    for (; k + 8 <= n; k += 8) {
      const __m512d z = _mm512_mul_pd(_mm512_sub_pd(vx, _mm512_loadu_pd(c.mu + k)), _mm512_loadu_pd(c.inv_sigma + k));
      const __m512d arg = _mm512_fmadd_pd(_mm512_mul_pd(minus_half, z), z, _mm512_loadu_pd(c.c + k));
      const __mmask8 live = _mm512_cmp_pd_mask(arg, floor, _CMP_GE_OQ);
      if (!live) continue;
      // e^arg as in exp_bounded_avx2: arg = n ln2 + r, degree-13 Taylor polynomial of e^r.
      const __m512d x = _mm512_max_pd(arg, floor);
      const __m512d nn = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(0x1.71547652b82fep+0)),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      __m512d r = _mm512_fnmadd_pd(nn, _mm512_set1_pd(0x1.62e42fefa39efp-1), x);
      r = _mm512_fnmadd_pd(nn, _mm512_set1_pd(0x1.abc9e3b39803fp-56), r);
      __m512d p = _mm512_set1_pd(1.0 / 6227020800.0);
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 479001600.0));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 39916800.0));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 3628800.0));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 362880.0));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 40320.0));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 5040.0));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 720.0));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 120.0));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 24.0));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0 / 6.0));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(0.5));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
      p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(1.0));
      acc = _mm512_mask_add_pd(acc, live, acc, _mm512_scalef_pd(p, nn));
    }
    double sum = _mm512_reduce_add_pd(acc);
    for (; k < n; ++k) {
      const double z = (xs[i] - c.mu[k]) * c.inv_sigma[k];
      const double arg = std::fma(-0.5 * z, z, c.c[k]);
      if (arg >= cutoff) sum += std::exp(arg);
    }
    out[i] = sum >= 1e-200 ? c.shift + std::log(sum) : std::numeric_limits<double>::quiet_NaN();
    dropped[i] = static_cast<double>(c.components) * 0x1p-56 / sum;
  }
}

#undef NORMLAB_TPE_AVX2

#endif  // NORMLAB_TPE_X86_SIMD

}  // namespace normlab::search::detail::simd

#include "normlab/search/detail/separate_roundings_end.hpp"
