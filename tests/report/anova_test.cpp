// normlab/report/anova.hpp: two-way ANOVA with replication, against a textbook example and against
// numpy/SciPy (scripts/golden/anova_golden.py -> tests/golden/anova.txt).
#include <catch2/catch.hpp>
#include <cmath>
#include <normlab/report/anova.hpp>

#include "../golden.hpp"

using namespace normlab;

namespace {
// Relative closeness; NaN matches NaN (the residual row has no F or p).
bool close(double got, double expected, double rel) {
  if (std::isnan(expected)) return std::isnan(got);
  return std::fabs(got - expected) <= rel * std::fabs(expected) + 1e-300;
}
}  // namespace

TEST_CASE("two_way_anova reproduces Montgomery's battery-life example (Example 5.1)", "[report][anova]") {
  // Design and Analysis of Experiments (Montgomery), Table 5.1: material type (3) x temperature
  // (15, 70, 125 F), four batteries per cell; Table 5.5 gives the ANOVA to two decimals.
  const std::vector<std::vector<std::vector<double>>> life = {
      {{130, 155, 74, 180}, {34, 40, 80, 75}, {20, 70, 82, 58}},
      {{150, 188, 159, 126}, {136, 122, 106, 115}, {25, 70, 58, 45}},
      {{138, 110, 168, 160}, {174, 120, 150, 139}, {96, 104, 82, 60}}};
  const auto t = report::two_way_anova(life, "material", "temperature");
  CHECK(t.a.source == "material");
  CHECK(t.interaction.source == "material x temperature");
  CHECK(t.a.sum_sq == Approx(10683.72).margin(0.005));
  CHECK(t.b.sum_sq == Approx(39118.72).margin(0.005));
  CHECK(t.interaction.sum_sq == Approx(9613.78).margin(0.005));
  CHECK(t.residual.sum_sq == Approx(18230.75).margin(0.005));
  CHECK(t.total.sum_sq == Approx(77646.97).margin(0.005));
  CHECK(t.a.df == 2);
  CHECK(t.interaction.df == 4);
  CHECK(t.residual.df == 27);
  CHECK(t.total.df == 35);
  CHECK(t.residual.mean_sq == Approx(675.21).margin(0.005));
  CHECK(t.a.f == Approx(7.91).margin(0.005));
  CHECK(t.b.f == Approx(28.97).margin(0.005));
  CHECK(t.interaction.f == Approx(3.56).margin(0.005));
  CHECK(t.a.p == Approx(0.0020).margin(0.00005));
  CHECK(t.b.p < 0.0001);
  CHECK(t.interaction.p == Approx(0.0186).margin(0.00005));
  CHECK(t.a.eta_sq + t.b.eta_sq + t.interaction.eta_sq + t.residual.eta_sq == Approx(1.0).epsilon(1e-12));
}

TEST_CASE("two_way_anova agrees with numpy and scipy.stats.f on random designs", "[report][anova]") {
  const auto rows = testing::golden_rows("anova.txt");
  int designs = 0, betas = 0;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r][0] == "betainc") {
      const double a = std::stod(rows[r][1]), b = std::stod(rows[r][2]), x = std::stod(rows[r][3]);
      INFO("I_" << x << "(" << a << ", " << b << ")");
      CHECK(close(report::incomplete_beta(a, b, x), std::stod(rows[r][4]), 1e-11));
      ++betas;
      continue;
    }
    if (rows[r][0] != "design") continue;
    const std::size_t na = std::stoul(rows[r][1]), nb = std::stoul(rows[r][2]), n = std::stoul(rows[r][3]);
    const auto& values = rows[r + 1];
    REQUIRE(values.size() == 1 + na * nb * n);
    std::vector<std::vector<std::vector<double>>> y(na, std::vector<std::vector<double>>(nb));
    std::size_t at = 1;
    for (auto& cells : y)
      for (auto& cell : cells)
        for (std::size_t k = 0; k < n; ++k) cell.push_back(std::stod(values[at++]));
    const auto t = report::two_way_anova(y);
    const report::AnovaRow* got[] = {&t.a, &t.b, &t.interaction, &t.residual};
    for (int s = 0; s < 4; ++s) {
      const auto& row = rows[r + 2 + s];
      INFO("design " << na << "x" << nb << "x" << n << ", row " << row[1]);
      CHECK(close(got[s]->sum_sq, std::stod(row[2]), 1e-9));
      CHECK(got[s]->df == std::stod(row[3]));
      CHECK(close(got[s]->f, std::stod(row[4]), 1e-9));
      CHECK(close(got[s]->p, std::stod(row[5]), 1e-8));
      CHECK(close(got[s]->eta_sq, std::stod(row[6]), 1e-9));
    }
    ++designs;
  }
  CHECK(designs == 6);
  CHECK(betas == 10);
}

TEST_CASE("two_way_anova refuses unbalanced, too small or non-finite designs, naming the cell", "[report][anova]") {
  using Y = std::vector<std::vector<std::vector<double>>>;
  CHECK_THROWS_WITH(report::two_way_anova(Y{{{1, 2}, {3, 4}}}), "two_way_anova: factor A needs at least 2 levels");
  CHECK_THROWS_WITH(report::two_way_anova(Y{{{1}, {3}}, {{1}, {2}}}), "two_way_anova: each cell needs at least 2 replicates");
  CHECK_THROWS_WITH(report::two_way_anova(Y{{{1, 2}, {3, 4}}, {{1, 2}, {3}}}),
                    "two_way_anova: cell (1, 1) has 1 replicates, not 2 (the design must be balanced)");
  CHECK_THROWS_WITH(report::two_way_anova(Y{{{1, 2}, {3, NAN}}, {{1, 2}, {3, 4}}}),
                    "two_way_anova: cell (0, 1) holds a value that is not finite");
}

TEST_CASE("replicates that agree exactly give F = inf where a factor varies, NaN where none does", "[report][anova]") {
  // Deterministic runs (the same seed in every replicate): no within-cell variance.
  const std::vector<std::vector<std::vector<double>>> y = {{{0.9, 0.9}, {0.9, 0.9}}, {{0.5, 0.5}, {0.5, 0.5}}};
  const auto t = report::two_way_anova(y);
  CHECK(t.residual.sum_sq == 0);
  CHECK(std::isinf(t.a.f));
  CHECK(t.a.p == 0);
  CHECK(std::isnan(t.b.f));
  CHECK(std::isnan(t.b.p));
  CHECK(t.a.eta_sq == Approx(1.0));
}
