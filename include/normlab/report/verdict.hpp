#pragma once
// The answer report's verdict: from one compensation's grid (grid_design.hpp) and its ANOVA
// (anova.hpp), a sentence that says whether mean and std move accuracy beyond the seed noise,
// with the numbers that decide it, and where: how many cells are within noise of the best one
// and how many fall to chance.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "normlab/report/anova.hpp"

namespace normlab::report {

/// What one compensation's grid says.
struct Finding {
  std::string compensation;
  AnovaTable anova;
  double noise_sd = 0;         ///< sqrt of the grid's within-cell (seed) mean square, pooled over all cells
  /// The noise floor: the seed sd of the same (mean, std) trained many times (pooled over the noise
  /// floor's points); NaN when find() was not given it. The best-cell band uses it when known.
  double noise_floor_sd = NAN;
  double best_cell = 0;        ///< the best cell's mean accuracy
  int cells = 0;
  int cells_within_noise = 0;  ///< cells whose mean is within two standard errors of a difference of the best
  int cells_at_chance = 0;     ///< cells whose mean is at most chance + 0.05
  int cells_unstable = 0;      ///< cells where one seed is at chance (+ 0.05) and another above chance + 0.2
  /// Where those cells lie, "mean -3 (every std), mean 3 (std 0.1, 0.21)"; empty when find() was not
  /// given the levels, or there is no such cell.
  std::string where_within_noise, where_at_chance, where_unstable;
};

/// The pooled sample sd of groups of replicates (sqrt of the summed squares about each group's
/// mean over the summed n - 1): the seed noise of points trained several times. NaN without a group
/// of two or more.
inline double pooled_sd(const std::vector<std::vector<double>>& groups) {
  double ss = 0, df = 0;
  for (const auto& g : groups) {
    if (g.size() < 2) continue;
    double mean = 0;
    for (double v : g) mean += v / static_cast<double>(g.size());
    for (double v : g) ss += (v - mean) * (v - mean);
    df += static_cast<double>(g.size() - 1);
  }
  return df > 0 ? std::sqrt(ss / df) : NAN;
}

/// Where the flagged cells (flags[i][j] for means[i], stds[j]) lie, by mean level: "mean -3 (every
/// std), mean 1.5 (std 0.1, 0.21)"; empty when none is flagged.
inline std::string cell_region(const std::vector<std::vector<bool>>& flags, const std::vector<double>& means,
                               const std::vector<double>& stds) {
  std::string out;
  char buffer[32];
  for (std::size_t i = 0; i < flags.size(); ++i) {
    std::string levels;
    int flagged = 0;
    for (std::size_t j = 0; j < flags[i].size(); ++j)
      if (flags[i][j]) {
        std::snprintf(buffer, sizeof buffer, "%.2g", stds[j]);
        levels += (flagged++ ? ", " : "") + std::string(buffer);
      }
    if (!flagged) continue;
    std::snprintf(buffer, sizeof buffer, "%.3g", means[i]);
    out += (out.empty() ? "mean " : ", mean ") + std::string(buffer) + " (" +
           (flagged == static_cast<int>(flags[i].size()) ? std::string("every std") : "std " + levels) + ")";
  }
  return out;
}

/**
 * Reads y[mean][std][seed] (accuracies) of one compensation. A cell is within noise of the best
 * when its mean is at least best - 2 * sd * sqrt(2 / R) (two standard errors of the difference of
 * two cell means), sd being the noise floor's `noise_floor_sd` when given (finite), else the grid's
 * pooled within-cell sd; at chance when its mean is at most `chance` + 0.05; unstable when one of
 * its seeds is at chance and another clearly above (chance + 0.2). Given the grid's levels
 * (`means`, `stds`), the finding also says where those cells lie.
 */
inline Finding find(const std::string& compensation, const std::vector<std::vector<std::vector<double>>>& y,
                    double chance = 0.1, const std::vector<double>& means = {}, const std::vector<double>& stds = {},
                    double noise_floor_sd = NAN) {
  Finding f;
  f.compensation = compensation;
  f.anova = two_way_anova(y, "mean", "std");
  f.noise_sd = std::sqrt(f.anova.residual.mean_sq);
  f.noise_floor_sd = noise_floor_sd;
  std::vector<double> cell_means;
  for (const auto& row : y)
    for (const auto& cell : row) {
      double sum = 0;
      for (double v : cell) sum += v;
      cell_means.push_back(sum / static_cast<double>(cell.size()));
    }
  const double r = static_cast<double>(y[0][0].size());
  f.cells = static_cast<int>(cell_means.size());
  f.best_cell = *std::max_element(cell_means.begin(), cell_means.end());
  const double sd = std::isfinite(noise_floor_sd) ? noise_floor_sd : f.noise_sd;
  const double band = 2 * sd * std::sqrt(2 / r);
  std::vector<std::vector<bool>> near(y.size()), low(y.size()), unstable(y.size());
  for (std::size_t i = 0, k = 0; i < y.size(); ++i)
    for (std::size_t j = 0; j < y[i].size(); ++j, ++k) {
      const auto [lo, hi] = std::minmax_element(y[i][j].begin(), y[i][j].end());
      near[i].push_back(cell_means[k] >= f.best_cell - band);
      low[i].push_back(cell_means[k] <= chance + 0.05);
      unstable[i].push_back(*lo <= chance + 0.05 && *hi > chance + 0.2);
      f.cells_within_noise += near[i].back();
      f.cells_at_chance += low[i].back();
      f.cells_unstable += unstable[i].back();
    }
  if (means.size() == y.size() && !y.empty() && stds.size() == y[0].size()) {
    f.where_within_noise = cell_region(near, means, stds);
    f.where_at_chance = cell_region(low, means, stds);
    f.where_unstable = cell_region(unstable, means, stds);
  }
  return f;
}

/// "p=0.0021", "p<1e-12" below what doubles resolve meaningfully.
inline std::string format_p(double p) {
  char buffer[32];
  if (std::isnan(p)) return "p=n/a";
  if (p < 1e-12) return "p<1e-12";
  std::snprintf(buffer, sizeof buffer, p < 1e-3 ? "p=%.1e" : "p=%.3f", p);
  return buffer;
}

/// One factor's clause: "mean matters (F=12.30, p=1.2e-05, eta2=0.41)".
inline std::string factor_clause(const AnovaRow& row, double alpha) {
  char buffer[160];
  const bool matters = row.p < alpha;
  std::snprintf(buffer, sizeof buffer, "%s %s (F=%.2f, %s, eta2=%.2f)", row.source.c_str(),
                matters ? "matters" : "does not matter beyond seed noise", row.f, format_p(row.p).c_str(),
                row.eta_sq);
  return buffer;
}

/// The finding as one sentence, factors judged at significance `alpha`.
inline std::string sentence(const Finding& f, double alpha = 0.01) {
  const auto where = [](const std::string& region) { return region.empty() ? std::string() : ": " + region; };
  char noise[160], cells[256];
  if (std::isfinite(f.noise_floor_sd))
    std::snprintf(noise, sizeof noise, "; seed noise sd %.4f at the noise floor's points, %.4f pooled over the grid's cells",
                  f.noise_floor_sd, f.noise_sd);
  else
    std::snprintf(noise, sizeof noise, "; seed noise sd %.4f", f.noise_sd);
  std::snprintf(cells, sizeof cells, "; %d of %d cells within noise of the best (%.4f)", f.cells_within_noise, f.cells,
                f.best_cell);
  std::string out = "with the " + f.compensation + " compensation, " + factor_clause(f.anova.a, alpha) + ", " +
                    factor_clause(f.anova.b, alpha) + ", their interaction " +
                    (f.anova.interaction.p < alpha ? std::string("matters") : std::string("does not")) + " (" +
                    format_p(f.anova.interaction.p) + ")" + noise + cells + where(f.where_within_noise) + "; " +
                    std::to_string(f.cells_at_chance) + " at chance" + where(f.where_at_chance);
  if (f.cells_unstable > 0)
    out += "; " + std::to_string(f.cells_unstable) + " unstable (a seed at chance, another not)" + where(f.where_unstable);
  return out;
}

}  // namespace normlab::report
