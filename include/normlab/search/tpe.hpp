#pragma once
// normlab::search::TpeSampler: Optuna 3.1's TPESampler (independent sampling), reproduced
// operation by operation so that, given the same seed and the same objective values, it proposes
// the same points as Optuna. No LibTorch.
//
// Optuna's TPE runs on numpy, and numpy's elementwise exp/log/log1p are not the C library's: on a
// CPU with AVX-512 (SKX subset), numpy 1.22-1.24 computes float64 exp, log and log1p with Intel's
// SVML, which differs from glibc in the last bit for about a quarter of all inputs. detail::numpy
// below re-implements those kernels lane by lane (same constants, same operation order, same fused
// multiply-adds), plus numpy's pairwise summation and its default (introsort) argsort, so the port
// can be exact. NumpyMath selects which numpy to match.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "normlab/search/distribution.hpp"
#include "normlab/search/random.hpp"
#include "normlab/search/random_state.hpp"
#include "normlab/search/sampler.hpp"
#include "normlab/study/trial.hpp"

// Fused multiply-adds happen only where numpy's kernels use them (std::fma); see random.hpp.
#if defined(__clang__)
#pragma float_control(push)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace normlab::search {

/**
 * Which numpy the TPE arithmetic reproduces. Optuna's proposals depend, in their last bits, on the
 * machine that ran it, because numpy picks its float64 exp/log/log1p kernels at run time:
 *  - Avx512Skx: numpy 1.22-1.24 on a CPU with AVX512_SKX (Skylake-SP and later Intel, AMD Zen 4):
 *    Intel SVML's exp, log and log1p. The default, and the machine class the goldens in
 *    tests/golden/tpe_*.txt were recorded on.
 *  - Baseline: a CPU without AVX-512 (numpy then calls libm): libm's exp, log, log1p.
 * Check yours with `numpy.core._multiarray_umath.__cpu_features__['AVX512_SKX']`. (numpy's own
 * AVX-512F exp/log kernels, used on AVX-512F CPUs without SKX such as Knights Landing, are not
 * reproduced; newer numpy releases may change kernels again.)
 */
enum class NumpyMath { Avx512Skx, Baseline };

namespace detail::numpy {

inline double from_bits(uint64_t u) { return std::bit_cast<double>(u); }
inline uint64_t to_bits(double d) { return std::bit_cast<uint64_t>(d); }

// ---- Intel SVML (the "la" variants numpy 1.22-1.24 link for AVX512_SKX), one lane ---------------
// Read from numpy's own binary (_multiarray_umath: __svml_exp8, __svml_log8, __svml_log1p8) and
// from github.com/numpy/SVML; each vector instruction becomes the same scalar operation, each
// vfmadd a std::fma.

// 2^(j/16), j = 0..15 (__svml_dexp_data_internal_avx512).
inline constexpr double svml_exp_table[16] = {
    0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0,
    0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0,
    0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0,
    0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0};

/// __svml_exp8: exp(x) = 2^floor(N) 2^(j/16) e^R, N = x/ln2 rounded down to 1/16, R = x - N ln2.
/// Beyond |x| >= 707.7 SVML switches to a scalar fallback; libm's exp stands in for it there (such
/// values are 0, denormal or infinite, and never change what TPE proposes).
inline double exp_svml(double x) {
  if (!(std::fabs(x) < 0x1.61da04cbafe44p+9)) return std::isnan(x) ? x : std::exp(x);
  constexpr double inv_ln2 = 0x1.71547652b82fep+0, shifter = 0x1.8000000003ff0p+48;
  constexpr double ln2_hi = 0x1.62e42fefa39efp-1, ln2_lo = 0x1.abc9e3b39803fp-56;
  constexpr double c0 = 0x1.72eb5ef0d213dp-10, c1 = 0x1.1106603d97c00p-7, c2 = 0x1.555564bb4f5f0p-5,
                   c3 = 0x1.5555554b508a2p-3, c4 = 0x1.0000000002622p-1;
  // vfmadd213pd {rz-sae}: x/ln2 + shifter rounded toward zero (the sum is positive here, so down).
  double t = std::fma(x, inv_ln2, shifter);
  if (std::fma(x, inv_ln2, -(t - shifter)) < 0) t -= 0x1p-4;  // RN rounded up: step back one ulp
  const double n = t - shifter;
  const double table = svml_exp_table[to_bits(t) & 0xf];
  double r = std::fma(-n, ln2_hi, x);
  r = std::fma(-ln2_lo, n, r);
  const double r2 = r * r;
  double p = std::fma(c0, r, c1);
  const double q = std::fma(c2, r, c3);
  const double r3 = r2 * r;
  const double s = std::fma(r2, c4, r);
  p = std::fma(r2, p, q);
  p = std::fma(r3, p, s);
  p = std::fma(table, p, table);
  // vscalefpd: p * 2^floor(n); |n| <= 1021 here, so the power of two and the product are exact.
  const auto k = static_cast<int64_t>(std::floor(n));
  return p * from_bits(static_cast<uint64_t>(1023 + k) << 52);
}

// -log(rcp) (or -log(2 rcp) when rcp < 0.75) for rcp = (16 + j)/32, j = 0..15, and rcp = 1 at j = 0.
inline constexpr double svml_log_table[16] = {
    0x0.0p+0,                -0x1.f0a30c01162a6p-5, -0x1.e27076e2af2e6p-4, -0x1.5ff3070a793d4p-3,
    -0x1.c8ff7c79a9a22p-3,   -0x1.1675cababa60ep-2, -0x1.4618bc21c5ec2p-2, -0x1.739d7f6bbd007p-2,
    0x1.269621134db92p-2,    0x1.f991c6cb3b379p-3,  0x1.a93ed3c8ad9e3p-3,  0x1.5bf406b543db2p-3,
    0x1.1178e8227e47cp-3,    0x1.9335e5d594989p-4,  0x1.08598b59e3a07p-4,  0x1.0415d89e74444p-5};
// The mantissas m in [1, 2) at which vrndscalepd(vrcp14pd(m), 1/32) steps down by 1/32, found by
// bisection on the instruction itself (vrcp14pd is a table lookup on the leading mantissa bits);
// checked against numpy's log and log1p on millions of inputs.
inline constexpr double svml_rcp_steps[16] = {
    0x1.040fp+0, 0x1.0c97p+0, 0x1.15b4p+0, 0x1.1f7p+0,  0x1.29e6p+0, 0x1.3523p+0,
    0x1.4143p+0, 0x1.4e5fp+0, 0x1.5c99p+0, 0x1.6c15p+0, 0x1.7d07p+0, 0x1.8f9cp+0,
    0x1.a41ap+0, 0x1.badp+0,  0x1.d41cp+0, 0x1.f08p+0};

/// The common core of __svml_log8 and __svml_log1p8: log(2^e (m + low)) for m in [1, 2),
/// = e ln2 - log(rcp) + log1p(rcp (m + low) - 1), rcp ~ 1/m to 5 bits.
inline double svml_log_core(double m, double e, double low_scaled) {
  int steps = 0;
  while (steps < 16 && m >= svml_rcp_steps[steps]) ++steps;
  const double rcp = 1.0 - steps / 32.0;
  double r = std::fma(rcp, m, -1.0);
  r = std::fma(low_scaled, rcp, r);
  const double table = svml_log_table[steps == 0 ? 0 : 16 - steps];
  if (rcp < 0.75) e += 1.0;
  constexpr double c0 = 0x1.c81cd309d7c70p-4, c1 = -0x1.007357e93af62p-3, c2 = 0x1.249229cee81efp-3,
                   c3 = -0x1.55553fb28db06p-3, c4 = 0x1.9999999cc9f5cp-3, c5 = -0x1.00000000c05bdp-2,
                   c6 = 0x1.5555555555466p-2, c7 = -0x1.fffffffffffc6p-2, ln2 = 0x1.62e42fefa39efp-1;
  const double r2 = r * r;
  const double r4 = r2 * r2;
  double p = std::fma(c0, r, c1);
  const double p2 = std::fma(c2, r, c3);
  double q = std::fma(c4, r, c5);
  const double q2 = std::fma(c6, r, c7);
  p = std::fma(r2, p, p2);
  q = std::fma(r2, q, q2);
  p = std::fma(r4, p, q);
  p = std::fma(r2, p, r);
  return std::fma(ln2, e, table + p);
}

/// __svml_log8.
inline double log_svml(double x) {
  if (std::isnan(x)) return x;
  if (x < 0) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) return -std::numeric_limits<double>::infinity();
  if (std::isinf(x)) return x;
  int e = 0;
  const double m = 2.0 * std::frexp(x, &e);  // vgetmantpd / vgetexppd (denormals included)
  return svml_log_core(m, static_cast<double>(e - 1), 0.0);
}

/// __svml_log1p8: 1 + x is split into a high part and the low bits lost in rounding it.
inline double log1p_svml(double x) {
  if (std::isnan(x)) return x;
  if (x < -1.0) return std::numeric_limits<double>::quiet_NaN();
  if (x == -1.0) return -std::numeric_limits<double>::infinity();
  if (std::isinf(x)) return x;
  const double xp1 = 1.0 + x;
  const double low = std::min(1.0, x) - (xp1 - std::max(1.0, x));
  int e = 0;
  const double m = 2.0 * std::frexp(xp1, &e);
  const double res = svml_log_core(m, static_cast<double>(e - 1), std::ldexp(low, -(e - 1)));
  return from_bits(to_bits(res) | (to_bits(x) & 0x8000000000000000ULL));
}

/// numpy's elementwise exp, log and log1p for float64 as the selected CPU path computes them.
struct Math {
  NumpyMath mode = NumpyMath::Avx512Skx;
  double exp(double x) const { return mode == NumpyMath::Avx512Skx ? exp_svml(x) : std::exp(x); }
  double log(double x) const { return mode == NumpyMath::Avx512Skx ? log_svml(x) : std::log(x); }
  double log1p(double x) const { return mode == NumpyMath::Avx512Skx ? log1p_svml(x) : std::log1p(x); }
};

/// numpy.logaddexp (npy_logaddexp: libm exp and log1p on every CPU).
inline double logaddexp(double x, double y) {
  if (x == y) return x + 0.693147180559945309417232121458176568;
  const double tmp = x - y;
  if (tmp > 0) return x + std::log1p(std::exp(-tmp));
  if (tmp <= 0) return y + std::log1p(std::exp(tmp));
  return tmp;
}

/// numpy's pairwise summation (DOUBLE_pairwise_sum), unrolled by 8, blocks of 128.
inline double pairwise_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double res = 0.;
    for (std::size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  std::size_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/// ndarray.sum() of a contiguous float64 vector: the identity 0 plus the pairwise sum.
inline double sum(const std::vector<double>& a) { return 0.0 + pairwise_sum(a.data(), a.size()); }

/// numpy's ordering of doubles in sorts: NaN last.
inline bool sort_less(double a, double b) { return a < b || (b != b && a == a); }

/// numpy 1.24's default argsort for float64 (introsort: aquicksort_, insertion sort on 16 or fewer
/// elements, heapsort past the depth limit). Ties keep numpy's (unstable) order.
inline std::vector<std::size_t> argsort(const std::vector<double>& v) {
  const std::ptrdiff_t num = static_cast<std::ptrdiff_t>(v.size());
  std::vector<std::size_t> tosort(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) tosort[i] = i;
  if (num < 2) return tosort;
  auto heapsort = [&](std::size_t* first, std::ptrdiff_t n) {
    std::size_t* a = first - 1;  // 1-based heap
    std::size_t tmp;
    std::ptrdiff_t i, j, l;
    for (l = n >> 1; l > 0; --l) {
      tmp = a[l];
      for (i = l, j = l << 1; j <= n;) {
        if (j < n && sort_less(v[a[j]], v[a[j + 1]])) j += 1;
        if (sort_less(v[tmp], v[a[j]])) { a[i] = a[j]; i = j; j += j; } else break;
      }
      a[i] = tmp;
    }
    for (; n > 1;) {
      tmp = a[n];
      a[n] = a[1];
      n -= 1;
      for (i = 1, j = 2; j <= n;) {
        if (j < n && sort_less(v[a[j]], v[a[j + 1]])) j++;
        if (sort_less(v[tmp], v[a[j]])) { a[i] = a[j]; i = j; j += j; } else break;
      }
      a[i] = tmp;
    }
  };
  constexpr std::ptrdiff_t small_quicksort = 15;
  std::size_t* pl = tosort.data();
  std::size_t* pr = tosort.data() + num - 1;
  std::vector<std::size_t*> stack;
  std::vector<int> depth;
  int cdepth = 0;
  for (std::size_t u = static_cast<std::size_t>(num); u >>= 1;) ++cdepth;
  cdepth *= 2;
  for (;;) {
    if (cdepth < 0) {
      heapsort(pl, pr - pl + 1);
    } else {
      while ((pr - pl) > small_quicksort) {
        std::size_t* pm = pl + ((pr - pl) >> 1);
        if (sort_less(v[*pm], v[*pl])) std::swap(*pm, *pl);
        if (sort_less(v[*pr], v[*pm])) std::swap(*pr, *pm);
        if (sort_less(v[*pm], v[*pl])) std::swap(*pm, *pl);
        const double vp = v[*pm];
        std::size_t* pi = pl;
        std::size_t* pj = pr - 1;
        std::swap(*pm, *pj);
        for (;;) {
          do { ++pi; } while (sort_less(v[*pi], vp));
          do { --pj; } while (sort_less(vp, v[*pj]));
          if (pi >= pj) break;
          std::swap(*pi, *pj);
        }
        std::size_t* pk = pr - 1;
        std::swap(*pi, *pk);
        if (pi - pl < pr - pi) {
          stack.push_back(pi + 1);
          stack.push_back(pr);
          pr = pi - 1;
        } else {
          stack.push_back(pl);
          stack.push_back(pi - 1);
          pl = pi + 1;
        }
        depth.push_back(--cdepth);
      }
      for (std::size_t* pi = pl + 1; pi <= pr; ++pi) {
        const std::size_t vi = *pi;
        const double vp = v[vi];
        std::size_t* pj = pi;
        std::size_t* pk = pi - 1;
        while (pj > pl && sort_less(vp, v[*pk])) *pj-- = *pk--;
        *pj = vi;
      }
    }
    if (stack.empty()) break;
    pr = stack.back(); stack.pop_back();
    pl = stack.back(); stack.pop_back();
    cdepth = depth.back(); depth.pop_back();
  }
  return tosort;
}

/// numpy.linspace(start, stop, num) (endpoint=True): `arange(num) * step + start`, last = stop.
inline std::vector<double> linspace(double start, double stop, std::size_t num) {
  std::vector<double> y(num);
  if (num == 0) return y;
  const double delta = stop - start;
  if (num == 1) {
    y[0] = 0.0 * delta + start;
    return y;
  }
  const double div = static_cast<double>(num - 1);
  const double step = delta / div;
  for (std::size_t i = 0; i < num; ++i) {
    const double k = static_cast<double>(i);
    y[i] = (step == 0 ? (k / div) * delta : k * step) + start;
  }
  y[num - 1] = stop;
  return y;
}

}  // namespace detail::numpy

// ---- optuna/samplers/_tpe/_erf.py and _truncnorm.py -------------------------------------------
namespace detail::truncnorm {

inline constexpr double sqrt2 = 1.4142135623730951;  // Python's 2**0.5

/// optuna's vectorised erf (FreeBSD s_erf.c without the SET_LOW_WORD refinement), one element.
inline double optuna_erf(double x, const numpy::Math& m) {
  const double a = std::fabs(x);
  if (std::isnan(x)) return x;
  if (std::isinf(x)) return x > 0 ? 1.0 : -1.0;
  const double sign = x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);  // np.sign
  constexpr double erx = 8.45062911510467529297e-01, efx = 1.28379167095512586316e-01;
  if (a < 0x1p-28) return x + efx * x;
  if (a < 0.84375) {
    constexpr double pp0 = 1.28379167095512558561e-01, pp1 = -3.25042107247001499370e-01,
                     pp2 = -2.84817495755985104766e-02, pp3 = -5.77027029648944159157e-03,
                     pp4 = -2.37630166566501626084e-05, qq1 = 3.97917223959155352819e-01,
                     qq2 = 6.50222499887672944485e-02, qq3 = 5.08130628187576562776e-03,
                     qq4 = 1.32494738004321644526e-04, qq5 = -3.96022827877536812320e-06;
    const double z = x * x;
    const double r = pp0 + z * (pp1 + z * (pp2 + z * (pp3 + z * pp4)));
    const double s = 1.0 + z * (qq1 + z * (qq2 + z * (qq3 + z * (qq4 + z * qq5))));
    const double y = r / s;
    return x + x * y;
  }
  if (a < 1.25) {
    constexpr double pa0 = -2.36211856075265944077e-03, pa1 = 4.14856118683748331666e-01,
                     pa2 = -3.72207876035701323847e-01, pa3 = 3.18346619901161753674e-01,
                     pa4 = -1.10894694282396677476e-01, pa5 = 3.54783043256182359371e-02,
                     pa6 = -2.16637559486879084300e-03, qa1 = 1.06420880400844228286e-01,
                     qa2 = 5.40397917702171048937e-01, qa3 = 7.18286544141962662868e-02,
                     qa4 = 1.26171219808761642112e-01, qa5 = 1.36370839120290507362e-02,
                     qa6 = 1.19844998467991074170e-02;
    const double s = a - 1.0;
    const double p = pa0 + s * (pa1 + s * (pa2 + s * (pa3 + s * (pa4 + s * (pa5 + s * pa6)))));
    const double q = 1.0 + s * (qa1 + s * (qa2 + s * (qa3 + s * (qa4 + s * (qa5 + s * qa6)))));
    return (erx + p / q) * sign;
  }
  if (a < 1 / 0.35) {
    constexpr double ra0 = -9.86494403484714822705e-03, ra1 = -6.93858572707181764372e-01,
                     ra2 = -1.05586262253232909814e01, ra3 = -6.23753324503260060396e01,
                     ra4 = -1.62396669462573470355e02, ra5 = -1.84605092906711035994e02,
                     ra6 = -8.12874355063065934246e01, ra7 = -9.81432934416914548592e00,
                     sa1 = 1.96512716674392571292e01, sa2 = 1.37657754143519042600e02,
                     sa3 = 4.34565877475229228821e02, sa4 = 6.45387271733267880336e02,
                     sa5 = 4.29008140027567833386e02, sa6 = 1.08635005541779435134e02,
                     sa7 = 6.57024977031928170135e00, sa8 = -6.04244152148580987438e-02;
    const double s = 1.0 / (a * a);
    const double rr = ra0 + s * (ra1 + s * (ra2 + s * (ra3 + s * (ra4 + s * (ra5 + s * (ra6 + s * ra7))))));
    const double ss = 1.0 + s * (sa1 + s * (sa2 + s * (sa3 + s * (sa4 + s * (sa5 + s * (sa6 + s * (sa7 + s * sa8)))))));
    const double r = m.exp(-a * a - 0.5625) * m.exp(rr / ss);
    return (1.0 - r / a) * sign;
  }
  if (a < 6) {
    constexpr double rb0 = -9.86494292470009928597e-03, rb1 = -7.99283237680523006574e-01,
                     rb2 = -1.77579549177547519889e01, rb3 = -1.60636384855821916062e02,
                     rb4 = -6.37566443368389627722e02, rb5 = -1.02509513161107724954e03,
                     rb6 = -4.83519191608651397019e02, sb1 = 3.03380607434824582924e01,
                     sb2 = 3.25792512996573918826e02, sb3 = 1.53672958608443695994e03,
                     sb4 = 3.19985821950859553908e03, sb5 = 2.55305040643316442583e03,
                     sb6 = 4.74528541206955367215e02, sb7 = -2.24409524465858183362e01;
    const double s = 1.0 / (a * a);
    const double rr = rb0 + s * (rb1 + s * (rb2 + s * (rb3 + s * (rb4 + s * (rb5 + s * rb6)))));
    const double ss = 1.0 + s * (sb1 + s * (sb2 + s * (sb3 + s * (sb4 + s * (sb5 + s * (sb6 + s * sb7))))));
    const double r = m.exp(-a * a - 0.5625) * m.exp(rr / ss);
    return (1.0 - r / a) * sign;
  }
  return sign;
}

/// `_ndtr` (vectorised): 0.5 + 0.5 erf(a / sqrt 2) with optuna's erf.
inline double ndtr(double a, const numpy::Math& m) { return 0.5 + 0.5 * optuna_erf(a / sqrt2, m); }

/// `_ndtr_single` (Python floats, libm erf/erfc).
inline double ndtr_single(double a) {
  const double x = a / sqrt2;
  if (x < -1 / sqrt2) return 0.5 * std::erfc(-x);
  if (x < 1 / sqrt2) return 0.5 + 0.5 * std::erf(x);
  return 1.0 - 0.5 * std::erfc(x);
}

/// Python's `a**2` for a float: libm pow, which is not always a*a (kept from being folded).
inline double py_square(double a) {
  volatile double two = 2.0;
  return std::pow(a, two);
}

/// `_log_ndtr_single`: log Phi(a), with the asymptotic series below -20.
inline double log_ndtr_single(double a) {
  if (a > 6) return -ndtr_single(-a);
  if (a > -20) return std::log(ndtr_single(a));
  const double log_lhs = -0.5 * py_square(a) - std::log(-a) - 0.5 * std::log(2 * 3.141592653589793);
  double last_total = 0.0, right_hand_side = 1.0, numerator = 1.0, denom_factor = 1.0;
  const double denom_cons = 1 / py_square(a);
  double sign = 1;
  int i = 0;
  while (std::fabs(last_total - right_hand_side) > std::numeric_limits<double>::epsilon()) {
    i += 1;
    last_total = right_hand_side;
    sign = -sign;
    denom_factor *= denom_cons;
    numerator *= 2 * i - 1;
    right_hand_side += sign * numerator * denom_factor;
  }
  return log_lhs + std::log(right_hand_side);
}

/// `_log_gauss_mass(a, b)`: log of the standard normal mass in [a, b].
inline double log_gauss_mass(double a, double b, const numpy::Math& m) {
  auto left = [&](double lo, double hi) {  // _log_diff(_log_ndtr(hi), _log_ndtr(lo))
    const double log_p = log_ndtr_single(hi), log_q = log_ndtr_single(lo);
    return log_p + m.log1p(-m.exp(log_q - log_p));
  };
  if (b <= 0) return left(a, b);
  if (a > 0) return left(-b, -a);
  return m.log1p(-ndtr(a, m) - ndtr(-b, m));
}

/// `_bisect(_log_ndtr_single, -100, 100, y)`: the inverse of log Phi by 100 bisections.
inline double ndtri_exp(double y) {
  double a = -100, b = 100;
  if (log_ndtr_single(a) > y) std::swap(a, b);
  double mid = 0;
  for (int k = 0; k < 100; ++k) {
    mid = (a + b) / 2;
    if (log_ndtr_single(mid) < y) a = mid; else b = mid;
  }
  return mid;
}

/// `ppf(q, a, b)` of the standard normal truncated to [a, b], one element.
inline double ppf(double q, double a, double b, const numpy::Math& m) {
  double out;
  if (a < 0) {
    out = ndtri_exp(numpy::logaddexp(log_ndtr_single(a), m.log(q) + log_gauss_mass(a, b, m)));
  } else {
    out = -ndtri_exp(numpy::logaddexp(log_ndtr_single(-b), m.log1p(-q) + log_gauss_mass(a, b, m)));
  }
  if (q == 0) out = a;
  if (q == 1) out = b;
  if (a == b) out = std::numeric_limits<double>::quiet_NaN();
  return out;
}

}  // namespace detail::truncnorm

// ---- the sampler ------------------------------------------------------------------------------

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

  double sample_independent(const StudyView& study, const study::FrozenTrial& trial,
                            const std::string& name, const Distribution& distribution) override {
    if (is_single(distribution)) return single_value(distribution);

    std::vector<Score> scores;
    std::vector<double> values;
    collect_observations(study, name, scores, values);
    int n = 0;
    for (const auto& s : scores) n += s.step < std::numeric_limits<double>::infinity();
    if (n < options_.n_startup_trials())
      return random_sampler_.sample_independent(study, trial, name, distribution);

    std::vector<double> below, above;
    split(scores, values, options_.gamma()(n), below, above);

    const Parzen l = fit(below, distribution);
    const Parzen g = fit(above, distribution);
    const std::size_t n_candidates = static_cast<std::size_t>(options_.n_ei_candidates());
    const std::vector<double> candidates = l.sample(rng_, n_candidates, math_);
    // TPESampler._compare: np.argmax(log l - log g), the first maximum (or the first NaN).
    std::size_t best = 0;
    double best_score = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < n_candidates; ++i) {
      const double s = l.log_pdf(candidates[i], math_) - g.log_pdf(candidates[i], math_);
      if (std::isnan(s)) { best = i; break; }
      if (i == 0 || s > best_score) { best_score = s; best = i; }
    }
    return candidates[best];
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

  /// A univariate Parzen estimator (optuna.samplers._tpe.parzen_estimator._ParzenEstimator).
  struct Parzen {
    Distribution distribution;
    std::vector<double> weights, log_weights, mus, sigmas;
    std::vector<double> a, b, log_mass;  // (low - mu)/sigma, (high - mu)/sigma, log mass in [a, b]
    double low = 0, high = 0;
    std::optional<double> q;
    bool log = false;

    /// `sample(rng, size)`: transformed-space draws mapped back to the external representation.
    std::vector<double> sample(RandomState& rng, std::size_t size, const detail::numpy::Math& m) const {
      const std::vector<std::size_t> active = rng.choice(weights.size(), size, weights);
      const std::vector<double> quantiles = rng.uniform(0.0, 1.0, size);
      std::vector<double> out(size);
      for (std::size_t i = 0; i < size; ++i) {
        const std::size_t k = active[i];
        const double trunc_low = (low - mus[k]) / sigmas[k];
        const double trunc_high = (high - mus[k]) / sigmas[k];
        const double x = detail::truncnorm::ppf(quantiles[i], trunc_low, trunc_high, m) * sigmas[k] + mus[k];
        out[i] = from_transformed(x, m);
      }
      return out;
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

    /// `log_pdf` of one external value: log of the weighted mixture density (or mass).
    double log_pdf(double value, const detail::numpy::Math& m) const {
      const double x = log ? m.log(value) : value;
      const std::size_t n = mus.size();
      thread_local std::vector<double> weighted;
      weighted.resize(n);
      static const double norm_pdf_log_c = std::log(std::sqrt(2 * 3.141592653589793));
      for (std::size_t k = 0; k < n; ++k) {
        double lp;
        if (!q) {
          const double z = (x - mus[k]) / sigmas[k];
          lp = (-(z * z) / 2.0 - norm_pdf_log_c) - log_mass[k];
          if (z < a[k] || b[k] < z) lp = -std::numeric_limits<double>::infinity();
          if (a[k] == b[k]) lp = std::numeric_limits<double>::quiet_NaN();
        } else {
          const double upper = std::isnan(x + *q / 2.0) ? x + *q / 2.0 : std::min(x + *q / 2.0, high);
          const double lower = std::isnan(x - *q / 2.0) ? x - *q / 2.0 : std::max(x - *q / 2.0, low);
          lp = detail::truncnorm::log_gauss_mass((lower - mus[k]) / sigmas[k], (upper - mus[k]) / sigmas[k], m) -
               log_mass[k];
        }
        weighted[k] = (0.0 + lp) + log_weights[k];
      }
      double max = weighted[0];  // ndarray.max: NaN if any is NaN
      for (std::size_t k = 1; k < n && !std::isnan(max); ++k)
        if (std::isnan(weighted[k]) || weighted[k] > max) max = weighted[k];
      for (std::size_t k = 0; k < n; ++k) weighted[k] = m.exp(weighted[k] - max);
      return m.log(0.0 + detail::numpy::pairwise_sum(weighted.data(), n)) + max;
    }
  };

  static bool is_single(const Distribution& d) {
    return std::visit([](const auto& x) { return x.low == x.high; }, d);
  }
  static double single_value(const Distribution& d) {
    return std::visit([](const auto& x) { return static_cast<double>(x.low); }, d);
  }

  /// `_get_observation_pairs` for one parameter (single objective, no constraints).
  void collect_observations(const StudyView& study, const std::string& name, std::vector<Score>& scores,
                            std::vector<double>& values) const {
    const double sign = study.direction == study::StudyDirection::Minimize ? 1.0 : -1.0;
    constexpr double inf = std::numeric_limits<double>::infinity();
    scores.reserve(study.trials.size());
    values.reserve(study.trials.size());
    for (const auto& t : study.trials) {
      Score score{};
      if (t.state == study::TrialState::Complete) {
        if (!t.value) continue;
        score = {-inf, sign * *t.value};
      } else if (t.state == study::TrialState::Pruned) {
        if (!t.intermediate_values.empty()) {
          const auto& [step, value] = *t.intermediate_values.rbegin();
          score = std::isnan(value) ? Score{-static_cast<double>(step), inf}
                                    : Score{-static_cast<double>(step), sign * value};
        } else {
          score = {1.0, 0.0};
        }
      } else if (t.state == study::TrialState::Running && options_.constant_liar()) {
        score = {inf, sign * inf};
      } else {
        continue;
      }
      scores.push_back(score);
      const auto it = t.params.find(name);
      values.push_back(it == t.params.end() ? std::numeric_limits<double>::quiet_NaN() : it->second);
    }
  }

  /// `_split_observation_pairs`: stable lexicographic sort of (step, value), first n_below below.
  static void split(const std::vector<Score>& scores, const std::vector<double>& values, int n_below,
                    std::vector<double>& below, std::vector<double>& above) {
    std::vector<std::size_t> order(scores.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) {
      const Score& x = scores[i];
      const Score& y = scores[j];
      if (detail::numpy::sort_less(x.step, y.step)) return true;
      if (detail::numpy::sort_less(y.step, x.step)) return false;
      return detail::numpy::sort_less(x.value, y.value);
    });
    std::vector<char> is_below(scores.size(), 0);
    const std::size_t k = std::min(order.size(), static_cast<std::size_t>(std::max(n_below, 0)));
    for (std::size_t i = 0; i < k; ++i) is_below[order[i]] = 1;
    for (std::size_t i = 0; i < scores.size(); ++i) {
      if (std::isnan(values[i])) continue;
      (is_below[i] ? below : above).push_back(values[i]);
    }
  }

  /// `_ParzenEstimator(observations, {name: distribution}, parameters)` (univariate).
  Parzen fit(const std::vector<double>& observations, const Distribution& distribution) const {
    Parzen p;
    p.distribution = distribution;
    const std::size_t n = observations.size();
    const bool consider_prior = options_.consider_prior() || n == 0;

    // _calculate_weights
    std::vector<double> w = options_.weights()(static_cast<int>(n));
    if (w.size() > n) w.resize(n);
    if (w.size() != n)
      throw std::invalid_argument("normlab::TpeSampler: the weights function returned " + std::to_string(w.size()) +
                                  " values for " + std::to_string(n) + " observations");
    for (double v : w)
      if (v < 0) throw std::invalid_argument("normlab::TpeSampler: the weights function returned a negative value");
    if (!w.empty() && detail::numpy::sum(w) <= 0)
      throw std::invalid_argument("normlab::TpeSampler: the weights function returned all-zero values");
    for (double v : w)
      if (!std::isfinite(v)) throw std::invalid_argument("normlab::TpeSampler: the weights function returned inf or NaN");
    p.weights = w;
    if (consider_prior) p.weights.push_back(options_.prior_weight());
    const double total = detail::numpy::sum(p.weights);
    for (auto& v : p.weights) v /= total;
    p.log_weights.resize(p.weights.size());
    for (std::size_t k = 0; k < p.weights.size(); ++k) p.log_weights[k] = math_.log(p.weights[k]);

    // _calculate_parzen_bounds
    std::visit(
        [&](const auto& d) {
          using D = std::decay_t<decltype(d)>;
          p.log = d.log;
          if constexpr (std::is_same_v<D, FloatDistribution>) {
            if (d.log) {
              p.low = math_.log(d.low);
              p.high = math_.log(d.high);
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
              p.low = math_.log(static_cast<double>(d.low) - 0.5);
              p.high = math_.log(static_cast<double>(d.high) + 0.5);
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
    mus.reserve(n + 1);
    for (double v : observations) mus.push_back(p.log ? math_.log(v) : v);
    if (consider_prior) mus.push_back(0.5 * (low + high));
    const std::size_t count = mus.size();
    const std::vector<std::size_t> sorted_indices = detail::numpy::argsort(mus);
    std::vector<double> ends(count + 2);
    ends[0] = low;
    for (std::size_t i = 0; i < count; ++i) ends[i + 1] = mus[sorted_indices[i]];
    ends[count + 1] = high;
    auto np_maximum = [](double x, double y) { return (std::isnan(x) || std::isnan(y)) ? x + y : std::max(x, y); };
    std::vector<double> sorted_sigmas(count);
    for (std::size_t i = 0; i < count; ++i) sorted_sigmas[i] = np_maximum(ends[i + 1] - ends[i], ends[i + 2] - ends[i + 1]);
    if (!options_.consider_endpoints() && ends.size() >= 4) {
      sorted_sigmas[0] = ends[2] - ends[1];
      sorted_sigmas[count - 1] = ends[count] - ends[count - 1];
    }
    p.sigmas.assign(count, 0.0);
    for (std::size_t i = 0; i < count; ++i) p.sigmas[sorted_indices[i]] = sorted_sigmas[i];
    const double max_sigma = 1.0 * (high - low);
    const double min_sigma = options_.consider_magic_clip()
                                 ? 1.0 * (high - low) / std::min(100.0, 1.0 + static_cast<double>(count))
                                 : 1e-12;
    for (auto& s : p.sigmas) s = detail::np_clip(s, min_sigma, max_sigma);
    if (consider_prior) p.sigmas[n] = 1.0 * (high - low);

    p.a.resize(count);
    p.b.resize(count);
    p.log_mass.resize(count);
    for (std::size_t k = 0; k < count; ++k) {
      p.a[k] = (low - mus[k]) / p.sigmas[k];
      p.b[k] = (high - mus[k]) / p.sigmas[k];
      p.log_mass[k] = detail::truncnorm::log_gauss_mass(p.a[k], p.b[k], math_);
    }
    return p;
  }

  TpeOptions options_;
  RandomState rng_;
  RandomSampler random_sampler_;
  detail::numpy::Math math_;
};

}  // namespace normlab::search

#if defined(__clang__)
#pragma float_control(pop)
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
