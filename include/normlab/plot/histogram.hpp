#pragma once
// Histograms of several groups of values on one set of bins, as matplotlib's
// `plt.hist([a, b, ...], bins=n, histtype="stepfilled", alpha=0.35)` over the groups' common
// range, each group outlined in its own colour (tab10) so overlapping groups stay readable; the
// ggplot look of the other plots, the legend outside the panel on the right. The answer report
// draws its noise floor with it: accuracy of the same (mean, std) over seeds. No LibTorch.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <tuple>
#include <utility>
#include <stdexcept>
#include <string>
#include <vector>

#include "normlab/plot/canvas.hpp"

namespace normlab::plot {

/// One group: its legend entry and its values (non-finite ones are left out).
struct HistogramSeries {
  std::string label;
  std::vector<double> values;
};

struct HistogramOptions {
  int bins = 10;          ///< equal-width bins over `range`
  /// The bins' span; unset: the finite values' [min, max] over all groups. Pictures that are to be
  /// compared side by side share one.
  std::optional<std::pair<double, double>> range;
  std::string x_label = "Value";
  std::string y_label = "Count";
  std::string title;      ///< empty: none
  int width = 900;        ///< pixels, with room for the legend on the right
  int height = 480;
  double dpi = 100;
};

/// What plot_histogram drew.
struct HistogramFigure {
  Rect plot_area;
  Axis x, y;
  std::vector<double> edges;               ///< bins + 1 increasing bin edges
  std::vector<std::vector<int>> counts;    ///< per group, per bin (the last bin holds its right edge)
  std::vector<Rgb> colors;                 ///< per group
};

/// matplotlib's tab10 cycle, the colour of group `i`.
inline Rgb tab10(std::size_t i) {
  static const unsigned hex[] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                 0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
  return rgb_hex(hex[i % 10]);
}

/// Counts of `values` in the bins between `edges` (numpy.histogram: half-open bins, the last one
/// closed); values outside the edges or not finite are not counted.
inline std::vector<int> bin_counts(const std::vector<double>& values, const std::vector<double>& edges) {
  std::vector<int> counts(edges.size() - 1, 0);
  for (double v : values) {
    if (!std::isfinite(v) || v < edges.front() || v > edges.back()) continue;
    auto it = std::upper_bound(edges.begin(), edges.end(), v);
    std::size_t bin = static_cast<std::size_t>(it - edges.begin()) - 1;
    counts[std::min(bin, counts.size() - 1)] += 1;
  }
  return counts;
}

/// Draws `series` as overlaid histograms to `out` (.svg or .png). Throws std::invalid_argument
/// when no group has a finite value, for fewer than 1 bin or a bad extension; std::runtime_error
/// when the file cannot be written.
inline HistogramFigure plot_histogram(const std::vector<HistogramSeries>& series, const std::filesystem::path& out,
                                      const HistogramOptions& options = {}) {
  image_format(out);
  if (options.bins < 1) throw std::invalid_argument("normlab::plot_histogram: needs at least 1 bin");
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series)
    for (double v : s.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(lo <= hi))
    throw std::invalid_argument("normlab::plot_histogram: no finite value in " + std::to_string(series.size()) +
                                " group(s) for '" + out.string() + "'");
  if (options.range) {
    if (!(options.range->first <= options.range->second) || !std::isfinite(options.range->first) ||
        !std::isfinite(options.range->second))
      throw std::invalid_argument("normlab::plot_histogram: the range needs finite lo <= hi");
    std::tie(lo, hi) = *options.range;
  }
  if (lo == hi) lo -= 0.5, hi += 0.5;  // numpy's range for a single value

  HistogramFigure fig;
  for (int i = 0; i < options.bins; ++i) fig.edges.push_back(lo + (hi - lo) * i / options.bins);
  fig.edges.push_back(hi);  // exactly the largest value, as numpy.linspace ends
  int top_count = 1;
  for (std::size_t k = 0; k < series.size(); ++k) {
    fig.counts.push_back(bin_counts(series[k].values, fig.edges));
    fig.colors.push_back(tab10(k));
    top_count = std::max(top_count, *std::max_element(fig.counts.back().begin(), fig.counts.back().end()));
  }

  Canvas c(out, options.width, options.height, options.dpi);
  c.set_title(options.title.empty() ? options.y_label + " of " + options.x_label : options.title);
  const Theme th = Theme::for_dpi(options.dpi);
  const double font = th.px(th.font);
  double text_w = 0;
  for (const auto& s : series) text_w = std::max(text_w, c.measure(s.label, font).w);
  const double handle = th.px(16), gap = th.px(6), inner = th.px(4), row = font * 1.45;
  const double legend_w = inner + handle + gap + text_w + inner;
  const auto [top, height] = panel_rows(c, th, !options.title.empty(), false);
  const double margin = 0.05 * (hi - lo);
  Rect area{th.px(th.major_len + th.tick_pad + th.label_pad + th.label_font * 1.3 + 3) + c.measure("00", font).w, top,
            0, height};
  area.w = std::max(0.3 * options.width, options.width - th.px(12) - legend_w - area.x);
  fig.plot_area = area;
  fig.x = Axis(lo - margin, hi + margin, false, area.x, area.right());
  fig.y = Axis(0, top_count * 1.05, false, area.bottom(), area.y);
  fig.y.integer_ticks();

  draw_panel(c, area, fig.x, fig.y, th);
  cairo_t* cr = c.cr();
  for (std::size_t k = 0; k < series.size(); ++k) {
    const auto& counts = fig.counts[k];
    cairo_new_path(cr);  // the step outline, closed along the x axis
    cairo_move_to(cr, fig.x.to_px(fig.edges.front()), fig.y.to_px(0));
    for (std::size_t b = 0; b < counts.size(); ++b) {
      cairo_line_to(cr, fig.x.to_px(fig.edges[b]), fig.y.to_px(counts[b]));
      cairo_line_to(cr, fig.x.to_px(fig.edges[b + 1]), fig.y.to_px(counts[b]));
    }
    cairo_line_to(cr, fig.x.to_px(fig.edges.back()), fig.y.to_px(0));
    cairo_close_path(cr);
    c.set_color(fig.colors[k], 0.35);
    cairo_fill_preserve(cr);
    c.stroke(fig.colors[k], th.px(1.5));
  }
  draw_axes(c, area, fig.x, fig.y, th, options.x_label, options.y_label);
  draw_title(c, area, th, options.title);
  const double lx = area.right() + th.px(8);
  for (std::size_t k = 0; k < series.size(); ++k) {
    const double cy = area.y + inner + row * (k + 0.5);
    c.fill_rect({lx, cy - font * 0.4, handle, font * 0.8}, fig.colors[k], 0.35);
    c.line(lx, cy - font * 0.4, lx + handle, cy - font * 0.4, fig.colors[k], th.px(1.5));
    c.text(series[k].label, lx + handle + gap, cy, font, rgb_hex(0x000000), HAlign::Left, VAlign::Center);
  }
  c.save();
  return fig;
}

}  // namespace normlab::plot
