#pragma once
// The optimization history of a study, as Optuna 3.1's matplotlib
// `plot_optimization_history(study, target_name=...)` draws it: every COMPLETE trial's objective
// against its number (tab:blue dots) and the best value so far (tab:red line with dots, alpha 0.5;
// the running maximum when maximizing, minimum when minimizing), ggplot look, the legend outside
// the panel on the right; titled with what it shows ("MNIST: Accuracy of 24 trials and the best so
// far", where Optuna writes "Optimization History Plot"). Trials whose value is not finite are
// left out (matplotlib would not draw them either, and they would break the scale). No LibTorch.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "normlab/plot/canvas.hpp"
#include "normlab/study/trial.hpp"

namespace normlab::plot {

struct HistoryOptions {
  std::string target_name = "Objective Value";  ///< the y label and the dots' legend entry
  std::string study_name;  ///< the default title's first words; empty: left out
  /// Unset: "<study_name>: <target_name> of <n> trials and the best so far" (n: the trials drawn;
  /// without the best line, "... of <n> trials"). Empty: no title.
  std::optional<std::string> title{};
  int width = 760;   ///< pixels: a 640x480 panel area plus room for the legend, as Optuna's tight bbox
  int height = 480;
  double dpi = 100;  ///< pixels per inch: text and lines are in points, dpi/72 pixels each
  /// Which way "best so far" runs. Optuna's create_study default is minimize.
  study::StudyDirection direction = study::StudyDirection::Minimize;
  bool show_best = true;  ///< the "Best Value" line

  /// matplotlib's figsize: width_in x height_in inches at `dots_per_inch`.
  HistoryOptions& figsize(double width_in, double height_in, double dots_per_inch = 100) {
    dpi = dots_per_inch;
    width = inches_to_pixels(width_in, dpi);
    height = inches_to_pixels(height_in, dpi);
    return *this;
  }
};

/// The title plot_optimization_history gives a picture by default.
inline std::string history_title(const std::string& study_name, const std::string& target_name,
                                 std::size_t n_trials, bool show_best) {
  return (study_name.empty() ? "" : study_name + ": ") + target_name + " of " + std::to_string(n_trials) +
         (n_trials == 1 ? " trial" : " trials") + (show_best ? " and the best so far" : "");
}

/// What plot_optimization_history drew.
struct HistoryFigure {
  Rect plot_area;
  Axis x, y;
  std::vector<int64_t> numbers;     ///< trial numbers drawn, increasing
  std::vector<double> values;       ///< their objective values
  std::vector<double> best_values;  ///< best so far at each of them
  std::string title;                ///< drawn above the panel (empty: none)
};

/// Draws the history of `trials` (any states; COMPLETE ones with a finite value are drawn, by
/// trial number) to `out` (.svg or .png). Throws std::invalid_argument when there is no such
/// trial or for a bad extension, std::runtime_error when the file cannot be written.
inline HistoryFigure plot_optimization_history(const std::vector<study::FrozenTrial>& trials,
                                               const std::filesystem::path& out,
                                               const HistoryOptions& options = {}) {
  image_format(out);
  std::vector<const study::FrozenTrial*> done;
  for (const auto& t : trials)
    if (t.state == study::TrialState::Complete && t.value && std::isfinite(*t.value)) done.push_back(&t);
  if (done.empty())
    throw std::invalid_argument("normlab::plot_optimization_history: no COMPLETE trial with a finite value (" +
                                std::to_string(trials.size()) + " trials)");
  std::stable_sort(done.begin(), done.end(), [](auto* a, auto* b) { return a->number < b->number; });

  HistoryFigure fig;
  const bool maximize = options.direction == study::StudyDirection::Maximize;
  for (const auto* t : done) {
    const double v = *t->value;
    fig.numbers.push_back(t->number);
    fig.values.push_back(v);
    const double prev = fig.best_values.empty() ? v : fig.best_values.back();
    fig.best_values.push_back(maximize ? std::max(prev, v) : std::min(prev, v));
  }

  Canvas c(out, options.width, options.height, options.dpi);
  const std::string described = history_title(options.study_name, options.target_name, done.size(), options.show_best);
  fig.title = options.title.value_or(described);
  c.set_title(fig.title.empty() ? described : fig.title);  // the SVG's <title> says what it shows anyway
  const Theme th = Theme::for_dpi(options.dpi);
  const double W = options.width;
  const double font = th.px(th.font);

  // Data limits with matplotlib's 5% margins (a single value gets +-0.5 or +-5%).
  const auto limits = [](double lo, double hi) {
    if (hi == lo) {
      const double d = std::max(0.5, 0.05 * std::fabs(lo));
      return std::pair{lo - d, hi + d};
    }
    const double m = 0.05 * (hi - lo);
    return std::pair{lo - m, hi + m};
  };
  auto [xlo, xhi] = limits(static_cast<double>(fig.numbers.front()), static_cast<double>(fig.numbers.back()));
  if (fig.numbers.front() == fig.numbers.back()) xlo -= 0.5, xhi += 0.5;  // whole-number ticks
  const auto [vmin, vmax] = std::minmax_element(fig.values.begin(), fig.values.end());
  const auto [ylo, yhi] = limits(*vmin, *vmax);

  // Legend entries and their width decide how much the panel leaves on the right.
  std::vector<std::string> entries{options.target_name};
  if (options.show_best) entries.push_back("Best Value");
  double text_w = 0;
  for (const auto& e : entries) text_w = std::max(text_w, c.measure(e, font).w);
  const double handle = th.px(20), gap = th.px(8), inner = th.px(4);
  const double legend_w = inner + handle + gap + text_w + inner + th.px(2);
  const double legend_row = font * 1.45;
  const double legend_h = inner * 2 + legend_row * entries.size();

  const auto [top, height] = panel_rows(c, th, !fig.title.empty(), false);
  Rect area{0.1 * W, top, 0, height};
  {  // leave room for the y tick labels and label on the left
    const Axis probe(ylo, yhi, false, area.bottom(), area.y);
    double widest = 0;
    for (const auto& t : probe.ticks(tick_space(th, area.h, true)))
      widest = std::max(widest, c.measure(t.text, font).w);
    area.x = std::max(area.x, widest + th.px(th.major_len + th.tick_pad + th.label_pad + th.label_font * 1.3 + 3));
  }
  // The legend starts 5% of the panel's width right of it and ends a margin short of the edge.
  area.w = std::max(0.3 * W, (W - th.px(8) - legend_w - area.x) / 1.05);
  fig.plot_area = area;
  fig.x = Axis(xlo, xhi, false, area.x, area.right());
  fig.x.integer_ticks();
  fig.y = Axis(ylo, yhi, false, area.bottom(), area.y);

  draw_panel(c, area, fig.x, fig.y, th);
  cairo_t* cr = c.cr();
  cairo_save(cr);
  cairo_rectangle(cr, area.x, area.y, area.w, area.h);
  cairo_clip(cr);
  const Rgb blue = rgb_hex(0x1f77b4), red = rgb_hex(0xd62728);
  const double dot = th.px(6);  // s=36 scatter dots, 6 pt markers on the line
  for (std::size_t i = 0; i < fig.values.size(); ++i)
    c.marker(fig.x.to_px(fig.numbers[i]), fig.y.to_px(fig.values[i]), dot, blue, blue, 0);
  if (options.show_best) {
    cairo_new_path(cr);
    for (std::size_t i = 0; i < fig.best_values.size(); ++i) {
      const double px = fig.x.to_px(fig.numbers[i]), py = fig.y.to_px(fig.best_values[i]);
      if (i == 0) cairo_move_to(cr, px, py);
      else cairo_line_to(cr, px, py);
    }
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    c.stroke(red, th.px(1.5), {}, 0.5);
    for (std::size_t i = 0; i < fig.best_values.size(); ++i)
      c.marker(fig.x.to_px(fig.numbers[i]), fig.y.to_px(fig.best_values[i]), dot, red, red, th.px(1), 0.5);
  }
  cairo_restore(cr);

  draw_axes(c, area, fig.x, fig.y, th, "Trial", options.target_name);
  draw_title(c, area, th, fig.title);

  // Legend: upper left at (1.05, 1.0) of the panel, as Optuna's bbox_to_anchor; a light frame.
  const Rect lg{area.right() + 0.05 * area.w, area.y, legend_w, legend_h};
  cairo_new_path(cr);
  const double r = th.px(2), pi = std::numbers::pi;
  cairo_arc(cr, lg.x + r, lg.y + r, r, pi, 1.5 * pi);
  cairo_arc(cr, lg.right() - r, lg.y + r, r, 1.5 * pi, 2 * pi);
  cairo_arc(cr, lg.right() - r, lg.bottom() - r, r, 0, 0.5 * pi);
  cairo_arc(cr, lg.x + r, lg.bottom() - r, r, 0.5 * pi, pi);
  cairo_close_path(cr);
  c.set_color(th.panel, 0.8);
  cairo_fill_preserve(cr);
  c.stroke(rgb_hex(0xcccccc), th.px(1.0));
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const double cy = lg.y + inner + legend_row * (k + 0.5);
    const double hx = lg.x + inner, hc = hx + handle / 2;
    if (k == 0) {
      c.marker(hc, cy, dot, blue, blue, 0);
    } else {
      c.line(hx, cy, hx + handle, cy, red, th.px(1.5), {}, 0.5);
      c.marker(hc, cy, dot, red, red, th.px(1), 0.5);
    }
    c.text(entries[k], hx + handle + gap, cy, font, rgb_hex(0x000000), HAlign::Left, VAlign::Center);
  }
  c.save();
  return fig;
}

}  // namespace normlab::plot
