#pragma once
// numpy's legacy `np.random.RandomState` in C++: the same MT19937 stream, the same seeding and the
// same draws as numpy, bit for bit, for the calls Optuna 3.1's samplers make
// (`random_sample`/`rand`, `uniform`, `choice(n, size, p=...)`). No LibTorch.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>


#include "normlab/search/detail/separate_roundings_begin.hpp"  // no contracted a + b * c below

namespace normlab::search {

/**
 * numpy.random.RandomState: a Mersenne Twister (MT19937) with numpy's seeding and numpy's
 * conversions from 32-bit words to doubles.
 *
 * Seeding follows numpy's `_legacy_seeding`:
 *  - `RandomState(s)` with `s < 2**32` is `mt19937_seed(s)` (Matsumoto and Nishimura's
 *    `init_genrand`, the same as `std::mt19937(s)`);
 *  - `from_array({k0, k1, ...})` is `RandomState(np.array([k0, k1, ...], dtype=np.uint32))`, i.e.
 *    `init_by_array`.
 * numpy rejects integer seeds of 2**32 or more; here such a seed means
 * `from_array({low 32 bits, high 32 bits})`, so any 64-bit seed is usable (and reproducible in
 * Python as `RandomState([seed & 0xffffffff, seed >> 32])`).
 *
 * Reference: M. Matsumoto and T. Nishimura, "Mersenne Twister: a 623-dimensionally equidistributed
 * uniform pseudo-random number generator", ACM TOMACS 8(1), 1998; numpy/random/mtrand.pyx and
 * numpy/random/src/mt19937/mt19937.c (numpy 1.17-2.x, unchanged).
 */
class RandomState {
 public:
  static constexpr std::size_t state_size = 624;

  /// @param seed any 64-bit value; see the class comment for seeds >= 2**32.
  explicit RandomState(uint64_t seed = 0) { seed_with(seed); }

  /// `RandomState(np.array(keys, dtype=np.uint32))`: numpy's init_by_array.
  static RandomState from_array(std::span<const uint32_t> keys) {
    if (keys.empty()) throw std::invalid_argument("normlab::RandomState: seed array must not be empty");
    RandomState rs;
    rs.init_by_array(keys);
    return rs;
  }

  /// Re-seeds exactly as the constructor does.
  void seed_with(uint64_t seed) {
    if (seed <= 0xffffffffULL) {
      init_genrand(static_cast<uint32_t>(seed));
    } else {
      const std::array<uint32_t, 2> keys{static_cast<uint32_t>(seed & 0xffffffffULL),
                                          static_cast<uint32_t>(seed >> 32)};
      init_by_array(keys);
    }
  }

  /// The next raw 32-bit output (numpy's `mt19937_next32`).
  uint32_t next_uint32() {
    if (pos_ >= state_size) generate();
    uint32_t y = key_[pos_++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680U;
    y ^= (y << 15) & 0xefc60000U;
    y ^= (y >> 18);
    return y;
  }

  /// `random_sample()` / `rand()`: a double in [0, 1) with 53 random bits,
  /// `((a >> 5) * 2**26 + (b >> 6)) / 2**53`.
  double random_sample() {
    const int32_t a = static_cast<int32_t>(next_uint32() >> 5);
    const int32_t b = static_cast<int32_t>(next_uint32() >> 6);
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }

  /// `random_sample(n)`.
  std::vector<double> random_sample(std::size_t n) {
    std::vector<double> out(n);
    for (auto& v : out) v = random_sample();
    return out;
  }

  /// `uniform(low, high)`: `low + (high - low) * random_sample()` (numpy's `random_uniform`).
  /// Throws std::overflow_error when `high - low` is not finite, as numpy does.
  double uniform(double low, double high) {
    const double range = high - low;
    if (!(range - range == 0)) throw std::overflow_error("normlab::RandomState::uniform: Range exceeds valid bounds");
    return uniform_with_range(low, range);
  }

  /// `uniform(low, high, size=n)`.
  std::vector<double> uniform(double low, double high, std::size_t n) {
    const double range = high - low;
    if (!(range - range == 0)) throw std::overflow_error("normlab::RandomState::uniform: Range exceeds valid bounds");
    std::vector<double> out(n);
    for (auto& v : out) v = uniform_with_range(low, range);
    return out;
  }

  /**
   * `choice(n, size, replace=True, p=p)` as numpy implements it: `cdf = cumsum(p)`,
   * `cdf /= cdf[-1]`, `u = random_sample(size)`, `searchsorted(cdf, u, side='right')`.
   * Like numpy, throws when p has the wrong size, a negative entry, or does not sum to 1 within
   * sqrt(machine epsilon) (checked with Kahan summation as numpy does).
   */
  std::vector<std::size_t> choice(std::size_t n, std::size_t size, std::span<const double> p) {
    if (n == 0) throw std::invalid_argument("normlab::RandomState::choice: a must be greater than 0");
    if (p.size() != n) throw std::invalid_argument("normlab::RandomState::choice: 'a' and 'p' must have same size");
    double sum = 0, c = 0;  // numpy's kahan_sum
    for (double v : p) {
      if (!(v >= 0)) throw std::invalid_argument("normlab::RandomState::choice: probabilities are not non-negative");
      const double y = v - c;
      const double t = sum + y;
      c = (t - sum) - y;
      sum = t;
    }
    if (!(std::abs(sum - 1.0) <= 1.4901161193847656e-08))  // sqrt(finfo(float64).eps)
      throw std::invalid_argument("normlab::RandomState::choice: probabilities do not sum to 1");
    std::vector<double> cdf(n);
    double acc = 0;
    for (std::size_t i = 0; i < n; ++i) cdf[i] = (acc += p[i]);
    const double last = cdf.back();
    for (auto& v : cdf) v /= last;
    std::vector<std::size_t> out(size);
    for (auto& idx : out) {
      const double u = random_sample();
      // searchsorted(side='right'): the first i with cdf[i] > u.
      std::size_t lo = 0, hi = n;
      while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (u < cdf[mid]) hi = mid; else lo = mid + 1;
      }
      idx = lo;
    }
    return out;
  }

  /// The MT19937 state as numpy's `get_state()` shows it: 624 words and the position.
  const std::array<uint32_t, state_size>& key() const { return key_; }
  std::size_t pos() const { return pos_; }

 private:
  double uniform_with_range(double low, double range) { return low + range * random_sample(); }

  void init_genrand(uint32_t s) {
    key_[0] = s;
    for (std::size_t i = 1; i < state_size; ++i)
      key_[i] = 1812433253U * (key_[i - 1] ^ (key_[i - 1] >> 30)) + static_cast<uint32_t>(i);
    pos_ = state_size;
  }

  void init_by_array(std::span<const uint32_t> keys) {
    init_genrand(19650218U);
    std::size_t i = 1, j = 0;
    const std::size_t len = keys.size();
    for (std::size_t k = (state_size > len ? state_size : len); k; --k) {
      key_[i] = (key_[i] ^ ((key_[i - 1] ^ (key_[i - 1] >> 30)) * 1664525U)) + keys[j] + static_cast<uint32_t>(j);
      ++i;
      ++j;
      if (i >= state_size) { key_[0] = key_[state_size - 1]; i = 1; }
      if (j >= len) j = 0;
    }
    for (std::size_t k = state_size - 1; k; --k) {
      key_[i] = (key_[i] ^ ((key_[i - 1] ^ (key_[i - 1] >> 30)) * 1566083941U)) - static_cast<uint32_t>(i);
      ++i;
      if (i >= state_size) { key_[0] = key_[state_size - 1]; i = 1; }
    }
    key_[0] = 0x80000000U;  // a non-zero initial state is assured
    pos_ = state_size;
  }

  void generate() {
    constexpr std::size_t m = 397;
    constexpr uint32_t upper = 0x80000000U, lower = 0x7fffffffU, matrix_a = 0x9908b0dfU;
    std::size_t i = 0;
    for (; i < state_size - m; ++i) {
      const uint32_t y = (key_[i] & upper) | (key_[i + 1] & lower);
      key_[i] = key_[i + m] ^ (y >> 1) ^ (-(y & 1U) & matrix_a);
    }
    for (; i < state_size - 1; ++i) {
      const uint32_t y = (key_[i] & upper) | (key_[i + 1] & lower);
      key_[i] = key_[i + m - state_size] ^ (y >> 1) ^ (-(y & 1U) & matrix_a);
    }
    const uint32_t y = (key_[state_size - 1] & upper) | (key_[0] & lower);
    key_[state_size - 1] = key_[m - 1] ^ (y >> 1) ^ (-(y & 1U) & matrix_a);
    pos_ = 0;
  }

  std::array<uint32_t, state_size> key_{};
  std::size_t pos_ = state_size;
};

}  // namespace normlab::search

#include "normlab/search/detail/separate_roundings_end.hpp"
