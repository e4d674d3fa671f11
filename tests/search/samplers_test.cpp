// normlab::search: RandomSampler against Optuna 3.1 (tests/golden/random_seed1998.txt), GridSampler,
// QmcSampler (unscrambled points against scipy 1.10), Space, make_sampler and the Search policies.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../golden.hpp"
#include "normlab/policy.hpp"
#include "normlab/search/samplers.hpp"
#include "normlab/search/space.hpp"

namespace search = normlab::search;

namespace {

using NotebookSpace = search::Space<search::Uniform<"mean", -3.0, 3.0>, search::LogUniform<"std", 0.1, 2.0>>;

/// Asks `sampler` for every parameter of `space` in a new trial appended to `trials`.
std::map<std::string, double> run_trial(search::Sampler& sampler, std::vector<search::FrozenTrial>& trials,
                                        const std::vector<std::pair<std::string, search::Distribution>>& space,
                                        search::TrialState final_state = search::TrialState::Complete) {
  search::FrozenTrial t;
  t.number = static_cast<int64_t>(trials.size());
  t.trial_id = t.number;
  trials.push_back(t);
  const search::StudyView view{trials, search::StudyDirection::Maximize};
  sampler.before_trial(view, trials.back());
  for (const auto& [name, dist] : space) {
    const double v = sampler.sample_independent(search::StudyView{trials, search::StudyDirection::Maximize},
                                                trials.back(), name, dist);
    trials.back().params[name] = v;
    trials.back().distributions[name] = dist;
  }
  trials.back().state = final_state;
  trials.back().value = 0.0;
  return trials.back().params;
}

}  // namespace

TEST_CASE("RandomSampler proposes exactly Optuna 3.1's points", "[search][samplers]") {
  const auto rows = normlab::testing::golden_rows("random_seed1998.txt");
  std::map<std::string, search::Distribution> params{
      {"mean", search::FloatDistribution{-3, 3, false, std::nullopt}},
      {"std", search::FloatDistribution{0.1, 2, true, std::nullopt}}};
  search::RandomSampler sampler(1998);
  std::vector<search::FrozenTrial> none;
  const search::StudyView view{none, search::StudyDirection::Maximize};
  search::FrozenTrial t;
  int compared = 0;
  for (const auto& row : rows) {
    if (row[0] != "ask") continue;
    for (std::size_t i = 2; i < row.size(); ++i) {
      const auto eq = row[i].find('=');
      const std::string name = row[i].substr(0, eq);
      const double expected = std::strtod(row[i].c_str() + eq + 1, nullptr);
      INFO("trial " << row[1] << " " << name);
      CHECK(sampler.sample_independent(view, t, name, params.at(name)) == expected);
      ++compared;
    }
  }
  CHECK(compared == 400);
}

TEST_CASE("RandomSampler: ranges, steps, ints and logs as Optuna maps them", "[search][samplers]") {
  search::RandomSampler sampler(3);
  std::vector<search::FrozenTrial> none;
  const search::StudyView view{none, search::StudyDirection::Minimize};
  search::FrozenTrial t;
  const search::FloatDistribution stepped{0.0, 1.0, false, 0.25};
  const search::IntDistribution ints{1, 5, false, 2};
  const search::IntDistribution log_ints{1, 64, true, 1};
  std::set<double> seen_stepped, seen_ints;
  for (int i = 0; i < 400; ++i) {
    const double s = sampler.sample_independent(view, t, "s", stepped);
    CHECK(std::fmod(s, 0.25) == 0.0);
    seen_stepped.insert(s);
    const double k = sampler.sample_independent(view, t, "k", ints);
    CHECK((k == 1 || k == 3 || k == 5));
    seen_ints.insert(k);
    const double w = sampler.sample_independent(view, t, "w", log_ints);
    CHECK((w >= 1 && w <= 64 && w == std::round(w)));
  }
  CHECK(seen_stepped.size() == 5);
  CHECK(seen_ints.size() == 3);
  CHECK(sampler.name() == "random");
}

TEST_CASE("Space: distributions in declaration order, checked bounds", "[search][space]") {
  using S = search::Space<search::Uniform<"mean", -3.0, 3.0>, search::LogUniform<"std", 0.1, 2.0>,
                          search::IntUniform<"n", 1, 5>, search::IntLogUniform<"width", 1, 64>,
                          search::SteppedUniform<"dropout", 0.0, 0.5, 0.1>>;
  static_assert(S::size == 5);
  static_assert(S::names[1] == "std");
  const auto d = S::distributions();
  REQUIRE(d.size() == 5);
  CHECK(d[0].first == "mean");
  CHECK(std::get<search::FloatDistribution>(d[0].second) == search::FloatDistribution{-3.0, 3.0, false, std::nullopt});
  CHECK(std::get<search::FloatDistribution>(d[1].second) == search::FloatDistribution{0.1, 2.0, true, std::nullopt});
  CHECK(std::get<search::IntDistribution>(d[2].second) == search::IntDistribution{1, 5, false, 1});
  CHECK(std::get<search::IntDistribution>(d[3].second) == search::IntDistribution{1, 64, true, 1});
  CHECK(std::get<search::FloatDistribution>(d[4].second).step == 0.1);
  // Optuna's distribution_json for the notebook's parameters.
  CHECK(search::to_json(NotebookSpace::distributions()[1].second) ==
        "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, \"low\": 0.1, \"high\": 2.0, \"log\": true}}");
}

TEST_CASE("GridSampler: every point once, in cartesian order, then wrap around", "[search][grid]") {
  const auto space = NotebookSpace::distributions();
  const auto grid = search::GridSampler::grid_of(space, 3);
  REQUIRE(grid.size() == 2);
  CHECK(grid[0].second == std::vector<double>{-3.0, 0.0, 3.0});
  REQUIRE(grid[1].second.size() == 3);
  CHECK(grid[1].second.front() == 0.1);
  CHECK(grid[1].second.back() == 2.0);
  CHECK(grid[1].second[1] == Approx(std::sqrt(0.2)));  // log-spaced

  search::GridSampler sampler(grid);
  CHECK(sampler.size() == 9);
  std::vector<search::FrozenTrial> trials;
  std::vector<std::vector<double>> visited;
  for (int i = 0; i < 9; ++i) {
    const auto p = run_trial(sampler, trials, space);
    visited.push_back({p.at("mean"), p.at("std")});
  }
  CHECK(visited == sampler.points());  // first parameter slowest, as itertools.product
  CHECK(visited[1] == std::vector<double>{-3.0, grid[1].second[1]});
  // All used: wrap around to the start.
  const auto again = run_trial(sampler, trials, space);
  CHECK(again.at("mean") == -3.0);
  CHECK(again.at("std") == 0.1);
}

TEST_CASE("GridSampler: the next point is read from the study (another process, resume)", "[search][grid]") {
  const auto space = NotebookSpace::distributions();
  const auto grid = search::GridSampler::grid_of(space, 2);
  search::GridSampler first(grid);
  std::vector<search::FrozenTrial> trials;
  run_trial(first, trials, space);
  run_trial(first, trials, space, search::TrialState::Fail);
  // A fresh sampler (another worker, or after a restart) skips the points already in the study.
  search::GridSampler second(grid);
  const auto p = run_trial(second, trials, space);
  CHECK(std::vector<double>{p.at("mean"), p.at("std")} == second.points()[2]);
  // Two trials started by one sampler before either has parameters get different points.
  search::FrozenTrial a, b;
  a.number = 10;
  b.number = 11;
  trials.push_back(a);
  trials.push_back(b);
  const search::StudyView view{trials, search::StudyDirection::Maximize};
  const double mean_a = second.sample_independent(view, trials[trials.size() - 2], "mean", space[0].second);
  const double std_a = second.sample_independent(view, trials[trials.size() - 2], "std", space[1].second);
  const double std_b = second.sample_independent(view, trials.back(), "std", space[1].second);
  CHECK(std::vector<double>{mean_a, std_a} == second.points()[3]);
  // Every point has been started: as Optuna's GridSampler, take one that has not finished yet.
  CHECK(std_b == second.points()[3][1]);
  CHECK_THROWS_AS(second.sample_independent(view, trials.back(), "lr", space[0].second), std::invalid_argument);
}

TEST_CASE("GridSampler: axes discovered from the objective, also on resume", "[search][grid]") {
  const auto space = NotebookSpace::distributions();
  search::GridSampler from_space(search::GridSampler::grid_of(space, 3));
  search::GridSampler lazy(std::size_t{3});
  std::vector<search::FrozenTrial> a, b;
  for (int i = 0; i < 5; ++i) CHECK(run_trial(lazy, b, space) == run_trial(from_space, a, space));
  CHECK(lazy.points() == from_space.points());
  search::GridSampler resumed(std::size_t{3});  // a new process on the same study
  CHECK(run_trial(resumed, b, space) == run_trial(from_space, a, space));
}

TEST_CASE("GridSampler: explicit values and discrete axes", "[search][grid]") {
  search::GridSampler explicit_grid({{"a", {1.0, 2.0}}, {"b", {10.0, 20.0, 30.0}}});
  CHECK(explicit_grid.size() == 6);
  CHECK(explicit_grid.points()[1] == std::vector<double>{1.0, 20.0});
  const auto ints = search::GridSampler::grid_of({{"n", search::IntDistribution{1, 5, false, 1}}}, 10);
  CHECK(ints[0].second == std::vector<double>{1, 2, 3, 4, 5});
  const auto coarse = search::GridSampler::grid_of({{"n", search::IntDistribution{0, 100, false, 1}}}, 3);
  CHECK(coarse[0].second == std::vector<double>{0, 50, 100});
  CHECK_THROWS_AS(search::GridSampler(search::GridSampler::Grid{{"a", {}}}), std::invalid_argument);
  CHECK_THROWS_AS(search::GridSampler(search::GridSampler::Grid{{"a", {1.0}}, {"a", {2.0}}}), std::invalid_argument);
}

TEST_CASE("QmcSampler: unscrambled points are scipy's Sobol points", "[search][qmc]") {
  // scipy.stats.qmc.Sobol(21, scramble=False).random(1100)[i][[0, 1, 2, 10, 20]] (scipy 1.10.1).
  const std::vector<std::pair<uint64_t, std::vector<double>>> expected = {
      {1, {0.5, 0.5, 0.5, 0.5, 0.5}},
      {2, {0.75, 0.25, 0.25, 0.75, 0.25}},
      {3, {0.25, 0.75, 0.75, 0.25, 0.75}},
      {5, {0.875, 0.875, 0.125, 0.375, 0.625}},
      {100, {0.4140625, 0.2578125, 0.7734375, 0.4609375, 0.7578125}},
      {1023, {0.0009765625, 0.7529296875, 0.6123046875, 0.6787109375, 0.8662109375}},
  };
  const search::QmcSampler sobol(0, false);
  const std::size_t dims[] = {0, 1, 2, 10, 20};
  for (const auto& [index, values] : expected)
    for (std::size_t k = 0; k < 5; ++k) {
      INFO("point " << index << " dimension " << dims[k]);
      CHECK(sobol.point(index, dims[k]) == values[k]);
    }
}

TEST_CASE("QmcSampler: scrambled points stay a (0,m,2)-net and follow the trial number", "[search][qmc]") {
  search::QmcSampler a(7), b(7), c(8);
  // The first 16 points of dimensions 0 and 1 put exactly one point in each 1/4 x 1/4 cell.
  std::set<std::pair<int, int>> cells;
  for (uint64_t i = 0; i < 16; ++i) cells.insert({int(a.point(i, 0) * 4), int(a.point(i, 1) * 4)});
  CHECK(cells.size() == 16);
  CHECK(a.point(5, 3) == b.point(5, 3));
  CHECK(a.point(5, 3) != c.point(5, 3));
  const auto space = NotebookSpace::distributions();
  std::vector<search::FrozenTrial> trials;
  for (int i = 0; i < 32; ++i) {
    const auto p = run_trial(a, trials, space);
    CHECK((p.at("mean") >= -3.0 && p.at("mean") < 3.0));
    CHECK((p.at("std") >= 0.1 && p.at("std") < 2.0));
  }
  search::FrozenTrial t;
  t.number = 5;
  std::vector<search::FrozenTrial> none;
  const double again = b.sample_independent({none, search::StudyDirection::Maximize}, t, "mean", space[0].second);
  CHECK(again == trials[5].params.at("mean"));  // same trial number, same point, any process
}

TEST_CASE("make_sampler builds each strategy and names the unknown ones", "[search][samplers]") {
  search::SamplerSettings settings;
  settings.space = NotebookSpace::distributions();
  for (const std::string name : {"tpe", "random", "grid", "qmc"}) {
    const auto sampler = search::make_sampler(name, 1998, settings);
    REQUIRE(sampler);
    CHECK(sampler->name() == name);
  }
  CHECK_THROWS_WITH(search::make_sampler("cmaes", 1), Catch::Contains("unknown sampler \"cmaes\""));
  CHECK(search::make_sampler("grid", 1)->name() == "grid");  // axes discovered from the objective

  // make_sampler("tpe", seed) is TPESampler(seed=seed): its first draw is the notebook's.
  const auto tpe = search::make_sampler("tpe", 1998);
  std::vector<search::FrozenTrial> none;
  search::FrozenTrial t;
  CHECK(tpe->sample_independent({none, search::StudyDirection::Maximize}, t, "mean", settings.space[0].second) ==
        0.3566734601543682);
}

namespace {
struct QuickTpe : search::TpeDefaults {
  static constexpr int n_startup_trials = 5;
};
}  // namespace

TEST_CASE("Search policies are Pipeline policies of kind Search", "[search][samplers]") {
  static_assert(normlab::policy::of_kind<search::Tpe<>, normlab::policy::Search>);
  static_assert(normlab::policy::of_kind<search::Random, normlab::policy::Search>);
  static_assert(normlab::policy::of_kind<search::Grid<NotebookSpace, 4>, normlab::policy::Search>);
  static_assert(normlab::policy::of_kind<search::Qmc, normlab::policy::Search>);
  static_assert(normlab::policy::any<search::Qmc>);
  CHECK(search::Tpe<QuickTpe>::options(1).n_startup_trials() == 5);
  CHECK(search::Tpe<>::make(1)->name() == "tpe");
  CHECK(search::Random::make(1)->name() == "random");
  CHECK(search::Qmc::make(1)->name() == "qmc");
  const auto grid = search::Grid<NotebookSpace, 4>::make(0);
  CHECK(dynamic_cast<search::GridSampler&>(*grid).size() == 16);
}
