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

/// The size of the study examples' pictures: `width` x `height` pixels at `dpi`, or 0 x 0 for
/// matplotlib's default figure (6.4 x 4.8 in) at `dpi`.
struct PlotSize {
  int width = 0, height = 0;
  double dpi = 100;
};

/// --plot-size and --plot-dpi: "WxH" in pixels ("1050x788") or inches ("3.5x2.625in"), empty for
/// the default figure. Malformed sizes are a std::invalid_argument that quotes them.
inline PlotSize plot_size(const std::string& wxh, double dpi) {
  PlotSize size;
  size.dpi = dpi;
  if (wxh.empty()) return size;
  const bool inches = wxh.size() > 2 && wxh.compare(wxh.size() - 2, 2, "in") == 0;
  const std::string text = inches ? wxh.substr(0, wxh.size() - 2) : wxh;
  const auto x = text.find('x');
  double w = 0, h = 0;
  std::size_t used_w = 0, used_h = 0;
  try {
    w = std::stod(text.substr(0, x), &used_w);
    h = std::stod(text.substr(x + 1), &used_h);
  } catch (const std::exception&) {
    used_w = 0;
  }
  if (x == std::string::npos || used_w != x || used_h != text.size() - x - 1 || !(w > 0) || !(h > 0))
    throw std::invalid_argument("--plot-size expects WxH in pixels (1050x788) or inches (3.5x2.625in), got '" +
                                wxh + "'");
  size.width = inches ? static_cast<int>(std::lround(w * dpi)) : static_cast<int>(std::lround(w));
  size.height = inches ? static_cast<int>(std::lround(h * dpi)) : static_cast<int>(std::lround(h));
  return size;
}

/// FILE.svg and FILE.png (contour of `target` over mean and std), FILE-history.svg and
/// FILE-history.png, titled with the study's name, at `size` (the history 19/16 as wide, for its
/// legend outside the panel, as Optuna's).
inline void write_plots(const study::Study& s, const std::filesystem::path& file, const std::string& target,
                        const PlotSize& size = {}) {
#if NORMLAB_HAVE_PLOT
  const auto trials = s.trials();
  const int width = size.width ? size.width : static_cast<int>(std::lround(6.4 * size.dpi));
  const int height = size.height ? size.height : static_cast<int>(std::lround(4.8 * size.dpi));
  plot::ContourOptions contour;
  contour.study_name = s.name();
  contour.target_name = target;
  contour.direction = s.direction();
  contour.width = width, contour.height = height, contour.dpi = size.dpi;
  plot::HistoryOptions history;
  history.study_name = s.name();
  history.target_name = target;
  history.direction = s.direction();
  history.width = width * 19 / 16, history.height = height, history.dpi = size.dpi;
  auto base = file;
  base.replace_extension();
  const std::filesystem::path history_base = base.string() + "-history";
  std::string written;
  for (const char* ext : {".svg", ".png"}) {
    plot::plot_contour(trials, "mean", "std", base.string() + ext, contour);
    plot::plot_optimization_history(trials, history_base.string() + ext, history);
    written += (written.empty() ? "" : ", ") + base.string() + ext + ", " + history_base.string() + ext;
  }
  std::fprintf(stderr, "plots (%dx%d px at %g dpi): %s\n", width, height, size.dpi, written.c_str());
#else
  (void)s, (void)file, (void)target, (void)size;
  throw std::runtime_error("--plot: this build has no cairo (install libcairo2-dev and rebuild)");
#endif
}

}  // namespace normlab::report
