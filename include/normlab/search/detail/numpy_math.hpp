#pragma once
// numpy's float64 arithmetic as Optuna's TPESampler sees it, reproduced operation by operation:
// Intel SVML's exp, log and log1p (what numpy 1.22-1.24 runs on AVX512_SKX CPUs), libm's
// (numpy's baseline), numpy's pairwise summation, its default (introsort) argsort and linspace.
// Scalar, one lane at a time; detail/tpe_simd.hpp has the vectorised exp and mixture kernels,
// which compute the same bits. Used by normlab/search/tpe.hpp. No LibTorch.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

// distribution.hpp says detail:: meaning normlab::detail inside namespace normlab::search: it must be
// read before normlab::search::detail exists.
#include "normlab/search/distribution.hpp"


#include "normlab/search/detail/separate_roundings_begin.hpp"  // no contracted a + b * c below

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

/// x = m 2^e with m in [1, 2), for a finite x > 0 (2 frexp(x) and its exponent - 1, without the
/// libm call for normal numbers).
inline void split_mantissa(double x, double& m, double& e) {
  const uint64_t u = to_bits(x);
  const auto biased = static_cast<int>((u >> 52) & 0x7ff);
  if (biased == 0) {  // subnormal
    int ex = 0;
    m = 2.0 * std::frexp(x, &ex);
    e = static_cast<double>(ex - 1);
    return;
  }
  m = from_bits((u & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
  e = static_cast<double>(biased - 1023);
}

/// The common core of __svml_log8 and __svml_log1p8: log(2^e (m + low)) for m in [1, 2),
/// = e ln2 - log(rcp) + log1p(rcp (m + low) - 1), rcp ~ 1/m to 5 bits.
inline double svml_log_core(double m, double e, double low_scaled) {
  int steps = 0;  // how many steps lie at or below m (the table increases): branch-free
  for (int i = 0; i < 16; ++i) steps += m >= svml_rcp_steps[i];
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
  double m, e;
  split_mantissa(x, m, e);  // vgetmantpd / vgetexppd (denormals included)
  return svml_log_core(m, e, 0.0);
}

/// __svml_log1p8: 1 + x is split into a high part and the low bits lost in rounding it.
inline double log1p_svml(double x) {
  if (std::isnan(x)) return x;
  if (x < -1.0) return std::numeric_limits<double>::quiet_NaN();
  if (x == -1.0) return -std::numeric_limits<double>::infinity();
  if (std::isinf(x)) return x;
  const double xp1 = 1.0 + x;
  const double low = std::min(1.0, x) - (xp1 - std::max(1.0, x));
  double m, e;
  split_mantissa(xp1, m, e);
  const double res = svml_log_core(m, e, std::ldexp(low, -static_cast<int>(e)));
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
/// `tosort` receives the permutation (its storage is reused).
inline void argsort_into(const double* v, std::size_t size, std::vector<std::size_t>& tosort) {
  const std::ptrdiff_t num = static_cast<std::ptrdiff_t>(size);
  tosort.resize(size);
  for (std::size_t i = 0; i < size; ++i) tosort[i] = i;
  if (num < 2) return;
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
  // The smaller part is sorted first, so at most log2(num) partitions wait on the stacks.
  std::size_t* stack[2 * 64];
  int depth[64];
  int sp = 0, dp = 0;
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
          stack[sp++] = pi + 1;
          stack[sp++] = pr;
          pr = pi - 1;
        } else {
          stack[sp++] = pl;
          stack[sp++] = pi - 1;
          pl = pi + 1;
        }
        depth[dp++] = --cdepth;
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
    if (sp == 0) break;
    pr = stack[--sp];
    pl = stack[--sp];
    cdepth = depth[--dp];
  }
}

inline std::vector<std::size_t> argsort(const std::vector<double>& v) {
  std::vector<std::size_t> tosort;
  argsort_into(v.data(), v.size(), tosort);
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

}  // namespace normlab::search

#include "normlab/search/detail/separate_roundings_end.hpp"
