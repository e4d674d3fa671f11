#pragma once
// The answer report's pictures, beside report.md: one contour per compensation of the grid's cell
// means (all on one colour scale, so the compensations compare by colour), the noise floor as
// histograms, and each TPE study's history. Needs normlab::plot (cairo); without it there are none
// and report.md says so by showing none.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "normlab/report/grid_design.hpp"
#include "normlab/report/report_files.hpp"
#include "normlab/report/study_summary.hpp"
#include "normlab/search/normalization_space.hpp"
#if NORMLAB_HAVE_PLOT
#include "normlab/plot/contour.hpp"
#include "normlab/plot/histogram.hpp"
#include "normlab/plot/history.hpp"
#endif

namespace normlab::report {

/**
 * Writes the pictures of a report into `folder` and returns their file names, one row per kind
 * (contours, noise floor, TPE histories), in the order report.md shows them.
 * @param compensations the report's compensations, in its order
 */
inline std::vector<std::vector<std::string>> write_report_pictures(const std::filesystem::path& folder,
                                                                   const GridDesign& design,
                                                                   const std::vector<GridRun>& grid,
                                                                   const std::vector<GridRun>& noise,
                                                                   const std::vector<std::string>& compensations,
                                                                   const std::vector<TpeStudy>& studies) {
  std::vector<std::vector<std::string>> rows;
#if NORMLAB_HAVE_PLOT
  double lo = 1, hi = 0;
  for (const auto& run : grid) lo = std::min(lo, run.accuracy), hi = std::max(hi, run.accuracy);
  std::vector<std::string> contours;
  for (const auto& compensation : compensations) {
    const auto y = grid_cells(design, grid, compensation);
    std::vector<study::FrozenTrial> cells;
    for (std::size_t i = 0; i < design.means.size(); ++i)
      for (std::size_t j = 0; j < design.stds.size(); ++j) {
        study::FrozenTrial t;
        t.number = static_cast<int64_t>(cells.size());
        t.state = study::TrialState::Complete;
        t.params = search::normalization_params(design.means[i], design.stds[j]);
        t.distributions = {{search::kMeanParam, search::FloatDistribution{-3, 3}},
                           {search::kStdParam, search::FloatDistribution{0.1, 2, true}}};
        t.value = spread_of(y[i][j]).mean;
        cells.push_back(t);
      }
    plot::ContourOptions c;
    c.direction = study::StudyDirection::Maximize;
    c.target_name = "Accuracy";
    c.title = compensation + " compensation: mean accuracy of " + std::to_string(design.seeds.size()) + " seeds";
    if (hi > lo) c.value_range = std::pair{lo, hi};
    contours.push_back("contour-" + compensation + ".png");
    plot::plot_contour(cells, search::kMeanParam, search::kStdParam, (folder / contours.back()).string(), c);
  }
  rows.push_back(contours);

  // The noise floor: one histogram per compensation (its two points), all on one range.
  double noise_lo = INFINITY, noise_hi = -INFINITY;
  for (const auto& r : noise) noise_lo = std::min(noise_lo, r.accuracy), noise_hi = std::max(noise_hi, r.accuracy);
  std::vector<std::string> floors;
  for (const auto& compensation : compensations) {
    std::vector<plot::HistogramSeries> groups;
    for (auto [m, s] : kNoiseFloorPoints) {
      char label[64];
      std::snprintf(label, sizeof label, "(%g, %g)", m, s);
      plot::HistogramSeries g{label, {}};
      for (const auto& r : noise)
        if (r.compensation == compensation && r.mean == m && r.std == s) g.values.push_back(r.accuracy);
      if (!g.values.empty()) groups.push_back(std::move(g));
    }
    if (groups.empty()) continue;
    plot::HistogramOptions h;
    h.bins = 10;
    h.range = std::pair{noise_lo, noise_hi};
    h.x_label = "Accuracy";
    h.y_label = "Seeds";
    h.title = "Noise floor, " + compensation + " compensation";
    h.width = 640;
    floors.push_back("noise_floor-" + compensation + ".png");
    plot::plot_histogram(groups, folder / floors.back(), h);
  }
  if (!floors.empty()) rows.push_back(floors);

  std::vector<std::string> histories;
  for (const auto& s : studies) {
    const bool any = std::any_of(s.trials.begin(), s.trials.end(), [](const study::FrozenTrial& t) {
      return t.state == study::TrialState::Complete && t.value;
    });
    if (!any) continue;
    plot::HistoryOptions h;
    h.study_name = "TPE, " + s.compensation + " compensation";
    h.target_name = "Accuracy";
    h.direction = study::StudyDirection::Maximize;
    histories.push_back("tpe-history-" + s.compensation + ".png");
    plot::plot_optimization_history(s.trials, folder / histories.back(), h);
  }
  if (!histories.empty()) rows.push_back(histories);
#else
  (void)folder, (void)design, (void)grid, (void)noise, (void)compensations, (void)studies;
#endif
  return rows;
}

}  // namespace normlab::report
