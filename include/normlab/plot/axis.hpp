#pragma once
// The geometry of a plot, in pixels: Rect (an area of the picture) and Axis (a linear or log10 map
// from data values onto pixels, which picks its ticks with ticks.hpp's matplotlib locators). Its
// own header because it needs no drawing: plain C++, no cairo, no LibTorch.

#include <cmath>
#include <stdexcept>
#include <vector>

#include "normlab/plot/ticks.hpp"

namespace normlab::plot {

struct Rect {
  double x = 0, y = 0, w = 0, h = 0;  ///< top-left corner, size; pixels, y down
  double right() const { return x + w; }
  double bottom() const { return y + h; }
};

/// A linear or log10 map from data values [lo, hi] onto pixels [px_lo, px_hi] (px_hi < px_lo for a
/// vertical axis, whose values grow upwards).
class Axis {
 public:
  Axis() = default;
  Axis(double lo, double hi, bool log, double px_lo, double px_hi)
      : lo_(lo), hi_(hi), log_(log), px_lo_(px_lo), px_hi_(px_hi) {
    if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi))
      throw std::invalid_argument("normlab::plot::Axis: needs finite lo < hi");
    if (log && !(lo > 0)) throw std::invalid_argument("normlab::plot::Axis: a log axis needs lo > 0");
  }
  double lo() const { return lo_; }
  double hi() const { return hi_; }
  bool log() const { return log_; }
  double px_lo() const { return px_lo_; }
  double px_hi() const { return px_hi_; }
  /// Pixel of a data value (values outside [lo, hi] map outside the pixel range).
  double to_px(double v) const {
    const double f = log_ ? (std::log10(v) - std::log10(lo_)) / (std::log10(hi_) - std::log10(lo_))
                          : (v - lo_) / (hi_ - lo_);
    return px_lo_ + f * (px_hi_ - px_lo_);
  }
  /// Data value at a pixel.
  double from_px(double p) const {
    const double f = (p - px_lo_) / (px_hi_ - px_lo_);
    return log_ ? std::pow(10.0, std::log10(lo_) + f * (std::log10(hi_) - std::log10(lo_)))
                : lo_ + f * (hi_ - lo_);
  }
  std::vector<Tick> ticks(int max_ticks) const {
    return log_ ? log_ticks(lo_, hi_, max_ticks, log_labels_) : linear_ticks(lo_, hi_, max_ticks, integer_);
  }
  /// Linear ticks at whole numbers only.
  Axis& integer_ticks(bool on = true) {
    integer_ = on;
    return *this;
  }
  /// Which minor ticks of a log axis are labelled (matplotlib's default unless set).
  Axis& log_labels(LogLabelThresholds thresholds) {
    log_labels_ = thresholds;
    return *this;
  }

 private:
  double lo_ = 0, hi_ = 1;
  bool log_ = false;
  bool integer_ = false;
  LogLabelThresholds log_labels_ = LogLabelThresholds::matplotlib();
  double px_lo_ = 0, px_hi_ = 1;
};

}  // namespace normlab::plot
