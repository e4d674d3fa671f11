#pragma once
// Optuna's Decimal(str(x)) arithmetic on step grids: a double read as the exact decimal of its
// shortest text, so that a grid such as low=0.1, high=1.0, step=0.3 ends where Python's Decimal
// says (1.0), not where binary doubles would put it. Trial::suggest (study.hpp) adjusts `high` with
// it and skips the sampler for a range that holds one value. Its own header because it is
// arithmetic copied from Optuna, testable without a study. No LibTorch.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <variant>

#include "normlab/detail/format.hpp"
#include "normlab/search/distribution.hpp"

namespace normlab::study::detail {

__extension__ using int128 = __int128;  // GCC and Clang

/// A double's shortest decimal text as an exact decimal m * 10^e (Python's Decimal(str(x))).
struct ExactDecimal {
  int128 mantissa = 0;
  int exponent = 0;
};

/// The exact decimal of x's shortest text; nullopt for inf and NaN, or past 30 digits.
inline std::optional<ExactDecimal> exact_decimal(double x) {
  if (!std::isfinite(x)) return std::nullopt;
  const std::string text = normlab::detail::shortest_double(x);
  ExactDecimal d;
  bool negative = false, dot = false;
  int digits = 0;
  size_t i = 0;
  if (text[i] == '-') negative = true, ++i;
  for (; i < text.size() && text[i] != 'e'; ++i) {
    if (text[i] == '.') {
      dot = true;
      continue;
    }
    if (++digits > 30) return std::nullopt;
    d.mantissa = d.mantissa * 10 + (text[i] - '0');
    if (dot) --d.exponent;
  }
  if (i < text.size()) d.exponent += std::atoi(text.c_str() + i + 1);
  if (negative) d.mantissa = -d.mantissa;
  return d;
}

/// Rewrites d with the smaller `exponent` (same value); false when the mantissa would pass 2^120.
inline bool scale_to(ExactDecimal& d, int exponent) {
  for (; d.exponent > exponent; --d.exponent) {
    if (d.mantissa > (int128(1) << 120) / 10 || d.mantissa < -((int128(1) << 120) / 10)) return false;
    d.mantissa *= 10;
  }
  return true;
}

/// Optuna's _adjust_discrete_uniform_high: with Decimal(str(.)) arithmetic, `high` becomes
/// low + floor((high - low) / step) * step when the range is not a multiple of the step.
inline double adjust_discrete_high(double low, double high, double step) {
  auto l = exact_decimal(low), h = exact_decimal(high), s = exact_decimal(step);
  if (!l || !h || !s) return high;
  const int e = std::min({l->exponent, h->exponent, s->exponent});
  if (!scale_to(*l, e) || !scale_to(*h, e) || !scale_to(*s, e) || s->mantissa <= 0) {
    const double k = std::floor((high - low) / step);  // out of exact range: plain doubles
    return std::fmod(high - low, step) == 0 ? high : k * step + low;
  }
  const int128 r = h->mantissa - l->mantissa;
  if (r % s->mantissa == 0) return high;
  const int128 adjusted = (r / s->mantissa) * s->mantissa + l->mantissa;
  // float(Decimal): the correctly rounded double of adjusted * 10^e.
  int128 a = adjusted < 0 ? -adjusted : adjusted;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(a % 10)));
    a /= 10;
  } while (a > 0);
  const std::string text = (adjusted < 0 ? "-" : "") + digits + "e" + std::to_string(e);
  return std::strtod(text.c_str(), nullptr);
}

/// Optuna's distribution.single(): a range holding one value, returned without sampling.
inline bool single_value(const search::Distribution& dist) {
  if (const auto* f = std::get_if<search::FloatDistribution>(&dist)) {
    if (f->low == f->high) return true;
    if (!f->step) return false;
    auto l = exact_decimal(f->low), h = exact_decimal(f->high), s = exact_decimal(*f->step);
    if (!l || !h || !s) return f->high - f->low < *f->step;
    const int e = std::min({l->exponent, h->exponent, s->exponent});
    if (!scale_to(*l, e) || !scale_to(*h, e) || !scale_to(*s, e)) return f->high - f->low < *f->step;
    return h->mantissa - l->mantissa < s->mantissa;
  }
  const auto& i = std::get<search::IntDistribution>(dist);
  if (i.low == i.high) return true;
  return !i.log && i.high - i.low < i.step;
}

}  // namespace normlab::study::detail
