// normlab/plot/ticks.hpp: log-axis ticks against matplotlib 3.6's own, which
// scripts/golden/plot_ticks_golden.py wrote to tests/golden/plot_log_ticks.txt (positions, major or
// minor, labels, for 23 views and two label thresholds). Plain C++: runs without cairo too.
#include <catch2/catch.hpp>
#include <normlab/plot/ticks.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "../golden.hpp"

using namespace normlab;

namespace {

/// A tick's label as the golden file writes it: "2x10^-1", "10^0", "-" for none.
std::string plain(const plot::Tick& t) {
  if (t.text.empty()) return "-";
  std::string s = t.text + (t.superscript.empty() ? "" : "^" + t.superscript);
  for (const auto& [from, to] : {std::pair<std::string, std::string>{"\u00d7", "x"}, {"\u2212", "-"}})
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from)) s.replace(at, from.size(), to);
  return s;
}

std::vector<std::string> labels(const std::vector<plot::Tick>& ticks) {
  std::vector<std::string> out;
  for (const auto& t : ticks)
    if (!t.text.empty()) out.push_back(plain(t));
  return out;
}

}  // namespace

TEST_CASE("log-axis ticks and labels are matplotlib 3.6's for every golden view", "[plot][ticks]") {
  const auto rows = testing::golden_rows("plot_log_ticks.txt");
  int cases = 0, ticks_checked = 0;
  for (std::size_t r = 0; r < rows.size();) {
    REQUIRE(rows[r][0] == "case");
    const double lo = std::stod(rows[r][1]), hi = std::stod(rows[r][2]);
    const int numticks = std::stoi(rows[r][3]);
    const plot::LogLabelThresholds thresholds{std::stod(rows[r][4]), std::stod(rows[r][5])};
    std::vector<std::vector<std::string>> expected;
    for (++r; r < rows.size() && rows[r][0] == "tick"; ++r) expected.push_back(rows[r]);
    const auto got = plot::log_ticks(lo, hi, numticks, thresholds);
    INFO("view " << lo << " .. " << hi << ", numticks " << numticks << ", thresholds (" << thresholds.subset
                 << ", " << thresholds.all << ")");
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO("tick " << i << ": matplotlib " << expected[i][1] << " " << expected[i][2] << " " << expected[i][3]);
      const double value = std::stod(expected[i][1]);
      CHECK(std::fabs(got[i].value - value) <= 1e-12 * value);
      CHECK(got[i].major == (expected[i][2] == "major"));
      CHECK(plain(got[i]) == expected[i][3]);
      ++ticks_checked;
    }
    ++cases;
  }
  CHECK(cases == 23);
  CHECK(ticks_checked == 328);
}

TEST_CASE("a std axis from 0.1 to 2 can be read with the readable thresholds", "[plot][ticks]") {
  // matplotlib's default (1, 0.4): the view spans 1.3 decades, so only powers of ten are labelled.
  CHECK(labels(plot::log_ticks(0.1, 2, 9)) == std::vector<std::string>{"10^-1", "10^0"});
  // (2, 0.4), what normlab's plots use: 2, 3, 4 and 6 x 10^k as well.
  const auto readable = plot::log_ticks(0.1, 2, 9, plot::LogLabelThresholds::readable());
  CHECK(labels(readable) ==
        std::vector<std::string>{"10^-1", "2x10^-1", "3x10^-1", "4x10^-1", "6x10^-1", "10^0", "2x10^0"});
  CHECK(readable.size() == 11);  // 0.1, 0.2 ... 0.9, 1, 2
  CHECK(readable[1].value == Approx(0.2));
  CHECK(readable[1].text == "2\u00d710");  // U+00D7 and U+2212 as matplotlib's mathtext draws them
  CHECK(readable[1].superscript == "\u22121");
  CHECK_FALSE(readable[1].major);
  // Beyond two decades the readable thresholds label only powers of ten, as matplotlib's do.
  CHECK(labels(plot::log_ticks(3, 700, 9, plot::LogLabelThresholds::readable())) ==
        std::vector<std::string>{"10^1", "10^2"});
  REQUIRE_THROWS_AS(plot::log_ticks(0, 1, 9), std::invalid_argument);
  REQUIRE_THROWS_AS(plot::log_ticks(2, 1, 9), std::invalid_argument);
}

TEST_CASE("fixed_locator thins a colour bar's levels as matplotlib's FixedLocator(nbins=10)", "[plot][ticks]") {
  // The expected ticks are matplotlib 3.6.3's FixedLocator(np.arange(a, b), nbins=10).tick_values().
  const auto range = [](int a, int b) {
    std::vector<double> v;
    for (int i = a; i < b; ++i) v.push_back(i);
    return v;
  };
  CHECK(plot::fixed_locator(range(-5, 16), 10) == std::vector<double>{-3, 0, 3, 6, 9, 12, 15});
  CHECK(plot::fixed_locator(range(0, 5), 10) == std::vector<double>{0, 1, 2, 3, 4});
  CHECK(plot::fixed_locator(range(-10, 12), 10) == std::vector<double>{-9, -6, -3, 0, 3, 6, 9});
}
