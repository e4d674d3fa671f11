#pragma once
// The designed experiment behind the answer report: a G x G grid over the notebook's space (mean
// evenly spaced in [-3, 3], std evenly spaced in log over [0.1, 2], the space's own scales), R
// seeds per cell, the same seeds in every cell and for every compensation, so that the within-cell
// spread is the seed noise and the two-way ANOVA (anova.hpp) can test mean, std and their
// interaction against it.

#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "normlab/report/anova.hpp"

namespace normlab::report {

/// One training run of the report: a compensation, a seed and a (mean, std), and what it scored.
struct GridRun {
  std::string compensation;
  uint64_t seed = 0;
  double mean = 0, std = 1;
  double accuracy = 0;
  int64_t correct = 0, total = 0;
  bool diverged = false;  ///< a NaN loss stopped it: it scores chance (1 / classes), see the report
};

/// The noise floor's (mean, std) points, each trained with many seeds: the notebook's
/// (0.1307, 0.3081) and (0, 1), where every compensation is the identity.
inline constexpr std::array<std::pair<double, double>, 2> kNoiseFloorPoints = {{{0.1307, 0.3081}, {0.0, 1.0}}};

/// The grid's levels and the seeds of each cell.
struct GridDesign {
  std::vector<double> means;     ///< G values, evenly spaced in [-3, 3]
  std::vector<double> stds;      ///< G values, evenly spaced in log over [0.1, 2]
  std::vector<uint64_t> seeds;   ///< R seeds: first_seed, first_seed + 1, ...
};

/// The notebook's space as a G x G grid with R seeds per cell (G >= 2, R >= 2: the ANOVA needs two
/// levels of each factor and two replicates per cell).
inline GridDesign notebook_grid(int g, int r, uint64_t first_seed = 1) {
  if (g < 2) throw std::invalid_argument("the report's grid needs G >= 2 (got " + std::to_string(g) + ")");
  if (r < 2) throw std::invalid_argument("the report needs R >= 2 seeds per cell (got " + std::to_string(r) + ")");
  GridDesign d;
  for (int i = 0; i < g; ++i) {
    const double t = static_cast<double>(i) / (g - 1);
    d.means.push_back(i == g - 1 ? 3.0 : -3.0 + 6.0 * t);
    d.stds.push_back(i == 0 ? 0.1 : i == g - 1 ? 2.0 : std::exp(std::log(0.1) + t * (std::log(2.0) - std::log(0.1))));
  }
  for (int k = 0; k < r; ++k) d.seeds.push_back(first_seed + static_cast<uint64_t>(k));
  return d;
}

/// The accuracies of one compensation's runs as y[mean][std][seed] for two_way_anova; every cell
/// of the design must have a run for every seed.
inline std::vector<std::vector<std::vector<double>>> grid_cells(const GridDesign& d, const std::vector<GridRun>& runs,
                                                                const std::string& compensation) {
  std::map<std::tuple<double, double, uint64_t>, double> by_key;
  for (const auto& r : runs)
    if (r.compensation == compensation) by_key[{r.mean, r.std, r.seed}] = r.accuracy;
  std::vector<std::vector<std::vector<double>>> y(d.means.size(), std::vector<std::vector<double>>(d.stds.size()));
  for (std::size_t i = 0; i < d.means.size(); ++i)
    for (std::size_t j = 0; j < d.stds.size(); ++j)
      for (uint64_t seed : d.seeds) {
        const auto it = by_key.find({d.means[i], d.stds[j], seed});
        if (it == by_key.end())
          throw std::invalid_argument("grid_cells: no " + compensation + " run at mean " + std::to_string(d.means[i]) +
                                      ", std " + std::to_string(d.stds[j]) + ", seed " + std::to_string(seed));
        y[i][j].push_back(it->second);
      }
  return y;
}

}  // namespace normlab::report
