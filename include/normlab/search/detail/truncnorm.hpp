#pragma once
// Optuna 3.1's optuna/samplers/_tpe/_erf.py and _truncnorm.py, ported operation by operation: the
// standard normal truncated to [a, b] (its log mass and its ppf) that TpeSampler's Parzen estimators
// sample and score with. Its own header because it is Optuna's own module and is tested on its own
// (tests/search/tpe_kernels_test.cpp checks every shortcut here against Optuna's literal algorithm).
//
// Exact to the bit where the result reaches a proposal: ndtri_exp reproduces Optuna's 100-step
// bisection with about 15 independent evaluations (a Newton window, checked; a predicted path,
// checked); ppf_approx and ppf_approx_batch give a value with a guaranteed radius for
// TpeSampler::propose_from_approximations, which computes exactly whenever the radius could matter.
// detail::simd::force_reference() runs the bisection literally. No LibTorch.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "normlab/search/detail/numpy_math.hpp"
#include "normlab/search/detail/tpe_simd.hpp"

#include "normlab/search/detail/separate_roundings_begin.hpp"  // no contracted a + b * c below

namespace normlab::search {

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

}  // namespace normlab::search

#include "normlab/search/detail/separate_roundings_end.hpp"
