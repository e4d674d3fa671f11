// normlab/study/decimal.hpp: Optuna's Decimal(str(x)) arithmetic on step grids. The expected
// values are Python's: float((Decimal(str(high)) - Decimal(str(low))) // Decimal(str(step)) *
// Decimal(str(step)) + Decimal(str(low))), as optuna.distributions._adjust_discrete_uniform_high
// computes it; where plain doubles give another number, that number is named in a comment.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "normlab/study/decimal.hpp"

namespace search = normlab::search;
using namespace normlab::study::detail;

TEST_CASE("exact_decimal reads a double's shortest text as mantissa and exponent", "[study][decimal]") {
  auto d = exact_decimal(0.1);
  REQUIRE(d);
  CHECK(d->mantissa == 1);
  CHECK(d->exponent == -1);
  d = exact_decimal(123.456);
  REQUIRE(d);
  CHECK(d->mantissa == 123456);
  CHECK(d->exponent == -3);
  d = exact_decimal(-2.5e-7);  // "-2.5e-07"
  REQUIRE(d);
  CHECK(d->mantissa == -25);
  CHECK(d->exponent == -8);
  d = exact_decimal(1e22);  // "1e+22"
  REQUIRE(d);
  CHECK(d->mantissa == 1);
  CHECK(d->exponent == 22);
  CHECK_FALSE(exact_decimal(std::numeric_limits<double>::infinity()));
  CHECK_FALSE(exact_decimal(std::nan("")));
}

TEST_CASE("scale_to lowers the exponent without changing the value, up to 2^120", "[study][decimal]") {
  ExactDecimal d{25, -1};  // 2.5
  REQUIRE(scale_to(d, -4));
  CHECK(d.mantissa == 25000);
  CHECK(d.exponent == -4);
  REQUIRE(scale_to(d, 0));  // a larger exponent: unchanged
  CHECK(d.mantissa == 25000);
  ExactDecimal big{1, 30};  // 1e30 at exponent -10 would need a mantissa of 1e40
  CHECK_FALSE(scale_to(big, -10));
  ExactDecimal fits{1, 30};
  REQUIRE(scale_to(fits, 0));
  CHECK(fits.mantissa == int128(1'000'000'000'000'000) * int128(1'000'000'000'000'000));
}

TEST_CASE("adjust_discrete_high ends the grid where Python's Decimal ends it", "[study][decimal]") {
  CHECK(adjust_discrete_high(0, 1, 0.3) == 0.9);           // doubles: 0.8999999999999999
  CHECK(adjust_discrete_high(0.1, 0.75, 0.2) == 0.7);      // doubles: 0.7000000000000001
  CHECK(adjust_discrete_high(0.1, 0.7, 0.1) == 0.7);       // doubles: floor(5.999999999999999) gives 0.6
  CHECK(adjust_discrete_high(0.1, 1.0, 0.3) == 1.0);       // a multiple: unchanged
  CHECK(adjust_discrete_high(0.001, 0.0105, 0.002) == 0.009);  // doubles: 0.009000000000000001
  CHECK(adjust_discrete_high(-2.0, -0.05, 0.3) == -0.2);   // doubles: -0.20000000000000018
  CHECK(adjust_discrete_high(0, 1, 0.25) == 1.0);
  // Past 2^120 after scaling (1e30 at exponent -10): plain doubles, which agree with Decimal here.
  CHECK(adjust_discrete_high(0, 1e30, 1e-10) == 1e30);
  // A bound that is not finite is left as it is.
  CHECK(std::isinf(adjust_discrete_high(0, std::numeric_limits<double>::infinity(), 0.1)));
}

TEST_CASE("single_value is Optuna's distribution.single(), in decimals for stepped floats", "[study][decimal]") {
  CHECK(single_value(search::FloatDistribution{0.5, 0.5, false, std::nullopt}));
  CHECK_FALSE(single_value(search::FloatDistribution{0.5, 0.6, false, std::nullopt}));
  CHECK(single_value(search::FloatDistribution{0.1, 0.15, false, 0.1}));
  // 0.3 - 0.1 is 0.19999999999999998 < 0.2 in doubles, but the grid holds 0.1 and 0.3.
  CHECK_FALSE(single_value(search::FloatDistribution{0.1, 0.3, false, 0.2}));
  CHECK(single_value(search::IntDistribution{3, 3, false, 1}));
  CHECK(single_value(search::IntDistribution{0, 2, false, 3}));
  CHECK_FALSE(single_value(search::IntDistribution{0, 3, false, 3}));
  CHECK_FALSE(single_value(search::IntDistribution{1, 2, true, 1}));
}
