#include <catch2/catch.hpp>
#include <normlab/study/pruners.hpp>
#include <sstream>

#include "../golden.hpp"

using namespace normlab;
using namespace normlab::study;

namespace {
std::map<int64_t, double> parse_values(const std::string& text) {
  std::map<int64_t, double> out;
  if (text == "-") return out;
  std::istringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto colon = item.find(':');
    const auto v = item.substr(colon + 1);
    out[std::stoll(item.substr(0, colon))] = v == "nan" ? std::nan("") : std::stod(v);
  }
  return out;
}
}  // namespace

TEST_CASE("PercentilePruner decides as Optuna 3.1 on 120 random studies", "[study][pruner]") {
  const auto rows = testing::golden_rows("pruners.txt");
  int cases = 0, pruned = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i][0] != "case") continue;
    const auto& c = rows[i];
    const auto direction = c[1] == "maximize" ? StudyDirection::Maximize : StudyDirection::Minimize;
    PercentilePruner pruner(std::stod(c[2]), std::stoi(c[3]), std::stoi(c[4]), std::stoi(c[5]), std::stoi(c[6]));
    std::vector<FrozenTrial> trials;
    FrozenTrial candidate;
    std::size_t j = i + 1;
    for (; j < rows.size() && rows[j][0] == "trial"; ++j) {
      FrozenTrial t;
      t.state = TrialState::Complete;
      t.intermediate_values = parse_values(rows[j][1]);
      trials.push_back(t);
    }
    REQUIRE(rows[j][0] == "candidate");
    candidate.intermediate_values = parse_values(rows[j][1]);
    trials.push_back(candidate);
    const bool expected = c[7] == "1";
    INFO("case " << cases);
    REQUIRE(pruner.prune(PruneContext{trials, direction, {}}, candidate) == expected);
    ++cases;
    pruned += expected;
  }
  REQUIRE(cases == 120);
  REQUIRE(pruned > 10);
}

TEST_CASE("nanpercentile is numpy's linear interpolation without NaN", "[study][pruner]") {
  REQUIRE(study::detail::nanpercentile({1, 2, 3, 4}, 50) == 2.5);
  REQUIRE(study::detail::nanpercentile({4, std::nan(""), 1, 3, 2}, 25) == 1.75);
  REQUIRE(std::isnan(study::detail::nanpercentile({std::nan("")}, 50)));
}

TEST_CASE("SuccessiveHalvingPruner promotes the top 1/reduction_factor of each rung", "[study][pruner]") {
  // min_resource 1, reduction 2: rung 0 is judged at step >= 1, rung 1 at step >= 2.
  std::vector<FrozenTrial> trials(4);
  for (int i = 0; i < 3; ++i) {
    trials[i].trial_id = i;
    trials[i].state = TrialState::Complete;
    trials[i].system_attrs["completed_rung_0"] = std::to_string(0.5 + 0.1 * i);  // 0.5, 0.6, 0.7
  }
  std::vector<std::pair<int64_t, std::string>> written;
  auto record = [&](int64_t id, const std::string& key, const std::string&) { written.emplace_back(id, key); };

  SuccessiveHalvingPruner sha(1, 2);
  FrozenTrial& weak = trials[3];
  weak.trial_id = 3;
  weak.intermediate_values = {{0, 0.1}, {1, 0.55}};
  // competing at rung 0: 0.5, 0.6, 0.7, 0.55 -> promotable index 4/2-1 = 1 -> needs >= 0.6.
  REQUIRE(sha.prune(PruneContext{trials, StudyDirection::Maximize, record}, weak));
  REQUIRE(written == std::vector<std::pair<int64_t, std::string>>{{3, "completed_rung_0"}});

  FrozenTrial strong = weak;
  strong.intermediate_values = {{0, 0.1}, {1, 0.65}};
  written.clear();
  // Promoted at rung 0; rung 1 needs step >= 2, so it goes on.
  REQUIRE_FALSE(sha.prune(PruneContext{trials, StudyDirection::Maximize, record}, strong));
  REQUIRE(written.size() == 1);
  // Minimizing, the same 0.55 is among the best half.
  REQUIRE_FALSE(SuccessiveHalvingPruner(1, 2).prune(PruneContext{trials, StudyDirection::Minimize, record}, weak));
  // No intermediate value yet: nothing to judge.
  FrozenTrial fresh;
  REQUIRE_FALSE(sha.prune(PruneContext{trials, StudyDirection::Maximize, record}, fresh));
  REQUIRE_THROWS_WITH(SuccessiveHalvingPruner(0), Catch::Contains("min_resource >= 1"));
  REQUIRE_THROWS_WITH(PercentilePruner(150), Catch::Contains("between 0 and 100"));
}

TEST_CASE("make_pruner by name: none, median and sha, and a sentence for others", "[study][pruner]") {
  CHECK(make_pruner("none") == nullptr);
  CHECK(dynamic_cast<RulePruner<MedianPruner>*>(make_pruner("median").get()) != nullptr);
  CHECK(dynamic_cast<RulePruner<SuccessiveHalvingPruner>*>(make_pruner("sha").get()) != nullptr);
  CHECK_THROWS_WITH(make_pruner("hyperband"),
                    "normlab::make_pruner: unknown pruner \"hyperband\" (expected \"none\", \"median\" or \"sha\")");
}
