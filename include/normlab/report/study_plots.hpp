#pragma once
// The pictures of a (mean, std) study, as a person asks for them on a command line: the contour of
// the objective over (mean, std) and the optimization history, each as SVG and PNG, at a size and
// DPI fit for a paper. Needs normlab::plot (cairo); without it write_plots says so.

#include <cmath>
#include <filesystem>
#include <iostream>
#include <ostream>
#include <stdexcept>
#include <string>

#include "normlab/search/normalization_space.hpp"
#include "normlab/study/study.hpp"
#if NORMLAB_HAVE_PLOT
#include "normlab/plot/contour.hpp"
#include "normlab/plot/history.hpp"
#endif

namespace normlab::report {

/// A picture's size: `width` x `height` pixels at `dpi`, or 0 x 0 for matplotlib's default figure
/// (6.4 x 4.8 in) at `dpi`.
struct PlotSize {
  int width = 0, height = 0;
  double dpi = 100;
};

/// "WxH" in pixels ("1050x788") or inches ("3.5x2.625in"), empty for the default figure, at `dpi`.
/// A malformed size is a std::invalid_argument that quotes it.
inline PlotSize parse_plot_size(const std::string& wxh, double dpi = 100) {
  if (!(dpi > 0) || !std::isfinite(dpi))
    throw std::invalid_argument("--plot-dpi expects a positive number (got " + std::to_string(dpi) + ")");
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

/**
 * Writes FILE.svg and FILE.png (contour of `target` over mean and std) and FILE-history.svg and
 * FILE-history.png, titled with the study's name, at `size` (the history 19/16 as wide, for its
 * legend outside the panel, as Optuna's), and names them on `log`.
 */
inline void write_plots(const study::Study& s, const std::filesystem::path& file, const std::string& target,
                        const PlotSize& size = {}, std::ostream* log = &std::cerr) {
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
    plot::plot_contour(trials, search::kMeanParam, search::kStdParam, base.string() + ext, contour);
    plot::plot_optimization_history(trials, history_base.string() + ext, history);
    written += (written.empty() ? "" : ", ") + base.string() + ext + ", " + history_base.string() + ext;
  }
  if (log)
    *log << "plots (" << width << "x" << height << " px at " << size.dpi << " dpi): " << written << std::endl;
#else
  (void)s, (void)file, (void)target, (void)size, (void)log;
  throw std::runtime_error("normlab::report::write_plots: this build has no plots (normlab::plot needs cairo: "
                           "install libcairo2-dev, link normlab::plot)");
#endif
}

}  // namespace normlab::report
