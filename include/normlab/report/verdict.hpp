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
  double noise_sd = 0;         ///< the seed noise: sqrt of the within-cell mean square
  double best_cell = 0;        ///< the best cell's mean accuracy
  int cells = 0;
  int cells_within_noise = 0;  ///< cells whose mean is within two standard errors of a difference of the best
  int cells_at_chance = 0;     ///< cells whose mean is at most chance + 0.05
};

/**
 * Reads y[mean][std][seed] (accuracies) of one compensation. A cell is within noise of the best
 * when its mean is at least best - 2 * sqrt(2 * MS_within / R) (two standard errors of the
 * difference of two cell means); at chance when its mean is at most `chance` + 0.05.
 */
inline Finding find(const std::string& compensation, const std::vector<std::vector<std::vector<double>>>& y,
                    double chance = 0.1) {
  Finding f;
  f.compensation = compensation;
  f.anova = two_way_anova(y, "mean", "std");
  f.noise_sd = std::sqrt(f.anova.residual.mean_sq);
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
  const double band = 2 * std::sqrt(2 * f.anova.residual.mean_sq / r);
  for (double m : cell_means) {
    f.cells_within_noise += m >= f.best_cell - band;
    f.cells_at_chance += m <= chance + 0.05;
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
  char tail[256];
  std::snprintf(tail, sizeof tail,
                "; seed noise sd %.4f; %d of %d cells within noise of the best (%.4f), %d at chance", f.noise_sd,
                f.cells_within_noise, f.cells, f.best_cell, f.cells_at_chance);
  return "with the " + f.compensation + " compensation, " + factor_clause(f.anova.a, alpha) + ", " +
         factor_clause(f.anova.b, alpha) + ", their interaction " +
         (f.anova.interaction.p < alpha ? std::string("matters") : std::string("does not")) + " (" +
         format_p(f.anova.interaction.p) + ")" + tail;
}

}  // namespace normlab::report
