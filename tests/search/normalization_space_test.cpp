// normlab/search/normalization_space.hpp: the (mean, std) parameters, named once.
#include <catch2/catch.hpp>

#include <normlab/search/normalization_space.hpp>
#include <string>

using namespace normlab;

TEST_CASE("the notebook's space: mean uniform in [-3, 3], std log-uniform in [0.1, 2], named once",
          "[search]") {
  REQUIRE(search::NotebookSpace::names[0] == search::kMeanParam);
  REQUIRE(search::NotebookSpace::names[1] == search::kStdParam);
  REQUIRE(std::string(search::kMeanParam) == "mean");  // what Optuna's study files and the notebook call them
  REQUIRE(std::string(search::kStdParam) == "std");
  const auto d = search::NotebookSpace::distributions();
  const auto& mean = std::get<search::FloatDistribution>(d[0].second);
  const auto& std = std::get<search::FloatDistribution>(d[1].second);
  REQUIRE(mean.low == -3.0);
  REQUIRE(mean.high == 3.0);
  REQUIRE_FALSE(mean.log);
  REQUIRE(std.low == 0.1);
  REQUIRE(std.high == 2.0);
  REQUIRE(std.log);
  const auto params = search::normalization_params(0.1307, 0.3081);
  REQUIRE(params.size() == 2);
  REQUIRE(params.at("mean") == 0.1307);
  REQUIRE(params.at("std") == 0.3081);
}
