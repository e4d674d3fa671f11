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
// Speed without losing a bit (docs/search.md, "Speed"): a proposal costs about 1/120 of Optuna's
// trial. The work that decides the result is done exactly; the rest is done with guaranteed error
// bounds, and exactly again whenever a bound could matter:
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

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
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
#include "normlab/search/detail/tpe_simd.hpp"
#include "normlab/search/random_state.hpp"
#include "normlab/search/sampler.hpp"
#include "normlab/search/trial.hpp"


#include "normlab/search/detail/separate_roundings_begin.hpp"  // no contracted a + b * c below

namespace normlab::search {


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

/// `_bisect(_log_ndtr_single, -100, 100, y)`: the inverse of log Phi by 100 bisections, as Optuna
/// runs it (the reference that ndtri_exp() below reproduces in fewer evaluations).
inline double ndtri_exp_bisect(double y) {
  double a = -100, b = 100;
  if (log_ndtr_single(a) > y) std::swap(a, b);
  double mid = 0;
  for (int k = 0; k < 100; ++k) {
    mid = (a + b) / 2;
    if (log_ndtr_single(mid) < y) a = mid; else b = mid;
  }
  return mid;
}

/// A rough inverse of log Phi (P. J. Acklam's rational approximation of the normal quantile,
/// relative error about 1e-9), for y = log p < 0. Only a starting point: nothing depends on its
/// last bits.
inline double approx_ndtri_exp(double y) {
  constexpr double a1 = -3.969683028665376e+01, a2 = 2.209460984245205e+02, a3 = -2.759285104469687e+02,
                   a4 = 1.383577518672690e+02, a5 = -3.066479806614716e+01, a6 = 2.506628277459239e+00;
  constexpr double b1 = -5.447609879822406e+01, b2 = 1.615858368580409e+02, b3 = -1.556989798598866e+02,
                   b4 = 6.680131188771972e+01, b5 = -1.328068155288572e+01;
  constexpr double c1 = -7.784894002430293e-03, c2 = -3.223964580411365e-01, c3 = -2.400758277161838e+00,
                   c4 = -2.549732539343734e+00, c5 = 4.374664141464968e+00, c6 = 2.938163982698783e+00;
  constexpr double d1 = 7.784695709041462e-03, d2 = 3.224671290700398e-01, d3 = 2.445134137142996e+00,
                   d4 = 3.754408661907416e+00;
  constexpr double p_low = 0.02425;
  auto tail = [&](double log_tail) {  // log_tail = log of the tail probability
    const double q = std::sqrt(-2 * log_tail);
    return (((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) / ((((d1 * q + d2) * q + d3) * q + d4) * q + 1);
  };
  if (y < std::log(p_low)) return tail(y);
  if (y > std::log1p(-p_low)) return -tail(std::log(-std::expm1(y)));  // 1 - p without cancellation
  const double q = std::exp(y) - 0.5, r = q * q;
  return (((((a1 * r + a2) * r + a3) * r + a4) * r + a5) * r + a6) * q /
         (((((b1 * r + b2) * r + b3) * r + b4) * r + b5) * r + 1);
}

/// The first k steps of the bisection of [a, b] = [-100, 100] whose comparisons are settled by
/// lo < hi alone (mid <= lo: below; mid >= hi: not below): sets a and b as the bisection has them
/// then and returns k. At depth k <= 40 every point -100 + j 200 / 2^k is a double and every
/// (a + b) / 2 is exact, so the bisection walks the grid of 2^40 cells; with lo and hi rounded out
/// to grid points A <= lo and B >= hi, it keeps halving while the next mid is <= A or >= B, i.e.
/// along the common leading bits of A and B - 1 (in cells), and stops above the first bit where
/// they differ.
inline int bisect_to_window(double lo, double hi, double& a, double& b) {
  constexpr int depth = 40;
  constexpr double cell = 200.0 / 0x1p40;  // exact
  auto grid = [&](int64_t j) { return -100.0 + static_cast<double>(j) * cell; };  // exact
  constexpr int64_t cells = int64_t{1} << depth;
  if (!(lo > -100.0 && hi < 100.0 && lo < hi)) return 0;
  int64_t A = static_cast<int64_t>(std::floor((lo + 100.0) / cell));
  while (A > 0 && grid(A) > lo) --A;
  int64_t B = static_cast<int64_t>(std::ceil((hi + 100.0) / cell));
  while (B < cells && grid(B) < hi) ++B;
  A = std::clamp<int64_t>(A, 0, cells);
  B = std::clamp<int64_t>(B, 0, cells);
  if (B - A < 1) return 0;
  // Depth k: cell range [i 2^(40-k), (i + 1) 2^(40-k)); mid index i 2^(40-k) + 2^(39-k). The walk
  // goes right while mid <= A (A's bit set), left while mid >= B (B - 1's bit clear), and stops at
  // the first bit where A and B - 1 differ (A's clear, B - 1's set).
  const uint64_t diff = static_cast<uint64_t>(A) ^ static_cast<uint64_t>(B - 1);
  const int k = diff == 0 ? depth : depth - 1 - (63 - std::countl_zero(diff));
  const int64_t width = int64_t{1} << (depth - k);
  const int64_t lo_index = A & ~(width - 1);
  a = grid(lo_index);
  b = grid(lo_index + width);
  return k;
}

/// The bisection loop of ndtri_exp_bisect from step k with a and b as they are then, given that
/// f(mid) < y for every mid <= lo_safe and f(mid) >= y for every mid >= hi_safe (f is
/// log_ndtr_single); f is evaluated only between them. Stops once mid equals a or b: every later
/// step would compute that same mid again (a = mid changes nothing; b = mid = a makes a == b).
inline double bisect_from(double y, int k, double a, double b, double lo_safe, double hi_safe) {
  double mid = 0;
  for (; k < 100; ++k) {
    mid = (a + b) * 0.5;  // == (a + b) / 2, exactly
    if (mid == a || mid == b) break;
    bool below;
    if (mid <= lo_safe) below = true;
    else if (mid >= hi_safe) below = false;
    else below = log_ndtr_single(mid) < y;
    a = below ? mid : a;
    b = below ? b : mid;
  }
  return mid;
}

/// A window [lo, hi] around the root of log_ndtr_single(x) = y with f(mid) < y for every
/// mid <= lo and f(mid) >= y for every mid >= hi (f = log_ndtr_single), so that the bisection of
/// ndtri_exp_bisect ends in [lo - 1 ulp, hi + 1 ulp]. ok = false when none was established.
///
/// A Newton step from approx_ndtri_exp gives the root x1; lo = x1 - h and hi = x1 + h are accepted
/// when f(lo) < y - delta and f(hi) > y + delta, where delta = 2^-46 (1 + |y|) is far above twice
/// the error of f against the increasing function log Phi (a few ulps of 1 + |y|: libm's
/// erf/erfc/log and the rounding of a/sqrt(2)): then f(mid) <= log Phi(mid) + err <=
/// log Phi(lo) + err <= f(lo) + 2 err < y for mid <= lo, and likewise above hi.
struct NdtriWindow {
  double x1 = 0, lo = 0, hi = 0;
  bool ok = false;
};
inline NdtriWindow ndtri_exp_window(double y) {
  NdtriWindow w;
  if (!(y < 0 && y > -700)) return w;  // log_ndtr_single(-100) < y too
  const double x0 = approx_ndtri_exp(y);
  if (!std::isfinite(x0)) return w;
  const double f0 = log_ndtr_single(x0);
  const double slope = std::exp(-0.5 * x0 * x0 - 0.91893853320467274178 - f0);  // (log Phi)' = phi / Phi
  if (!(slope > 0 && std::isfinite(slope))) return w;
  w.x1 = x0 - (f0 - y) / slope;
  const double delta = 0x1p-46 * (1 + std::fabs(y));
  const double h = 2 * delta / slope + 8 * (std::fabs(w.x1) * 0x1p-52 + 0x1p-1074);
  w.lo = w.x1 - h;
  w.hi = w.x1 + h;
  const double f_lo = log_ndtr_single(w.lo), f_hi = log_ndtr_single(w.hi);  // independent: overlapped
  w.ok = f_lo < y - delta && f_hi > y + delta && w.lo > -100 && w.hi < 100;
  return w;
}

/// ndtri_exp_bisect(y), bit for bit, with about 15 of its 100 log_ndtr_single evaluations, and
/// those independent of each other (so the CPU overlaps them). The bisection's result is fixed by the
/// outcomes of `f(mid) < y` (f = log_ndtr_single) along its path; with the window of
/// ndtri_exp_window, mids <= lo and >= hi need no evaluation:
///  - the steps before the first mid in (lo, hi) need no arithmetic (bisect_to_window);
///  - the rest of the path (about 20 steps) is predicted with "mid < x1", f is evaluated at each
///    predicted mid in (lo, hi) (about ten, at once), and each prediction is checked against those
///    values; from the first wrong one on, the loop goes on one evaluated step at a time;
///  - the loop stops once mid equals a or b (a fixed point of the recursion).
/// Without a window (y out of the usual range, or a check failed), the reference loop runs,
/// stopped at its fixed point.
inline double ndtri_exp(double y) {
  if (simd::force_reference().load(std::memory_order_relaxed)) return ndtri_exp_bisect(y);
  constexpr double inf = std::numeric_limits<double>::infinity();
  static const double f_low = log_ndtr_single(-100.0);
  if (f_low > y) return bisect_from(y, 0, 100, -100, -inf, inf);
  const NdtriWindow w = ndtri_exp_window(y);
  if (!w.ok) return bisect_from(y, 0, -100, 100, -inf, inf);
  const double lo = w.lo, hi = w.hi, x1 = w.x1;
  double a = -100, b = 100;
  // The predicted path from the first step with a mid in (lo, hi): "mid < x1" (which is also
  // right for every mid <= lo or >= hi). Branch-free, as the outcomes are coin flips.
  const int k0 = bisect_to_window(lo, hi, a, b);
  double mids[100];
  int steps = 0;
  double pa = a, pb = b;
  for (int k = k0; k < 100; ++k) {
    const double mid = (pa + pb) * 0.5;
    if (mid == pa || mid == pb) break;
    mids[steps++] = mid;
    const bool below = mid < x1;
    pa = below ? mid : pa;
    pb = below ? pb : mid;
  }
  // f at every predicted mid inside: independent evaluations.
  double values[100];
  for (int i = 0; i < steps; ++i) values[i] = mids[i] > lo && mids[i] < hi ? log_ndtr_single(mids[i]) : 0.0;
  // Check each predicted outcome against the true one.
  int wrong = steps;
  for (int i = 0; i < steps; ++i) {
    const bool inside = mids[i] > lo && mids[i] < hi;
    const bool below = (inside & (values[i] < y)) | (!inside & (mids[i] <= lo));
    if (below != (mids[i] < x1)) {
      wrong = i;
      break;
    }
  }
  if (wrong == steps) return k0 + steps == 100 ? mids[steps - 1] : bisect_from(y, k0 + steps, pa, pb, lo, hi);
  // Off the prediction at step `wrong`: redo the path up to it, then go on step by step.
  for (int i = 0; i < wrong; ++i) {
    const bool below = mids[i] < x1;
    a = below ? mids[i] : a;
    b = below ? b : mids[i];
  }
  const bool below = !(mids[wrong] < x1);
  a = below ? mids[wrong] : a;
  b = below ? b : mids[wrong];
  return k0 + wrong + 1 == 100 ? mids[wrong] : bisect_from(y, k0 + wrong + 1, a, b, lo, hi);
}

/// `ppf(q, a, b)` of the standard normal truncated to [a, b], one element; `log_mass` is
/// log_gauss_mass(a, b).
inline double ppf(double q, double a, double b, double log_mass, const numpy::Math& m) {
  double out;
  if (a < 0) {
    out = ndtri_exp(numpy::logaddexp(log_ndtr_single(a), m.log(q) + log_mass));
  } else {
    out = -ndtri_exp(numpy::logaddexp(log_ndtr_single(-b), m.log1p(-q) + log_mass));
  }
  if (q == 0) out = a;
  if (q == 1) out = b;
  if (a == b) out = std::numeric_limits<double>::quiet_NaN();
  return out;
}

/// ppf(q, a, b, log_mass) to within `radius`: |value - ppf(...)| <= radius, guaranteed (see
/// ndtri_exp_window: the exact result lies in its window, give or take an ulp). radius is 0 when
/// value is exact (the special cases, or no window, where the exact ppf is computed).
struct ApproxValue {
  double value, radius;
};
inline ApproxValue ppf_approx(double q, double a, double b, double log_mass, const numpy::Math& m) {
  if (q == 0 || q == 1 || a == b) return {ppf(q, a, b, log_mass, m), 0.0};
  const bool lower = a < 0;
  const double y = lower ? numpy::logaddexp(log_ndtr_single(a), m.log(q) + log_mass)
                         : numpy::logaddexp(log_ndtr_single(-b), m.log1p(-q) + log_mass);
  static const double f_low = log_ndtr_single(-100.0);
  const NdtriWindow w = f_low > y ? NdtriWindow{} : ndtri_exp_window(y);
  if (!w.ok) return {ppf(q, a, b, log_mass, m), 0.0};
  const double radius =
      std::max(w.hi - w.x1, w.x1 - w.lo) + 2 * std::max(std::fabs(w.lo), std::fabs(w.hi)) * 0x1p-52 + 0x1p-1073;
  return {lower ? w.x1 : -w.x1, radius};
}

/// ppf_approx for n candidates at once, phase by phase, so that the evaluations of different
/// candidates are independent of each other and overlap (one candidate alone is a chain of about
/// ten dependent libm calls). Same results as ppf_approx, given for each candidate
/// log_ndtr[i] = log_ndtr_single(a < 0 ? a : -b) and log_q[i] = a < 0 ? log(q) : log1p(-q) (the
/// caller shares and vectorises those). `scratch` holds 4 n doubles.
inline void ppf_approx_batch(std::size_t n, const double* q, const double* a, const double* b, const double* log_mass,
                             const double* log_ndtr, const double* log_q, double* value, double* radius,
                             double* scratch, const numpy::Math& m) {
  static const double f_low = log_ndtr_single(-100.0);
  double* y = scratch;
  double* x0 = scratch + n;
  double* f0 = scratch + 2 * n;
  double* aux = scratch + 3 * n;
  auto special = [&](std::size_t i) { return q[i] == 0 || q[i] == 1 || a[i] == b[i]; };
  for (std::size_t i = 0; i < n; ++i) y[i] = special(i) ? 0.0 : numpy::logaddexp(log_ndtr[i], log_q[i] + log_mass[i]);
  // ndtri_exp_window, phase by phase.
  for (std::size_t i = 0; i < n; ++i) {
    const bool usable = !special(i) && y[i] < 0 && y[i] > -700 && !(f_low > y[i]);
    x0[i] = usable ? approx_ndtri_exp(y[i]) : std::numeric_limits<double>::quiet_NaN();
  }
  for (std::size_t i = 0; i < n; ++i) f0[i] = std::isfinite(x0[i]) ? log_ndtr_single(x0[i]) : 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    radius[i] = -1;  // no window (yet)
    if (!std::isfinite(x0[i])) continue;
    const double slope = std::exp(-0.5 * x0[i] * x0[i] - 0.91893853320467274178 - f0[i]);
    if (!(slope > 0 && std::isfinite(slope))) continue;
    const double x1 = x0[i] - (f0[i] - y[i]) / slope;
    const double delta = 0x1p-46 * (1 + std::fabs(y[i]));
    value[i] = x1;
    radius[i] = 2 * delta / slope + 8 * (std::fabs(x1) * 0x1p-52 + 0x1p-1074);  // h
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!(radius[i] >= 0)) continue;
    f0[i] = log_ndtr_single(value[i] - radius[i]);  // f(lo)
    aux[i] = log_ndtr_single(value[i] + radius[i]);  // f(hi)
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double delta = 0x1p-46 * (1 + std::fabs(y[i]));
    const double x1 = value[i], h = radius[i], lo = x1 - h, hi = x1 + h;
    if (h >= 0 && f0[i] < y[i] - delta && aux[i] > y[i] + delta && lo > -100 && hi < 100) {
      const bool lower = a[i] < 0;
      value[i] = lower ? x1 : -x1;
      radius[i] = std::max(hi - x1, x1 - lo) + 2 * std::max(std::fabs(lo), std::fabs(hi)) * 0x1p-52 + 0x1p-1073;
    } else {
      value[i] = ppf(q[i], a[i], b[i], log_mass[i], m);
      radius[i] = 0;
    }
  }
}

/// ppf_approx_batch computing log_ndtr and log_q itself.
inline void ppf_approx_batch(std::size_t n, const double* q, const double* a, const double* b, const double* log_mass,
                             double* value, double* radius, double* scratch, const numpy::Math& m) {
  std::vector<double> log_ndtr(n), log_q(n);
  for (std::size_t i = 0; i < n; ++i) {
    log_ndtr[i] = log_ndtr_single(a[i] < 0 ? a[i] : -b[i]);
    log_q[i] = a[i] < 0 ? m.log(q[i]) : m.log1p(-q[i]);
  }
  ppf_approx_batch(n, q, a, b, log_mass, log_ndtr.data(), log_q.data(), value, radius, scratch, m);
}

/// `ppf(q, a, b)` of the standard normal truncated to [a, b], one element.
inline double ppf(double q, double a, double b, const numpy::Math& m) {
  return ppf(q, a, b, log_gauss_mass(a, b, m), m);
}

}  // namespace detail::truncnorm

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

  /// A univariate Parzen estimator (optuna.samplers._tpe.parzen_estimator._ParzenEstimator), its
  /// per-component constants in contiguous arrays. Reused from call to call (no allocation once
  /// the arrays have grown).
  struct Parzen {
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

  /// The proposal from the split observations (below_, above_): fit l and g, draw the
  /// candidates from l, keep the best log l - log g. Fast: with the vector kernels (the caller is
  /// compiled for AVX2 and FMA).
  template <bool Fast>
  double propose(const Distribution& distribution) {
    fit<Fast>(below_, distribution, l_);
    fit<Fast>(above_, distribution, g_);
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
    log_pdf<Fast>(l_, log_l_);
    log_pdf<Fast>(g_, log_g_);
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
    log_array<Fast>(quantiles_.data(), cand_log_q_.data(), m);
    log1p_array<Fast>(cand_log1p_q_.data(), cand_log1p_q_.data(), m);
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
    log_pdf_bounded<Fast>(l_, log_l_, dropped_l_);
    log_pdf_bounded<Fast>(g_, log_g_, dropped_g_);
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

  /// `log_pdf` of p at every transformed candidate xs_ into out.
  template <bool Fast>
  void log_pdf(const Parzen& p, std::vector<double>& out) {
    const std::size_t m = xs_.size();
    out.resize(m);
    if (p.q) {
      for (std::size_t i = 0; i < m; ++i) out[i] = p.log_pdf_discrete(xs_[i], weighted_, math_);
      return;
    }
    const double norm_pdf_log_c = TpeSampler::norm_pdf_log_c();
    weighted_.resize(p.mus.size());
    const detail::simd::MixtureView view = p.view();
#if NORMLAB_TPE_X86_SIMD
    if constexpr (Fast) {
      if (!p.degenerate) {
        detail::simd::log_mixture_avx2(view, norm_pdf_log_c, xs_.data(), m, out.data(), weighted_.data(), math_);
        return;
      }
    }
#endif
    for (std::size_t i = 0; i < m; ++i)
      out[i] = detail::simd::log_mixture_scalar(view, norm_pdf_log_c, xs_[i], weighted_.data(), math_);
  }

  /// log(sqrt(2 pi)) as Optuna's _normal_logpdf computes it (libm).
  static double norm_pdf_log_c() {
    static const double c = std::log(std::sqrt(2 * 3.141592653589793));
    return c;
  }

  /// log_pdf of p at the transformed candidates xs_ within propose_from_approximations' error
  /// bound: log_mixture_bound_avx2 with Fast, else the exact log_pdf (error 0).
  /// `dropped` receives an extra error bound per point (terms left out of the sum).
  template <bool Fast>
  void log_pdf_bounded(const Parzen& p, std::vector<double>& out, std::vector<double>& dropped) {
    dropped.assign(xs_.size(), 0.0);
#if NORMLAB_TPE_X86_SIMD
    if constexpr (Fast) {
      out.resize(xs_.size());
      const detail::simd::BoundMixture mixture{p.bound_mu.data(), p.bound_inv_sigma.data(), p.bound_c.data(),
                                               p.bound_shift, p.bound_mu.size(), p.mus.size()};
      if (detail::simd::active_isa() == detail::simd::Isa::Avx512)
        detail::simd::log_mixture_bound_avx512(mixture, xs_.data(), xs_.size(), out.data(), dropped.data());
      else
        detail::simd::log_mixture_bound_avx2(mixture, xs_.data(), xs_.size(), out.data(), dropped.data());
      return;
    }
#endif
    log_pdf<Fast>(p, out);
  }

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

  /// math_.log / math_.log1p of n values (vectorised with Fast).
  template <bool Fast>
  void log_array(const double* in, double* out, std::size_t n) const {
#if NORMLAB_TPE_X86_SIMD
    if constexpr (Fast)
      if (math_.mode == NumpyMath::Avx512Skx) return detail::simd::log_svml_array_avx2(in, out, n);
#endif
    for (std::size_t k = 0; k < n; ++k) out[k] = math_.log(in[k]);
  }
  template <bool Fast>
  void log1p_array(const double* in, double* out, std::size_t n) const {
#if NORMLAB_TPE_X86_SIMD
    if constexpr (Fast)
      if (math_.mode == NumpyMath::Avx512Skx) return detail::simd::log1p_svml_array_avx2(in, out, n);
#endif
    for (std::size_t k = 0; k < n; ++k) out[k] = math_.log1p(in[k]);
  }

  /// `_ParzenEstimator(observations, {name: distribution}, parameters)` (univariate), into p.
  template <bool Fast>
  void fit(const std::vector<double>& observations, const Distribution& distribution, Parzen& p) {
    p.distribution = distribution;
    p.q.reset();
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
    p.weights.assign(w.begin(), w.end());
    if (consider_prior) p.weights.push_back(options_.prior_weight());
    const double total = detail::numpy::sum(p.weights);
    for (auto& v : p.weights) v /= total;
    p.log_weights.resize(p.weights.size());
    log_array<Fast>(p.weights.data(), p.log_weights.data(), p.weights.size());

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
    mus.assign(observations.begin(), observations.end());
    if (p.log) log_array<Fast>(mus.data(), mus.data(), n);
    if (consider_prior) mus.push_back(0.5 * (low + high));
    const std::size_t count = mus.size();
    detail::numpy::argsort_into(mus.data(), count, sorted_indices_);
    std::vector<double>& ends = ends_;
    ends.resize(count + 2);
    ends[0] = low;
    for (std::size_t i = 0; i < count; ++i) ends[i + 1] = mus[sorted_indices_[i]];
    ends[count + 1] = high;
    auto np_maximum = [](double x, double y) { return (std::isnan(x) || std::isnan(y)) ? x + y : std::max(x, y); };
    std::vector<double>& sorted_sigmas = sorted_sigmas_;
    sorted_sigmas.resize(count);
    for (std::size_t i = 0; i < count; ++i) sorted_sigmas[i] = np_maximum(ends[i + 1] - ends[i], ends[i + 2] - ends[i + 1]);
    if (!options_.consider_endpoints() && ends.size() >= 4) {
      sorted_sigmas[0] = ends[2] - ends[1];
      sorted_sigmas[count - 1] = ends[count] - ends[count - 1];
    }
    p.sigmas.assign(count, 0.0);
    for (std::size_t i = 0; i < count; ++i) p.sigmas[sorted_indices_[i]] = sorted_sigmas[i];
    const double max_sigma = 1.0 * (high - low);
    const double min_sigma = options_.consider_magic_clip()
                                 ? 1.0 * (high - low) / std::min(100.0, 1.0 + static_cast<double>(count))
                                 : 1e-12;
    for (auto& s : p.sigmas) s = detail::np_clip(s, min_sigma, max_sigma);
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
      detail::simd::mass_arguments_avx2(low, high, mus.data(), p.sigmas.data(), count, p.a.data(), p.b.data(),
                                        p.log_mass.data(), math_);
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
        p.log_mass[k] = -detail::truncnorm::ndtr(a, math_) - detail::truncnorm::ndtr(-b, math_);
      }
    log1p_array<Fast>(p.log_mass.data(), p.log_mass.data(), count);
    for (std::size_t k = 0; k < count; ++k)
      if (p.b[k] <= 0 || p.a[k] > 0) p.log_mass[k] = detail::truncnorm::log_gauss_mass(p.a[k], p.b[k], math_);
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
        const std::size_t k = sorted_indices_[i];
        p.bound_mu[i] = mus[k];
        p.bound_inv_sigma[i] = 1.0 / p.sigmas[k];
        p.bound_c[i] = (p.log_weights[k] - p.log_mass[k]) - norm_pdf_log_c();
        p.bound_shift = std::max(p.bound_shift, p.bound_c[i]);
      }
      for (std::size_t i = 0; i < count; ++i) p.bound_c[i] -= p.bound_shift;
    }
  }

  TpeOptions options_;
  RandomState rng_;
  RandomSampler random_sampler_;
  detail::numpy::Math math_;
  // Scratch reused by every call (a sampler is used under its study's lock, one call at a time).
  std::vector<Score> scores_;
  std::vector<double> values_, below_, above_, ends_, sorted_sigmas_, candidates_, xs_, log_l_, log_g_, weighted_;
  std::vector<double> dropped_l_, dropped_g_;
  std::vector<double> quantiles_, radius_, cand_a_, cand_b_, cand_mass_, cand_t_, ppf_scratch_;
  std::vector<double> component_log_ndtr_, cand_log_ndtr_, cand_log_q_, cand_log1p_q_;
  std::vector<std::size_t> active_, order_, sorted_indices_;
  struct SplitKey {
    uint64_t step, value;
    std::size_t index;
  };
  std::vector<Score> split_scores_;  // the scores is_below_ was computed for
  int split_n_below_ = -1;
  std::vector<SplitKey> split_keys_;
  std::vector<char> is_below_;
  Parzen l_, g_;
};

}  // namespace normlab::search

#include "normlab/search/detail/separate_roundings_end.hpp"
