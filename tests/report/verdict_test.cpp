// normlab/report/verdict.hpp and grid_design.hpp: the report's design and how it is read.
#include <catch2/catch.hpp>
#include <cmath>
#include <normlab/report/grid_design.hpp>
#include <normlab/report/verdict.hpp>

using namespace normlab;

TEST_CASE("notebook_grid spans the notebook's space on its own scales, the same seeds per cell", "[report][design]") {
  const auto d = report::notebook_grid(5, 3, 10);
  CHECK(d.means == std::vector<double>{-3.0, -1.5, 0.0, 1.5, 3.0});
  REQUIRE(d.stds.size() == 5);
  CHECK(d.stds.front() == 0.1);
  CHECK(d.stds.back() == 2.0);
  for (std::size_t i = 1; i < d.stds.size(); ++i)  // evenly spaced in log
    CHECK(std::log(d.stds[i] / d.stds[i - 1]) == Approx(std::log(20.0) / 4).epsilon(1e-12));
  CHECK(d.seeds == std::vector<uint64_t>{10, 11, 12});
  CHECK_THROWS_WITH(report::notebook_grid(1, 3), "the report's grid needs G >= 2 (got 1)");
  CHECK_THROWS_WITH(report::notebook_grid(3, 1), "the report needs R >= 2 seeds per cell (got 1)");
}

TEST_CASE("grid_cells arranges one compensation's runs as y[mean][std][seed] and names a missing one",
          "[report][design]") {
  const auto d = report::notebook_grid(2, 2);
  std::vector<report::GridRun> runs;
  double a = 0;
  for (double m : d.means)
    for (double s : d.stds)
      for (uint64_t seed : d.seeds) runs.push_back({"exact", seed, m, s, a += 0.01});
  runs.push_back({"none", 1, -3.0, 0.1, 0.5});
  const auto y = report::grid_cells(d, runs, "exact");
  CHECK(y[0][0] == std::vector<double>{0.01, 0.02});
  CHECK(y[1][1] == std::vector<double>{0.07, 0.08});
  CHECK_THROWS_WITH(report::grid_cells(d, runs, "none"), "grid_cells: no none run at mean -3.000000, std 0.100000, seed 2");
}

TEST_CASE("the verdict says which factor matters, with F, p and eta2, and where the cells are", "[report][verdict]") {
  // mean moves accuracy from chance to 0.9; std does nothing; the seeds differ by +-0.01.
  std::vector<std::vector<std::vector<double>>> y;
  for (double level : {0.1, 0.5, 0.9}) {
    y.emplace_back();
    for (int j = 0; j < 3; ++j) y.back().push_back({level - 0.01, level + 0.01, level + (j - 1) * 0.001});
  }
  const auto f = report::find("exact", y);
  CHECK(f.anova.a.p < 1e-12);
  CHECK(f.anova.b.p > 0.01);
  CHECK(f.cells == 9);
  CHECK(f.cells_within_noise == 3);
  CHECK(f.cells_at_chance == 3);
  CHECK(f.best_cell == Approx(0.9).epsilon(1e-3));
  const auto s = report::sentence(f);
  CHECK(s.rfind("with the exact compensation, mean matters (F=", 0) == 0);
  CHECK(s.find("p<1e-12") != std::string::npos);
  CHECK(s.find("std does not matter beyond seed noise") != std::string::npos);
  CHECK(s.find("; 3 of 9 cells within noise of the best (0.9003); 3 at chance") != std::string::npos);
  CHECK(s.find("unstable") == std::string::npos);
  SECTION("given the grid's levels, it says where the best and the failing cells lie") {
    const auto g = report::find("exact", y, 0.1, {-3, 0, 3}, {0.1, 0.447, 2});
    CHECK(g.where_within_noise == "mean 3 (every std)");
    CHECK(g.where_at_chance == "mean -3 (every std)");
    CHECK(report::sentence(g).find("3 of 9 cells within noise of the best (0.9003): mean 3 (every std); "
                                   "3 at chance: mean -3 (every std)") != std::string::npos);
  }
  SECTION("with the noise floor's sd, the band around the best is two of its standard errors") {
    // Best cell 0.90033 (mean 3, std 2); its neighbours are 0.00033 and 0.00067 below. A noise
    // floor sd of 1e-4 gives a band of 2e-4 * sqrt(2/3) = 1.6e-4: the best cell alone.
    const auto g = report::find("exact", y, 0.1, {-3, 0, 3}, {0.1, 0.447, 2}, 1e-4);
    CHECK(g.cells_within_noise == 1);
    CHECK(g.where_within_noise == "mean 3 (std 2)");
    CHECK(report::sentence(g).find("seed noise sd 0.0001 at the noise floor's points, ") != std::string::npos);
  }
  SECTION("a cell where one seed falls to chance and another trains is unstable") {
    auto z = y;
    z[1][2] = {0.1, 0.9, 0.85};
    const auto g = report::find("exact", z, 0.1, {-3, 0, 3}, {0.1, 0.447, 2});
    CHECK(g.cells_unstable == 1);
    CHECK(g.where_unstable == "mean 0 (std 2)");
    CHECK(report::sentence(g).find("; 1 unstable (a seed at chance, another not): mean 0 (std 2)") != std::string::npos);
  }
  SECTION("pooled_sd is the sample sd pooled over groups") {
    // (1, 3): mean 2, ss 2; (4, 6, 8): mean 6, ss 8; pooled: sqrt(10 / 3).
    CHECK(report::pooled_sd({{1, 3}, {4, 6, 8}, {5}}) == Approx(std::sqrt(10.0 / 3)).epsilon(1e-15));
    CHECK(std::isnan(report::pooled_sd({{1}})));
  }
  CHECK(report::format_p(0.0213) == "p=0.021");
  CHECK(report::format_p(2.5e-5) == "p=2.5e-05");
}
