// normlab/study/known_distributions.hpp: what the SQLite and PostgreSQL storages remember of the
// distributions they read, and the search-space check against a study's first row.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "normlab/search/distribution.hpp"
#include "normlab/study/known_distributions.hpp"

using normlab::search::FloatDistribution;
using normlab::search::IntDistribution;
using normlab::study::SearchSpaceError;
using normlab::study::SpaceCheck;
using normlab::study::detail::KnownDistributions;

namespace {
const std::string kStdJson = normlab::search::to_json(FloatDistribution{0.1, 2.0, true});
}

TEST_CASE("known distributions: a JSON text parses to the distribution it stores", "[study]") {
  KnownDistributions known;
  const auto& d = known.parse(kStdJson);
  const auto* f = std::get_if<FloatDistribution>(&d);
  REQUIRE(f != nullptr);
  CHECK(f->low == 0.1);
  CHECK(f->high == 2.0);
  CHECK(f->log);
  CHECK(&known.parse(kStdJson) == &d);  // parsed once
  CHECK_THROWS(known.parse("{\"name\": \"FloatDistribution\""));
}

TEST_CASE("known distributions: the first row is asked for once, then checked against", "[study]") {
  KnownDistributions known;
  int asked = 0;
  auto first_row = [&]() -> std::optional<std::string> {
    ++asked;
    return kStdJson;
  };
  known.check(1, "s", "std", FloatDistribution{0.1, 2.0, true}, SpaceCheck::Strict, first_row);
  known.check(1, "s", "std", FloatDistribution{0.1, 2.0, true}, SpaceCheck::Strict, first_row);
  CHECK(asked == 1);
  CHECK_THROWS_AS(known.check(1, "s", "std", FloatDistribution{0.1, 3.0, true}, SpaceCheck::Strict, first_row),
                  SearchSpaceError);
  CHECK_THROWS_WITH(known.check(1, "s", "std", FloatDistribution{0.1, 2.0, false}, SpaceCheck::KindAndLog, first_row),
                    Catch::Contains("log"));
  CHECK_NOTHROW(known.check(1, "s", "std", FloatDistribution{0.1, 3.0, true}, SpaceCheck::KindAndLog, first_row));
  CHECK_THROWS_WITH(known.check(1, "s", "std", IntDistribution{1, 5}, SpaceCheck::KindAndLog, first_row),
                    Catch::Contains("kind"));
  CHECK(asked == 1);
  known.check(2, "other", "std", FloatDistribution{0.1, 2.0, true}, SpaceCheck::Strict, first_row);  // another study
  CHECK(asked == 2);
  known.forget();
  known.check(1, "s", "std", FloatDistribution{0.1, 2.0, true}, SpaceCheck::Strict, first_row);
  CHECK(asked == 3);
}

TEST_CASE("known distributions: a name no row stores yet accepts anything and is asked again", "[study]") {
  KnownDistributions known;
  int asked = 0;
  auto no_row = [&]() -> std::optional<std::string> {
    ++asked;
    return std::nullopt;
  };
  CHECK_NOTHROW(known.check(1, "s", "mean", FloatDistribution{-3.0, 3.0}, SpaceCheck::Strict, no_row));
  CHECK_NOTHROW(known.check(1, "s", "mean", IntDistribution{0, 3}, SpaceCheck::Strict, no_row));
  CHECK(asked == 2);
}
