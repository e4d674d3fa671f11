#pragma once
// What the study examples show a person: a bar over trials with the best so far, a summary of the
// study, and its pictures (contour of the objective over two parameters, optimization history).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <normlab/study/study.hpp>
#if NORMLAB_HAVE_PLOT
#include <normlab/plot/contour.hpp>
#include <normlab/plot/history.hpp>
#endif

namespace normlab::report {

/// A callback for OptimizeOptions::callbacks: one line per finished trial, with a bar and the best.
inline std::function<void(const study::Study&, const study::FrozenTrial&)> progress_line(int trials) {
  auto done = std::make_shared<int>(0);
  return [done, trials](const study::Study& s, const study::FrozenTrial& t) {
    ++*done;
    const int width = 20, filled = std::min(width, width * *done / std::max(trials, 1));
    double best = NAN;
    for (const auto& x : s.trials())
      if (x.state == study::TrialState::Complete && x.value && (std::isnan(best) || *x.value > best)) best = *x.value;
    char value[32] = "";
    if (t.value) std::snprintf(value, sizeof value, "%.4f", *t.value);
    std::fprintf(stderr, "[%s%s] %d/%d  trial %lld mean=%.4g std=%.4g  %s %s  best %.4f\n",
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), *done, trials,
                 static_cast<long long>(t.number), t.params.count("mean") ? t.params.at("mean") : NAN,
                 t.params.count("std") ? t.params.at("std") : NAN, study::to_string(t.state), value, best);
  };
}

/// Trial counts by state, the spread of the objective across complete trials, the best trial.
inline void summarize(const study::Study& s, const char* target = "accuracy") {
  std::vector<double> values;
  int counts[5] = {0, 0, 0, 0, 0};
  const auto trials = s.trials();
  for (const auto& t : trials) {
    ++counts[static_cast<int>(t.state)];
    if (t.state == study::TrialState::Complete && t.value) values.push_back(*t.value);
  }
  std::printf("study '%s': %zu trials (%d complete, %d pruned, %d failed, %d running, %d waiting)\n",
              s.name().c_str(), trials.size(), counts[1], counts[2], counts[3], counts[0], counts[4]);
  if (values.empty()) return;
  std::sort(values.begin(), values.end());
  double mean = 0, var = 0;
  for (double a : values) mean += a / values.size();
  for (double a : values) var += (a - mean) * (a - mean) / values.size();
  std::printf("%s across complete trials: min %.4f  median %.4f  max %.4f  mean %.4f  std %.4f\n", target,
              values.front(), values[values.size() / 2], values.back(), mean, std::sqrt(var));
  const auto best = s.best_trial();
  std::printf("best trial %lld: mean=%.6g std=%.6g %s=%.4f\n", static_cast<long long>(best.number),
              best.params.at("mean"), best.params.at("std"), target, *best.value);
}

/// FILE.svg and FILE.png (contour of `target` over mean and std), FILE-history.svg.
inline void write_plots(const study::Study& s, const std::filesystem::path& svg, const std::string& target) {
#if NORMLAB_HAVE_PLOT
  const auto trials = s.trials();
  plot::ContourOptions contour;
  contour.target_name = target;
  contour.direction = s.direction();
  const auto png = std::filesystem::path(svg).replace_extension(".png");
  plot::plot_contour(trials, "mean", "std", svg, contour);
  plot::plot_contour(trials, "mean", "std", png, contour);
  auto history = svg;
  history.replace_filename(svg.stem().string() + "-history.svg");
  plot::HistoryOptions history_options;
  history_options.target_name = target;
  history_options.direction = s.direction();
  plot::plot_optimization_history(trials, history, history_options);
  std::fprintf(stderr, "plots: %s, %s, %s\n", svg.c_str(), png.c_str(), history.c_str());
#else
  (void)s, (void)svg, (void)target;
  throw std::runtime_error("--plot: this build has no cairo (install libcairo2-dev and rebuild)");
#endif
}

}  // namespace normlab::report
