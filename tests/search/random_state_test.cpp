// normlab::search::RandomState against numpy.random.RandomState (numpy 1.24):
// tests/golden/random_state.txt, written by scripts/golden/tpe_golden.py. Bit for bit.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../golden.hpp"
#include "normlab/search/random_state.hpp"

using normlab::search::RandomState;

namespace {

double parse_double(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, sep);) parts.push_back(part);
  return parts;
}

}  // namespace

TEST_CASE("RandomState reproduces numpy's seeding and draws", "[search][random_state]") {
  const auto rows = normlab::testing::golden_rows("random_state.txt");
  std::optional<RandomState> rs;
  std::string label;
  int checked = 0;
  for (const auto& row : rows) {
    const std::string& kind = row[0];
    if (kind == "seed") {
      label = "seed " + row[1];
      rs.emplace(std::stoull(row[1]));
    } else if (kind == "seed_array") {
      label = "seed_array " + row[1].substr(0, 40);
      std::vector<uint32_t> keys;
      for (const auto& k : split(row[1], ',')) keys.push_back(static_cast<uint32_t>(std::stoull(k)));
      rs.emplace(RandomState::from_array(keys));
    } else if (kind == "key") {
      INFO(label);
      for (std::size_t i = 1; i < row.size(); ++i) CHECK(rs->key()[i - 1] == std::stoull(row[i]));
    } else if (kind == "sample") {
      INFO(label);
      for (std::size_t i = 1; i < row.size(); ++i) CHECK(rs->random_sample() == parse_double(row[i]));
      ++checked;
    } else if (kind == "uniform") {
      INFO(label);
      const double low = parse_double(row[1]), high = parse_double(row[2]);
      for (std::size_t i = 3; i < row.size(); ++i) CHECK(rs->uniform(low, high) == parse_double(row[i]));
      ++checked;
    } else if (kind == "choice") {
      INFO(label << " choice n=" << row[1]);
      const auto n = std::stoul(row[1]), size = std::stoul(row[2]);
      std::vector<double> p;
      for (const auto& v : split(row[3], ',')) p.push_back(parse_double(v));
      const auto idx = rs->choice(n, size, p);
      REQUIRE(idx.size() == row.size() - 4);
      for (std::size_t i = 0; i < idx.size(); ++i) CHECK(idx[i] == std::stoul(row[4 + i]));
      ++checked;
    } else if (kind == "skip") {
      for (int i = 0, k = std::stoi(row[1]); i < k; ++i) rs->random_sample();
    }
  }
  CHECK(checked >= 7 * 6);
}

TEST_CASE("RandomState(int) is the standard MT19937 stream", "[search][random_state]") {
  RandomState rs(5489);
  std::mt19937 reference(5489);
  for (int i = 0; i < 2000; ++i) REQUIRE(rs.next_uint32() == reference());
}

TEST_CASE("RandomState seeds of 2**32 or more are numpy's two-word array seeds", "[search][random_state]") {
  const uint64_t seed = (uint64_t{1} << 40) + 12345;
  RandomState a(seed);
  const uint32_t words[2] = {static_cast<uint32_t>(seed & 0xffffffffULL), static_cast<uint32_t>(seed >> 32)};
  RandomState b = RandomState::from_array(words);
  for (int i = 0; i < 10; ++i) CHECK(a.random_sample() == b.random_sample());
  a.seed_with(7);
  RandomState c(7);
  CHECK(a.random_sample() == c.random_sample());
}

TEST_CASE("RandomState rejects what numpy rejects", "[search][random_state]") {
  RandomState rs(1);
  const std::vector<double> bad_sum{0.5, 0.4};
  const std::vector<double> negative{1.5, -0.5};
  CHECK_THROWS_AS(rs.choice(2, 3, bad_sum), std::invalid_argument);
  CHECK_THROWS_AS(rs.choice(2, 3, negative), std::invalid_argument);
  CHECK_THROWS_AS(rs.choice(3, 3, bad_sum), std::invalid_argument);
  CHECK_THROWS_AS(rs.uniform(-1e308, 1e308), std::overflow_error);
  CHECK_THROWS_AS(RandomState::from_array({}), std::invalid_argument);
}
