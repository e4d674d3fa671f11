#pragma once
// normlab::search::QmcSampler: a (scrambled) Sobol sequence over the search space. No LibTorch.

#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "normlab/search/distribution.hpp"
#include "normlab/search/random.hpp"
#include "normlab/search/random_state.hpp"
#include "normlab/search/sampler.hpp"
#include "normlab/search/trial.hpp"

namespace normlab::search {

/**
 * Quasi-Monte Carlo search with a Sobol sequence (32-bit, Gray-code order), optionally scrambled.
 *
 * Trial number i takes Sobol point i, so the sequence is shared by every process of a study and
 * survives a resume. Parameter k (in the order given to the constructor, then in the order
 * parameters are first asked for) is Sobol dimension k; up to 21 dimensions, with the direction
 * numbers of S. Joe and F. Kuo, "Constructing Sobol sequences with better two-dimensional
 * projections", SIAM J. Sci. Comput. 30 (2008), file new-joe-kuo-6.21201 (the table scipy uses).
 *
 * Scrambling (the default) is a random linear matrix scramble plus a digital shift (Matousek 1998;
 * Owen 2003), drawn from RandomState(seed): it keeps the (t, s)-net structure, makes point 0 a
 * random point instead of the origin, and gives each seed its own sequence. Unscrambled points
 * equal scipy.stats.qmc.Sobol(d, scramble=False)'s; scrambled ones are not scipy's (scipy draws its
 * matrices from a numpy Generator): optuna.samplers.QMCSampler parity is not a goal.
 *
 * A point u in [0, 1) is mapped like RandomSampler maps its uniform draw: linear or log
 * interpolation of the range (high excluded), or of [low - step/2, high + step/2] rounded to the
 * step for stepped floats and ints.
 */
class QmcSampler final : public Sampler {
 public:
  static constexpr std::size_t max_dimensions = 21;

  /// @param seed seeds the scramble (ignored when `scramble` is false).
  /// @param scramble linear matrix scramble + digital shift (true) or the plain sequence.
  /// @param names parameter names in dimension order (more are added as they are first asked for).
  explicit QmcSampler(uint64_t seed, bool scramble = true, std::vector<std::string> names = {})
      : scramble_(scramble), names_(std::move(names)) {
    if (names_.size() > max_dimensions) throw_too_many();
    build_directions(seed);
  }

  double sample_independent(const StudyView&, const FrozenTrial& trial, const std::string& name,
                            const Distribution& distribution) override {
    if (trial.number < 0) throw std::invalid_argument("normlab::QmcSampler: the trial has no number");
    return map_to(point(static_cast<uint64_t>(trial.number), dimension_of(name)), distribution);
  }

  void reseed(uint64_t seed) override { build_directions(seed); }
  std::string name() const override { return "qmc"; }

  /// Coordinate `dimension` of Sobol point `index`, in [0, 1).
  double point(uint64_t index, std::size_t dimension) const {
    if (dimension >= max_dimensions) throw_too_many();
    const uint64_t gray = index ^ (index >> 1);
    uint32_t x = shift_[dimension];
    for (std::size_t bit = 0; bit < 32 && (gray >> bit); ++bit)
      if ((gray >> bit) & 1U) x ^= directions_[dimension][bit];
    return static_cast<double>(x) * 0x1p-32;
  }

  /// The dimension of a parameter (assigned on first use).
  std::size_t dimension_of(const std::string& name) {
    for (std::size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name) return i;
    if (names_.size() == max_dimensions) throw_too_many();
    names_.push_back(name);
    return names_.size() - 1;
  }

 private:
  [[noreturn]] static void throw_too_many() {
    throw std::invalid_argument("normlab::QmcSampler supports at most 21 parameters (Sobol dimensions)");
  }

  /// Joe-Kuo new-joe-kuo-6.21201 for dimensions 2..21: primitive polynomial (with its leading and
  /// trailing 1 bits, as scipy stores it) and initial direction numbers m_1..m_s.
  struct Direction {
    uint32_t poly;
    std::array<uint32_t, 7> m;
  };
  static constexpr std::array<Direction, max_dimensions - 1> joe_kuo{{
      {3, {1}},
      {7, {1, 3}},
      {11, {1, 3, 1}},
      {13, {1, 1, 1}},
      {19, {1, 1, 3, 3}},
      {25, {1, 3, 5, 13}},
      {37, {1, 1, 5, 5, 17}},
      {41, {1, 1, 5, 5, 5}},
      {47, {1, 1, 7, 11, 19}},
      {55, {1, 1, 5, 1, 1}},
      {59, {1, 1, 1, 3, 11}},
      {61, {1, 3, 5, 5, 31}},
      {67, {1, 3, 3, 9, 7, 49}},
      {91, {1, 1, 1, 15, 21, 21}},
      {97, {1, 3, 1, 13, 27, 49}},
      {103, {1, 1, 1, 15, 7, 5}},
      {109, {1, 3, 1, 15, 13, 25}},
      {115, {1, 1, 5, 5, 19, 61}},
      {131, {1, 3, 7, 11, 23, 15, 103}},
      {137, {1, 3, 7, 13, 13, 15, 69}},
  }};

  void build_directions(uint64_t seed) {
    for (std::size_t d = 0; d < max_dimensions; ++d) {
      std::array<uint32_t, 33> m{};  // m[1..32]
      if (d == 0) {
        for (std::size_t k = 1; k <= 32; ++k) m[k] = 1;  // van der Corput
      } else {
        const Direction& dir = joe_kuo[d - 1];
        int s = 0;
        while ((dir.poly >> (s + 1)) != 0) ++s;  // degree
        for (int k = 1; k <= s; ++k) m[k] = dir.m[k - 1];
        for (int k = s + 1; k <= 32; ++k) {
          uint32_t v = m[k - s] ^ (m[k - s] << s);
          for (int i = 1; i < s; ++i)
            if ((dir.poly >> (s - i)) & 1U) v ^= m[k - i] << i;
          m[k] = v;
        }
      }
      for (std::size_t k = 1; k <= 32; ++k) directions_[d][k - 1] = m[k] << (32 - k);
      shift_[d] = 0;
    }
    if (!scramble_) return;
    RandomState rng(seed);
    for (std::size_t d = 0; d < max_dimensions; ++d) {
      // Lower-triangular L with unit diagonal, bit 31 being the most significant: each output bit r
      // is input bit r XOR a random combination of the input bits above it.
      std::array<uint32_t, 32> rows{};
      for (int r = 0; r < 32; ++r) {
        const uint32_t above = r == 0 ? 0U : (~uint32_t{0} << (32 - r));
        rows[r] = (rng.next_uint32() & above) | (uint32_t{1} << (31 - r));
      }
      for (auto& v : directions_[d]) {
        uint32_t out = 0;
        for (int r = 0; r < 32; ++r)
          if (std::popcount(rows[r] & v) & 1) out |= uint32_t{1} << (31 - r);
        v = out;
      }
      shift_[d] = rng.next_uint32();
    }
  }

  static double map_to(double u, const Distribution& distribution) {
    return std::visit(
        [&](const auto& d) -> double {
          using D = std::decay_t<decltype(d)>;
          const double low = static_cast<double>(d.low), high = static_cast<double>(d.high);
          if (low == high) return low;
          if constexpr (std::is_same_v<D, FloatDistribution>) {
            if (d.log) {
              const double a = std::log(low), b = std::log(high);
              return std::fmin(std::exp(a + (b - a) * u), std::nextafter(high, high - 1));
            }
            if (d.step) {
              const double a = low - 0.5 * *d.step, b = high + 0.5 * *d.step;
              return detail::np_clip(detail::np_round((a + (b - a) * u - low) / *d.step) * *d.step + low, low, high);
            }
            return std::fmin(low + (high - low) * u, std::nextafter(high, high - 1));
          } else {
            const double step = static_cast<double>(d.step);
            if (d.log) {
              const double a = std::log(low - 0.5), b = std::log(high + 0.5);
              return detail::np_clip(detail::np_round(std::exp(a + (b - a) * u)), low, high);
            }
            const double a = low - 0.5 * step, b = high + 0.5 * step;
            return detail::np_clip(detail::np_round((a + (b - a) * u - low) / step) * step + low, low, high);
          }
        },
        distribution);
  }

  bool scramble_;
  std::vector<std::string> names_;
  std::array<std::array<uint32_t, 32>, max_dimensions> directions_{};
  std::array<uint32_t, max_dimensions> shift_{};
};

}  // namespace normlab::search
