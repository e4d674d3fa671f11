#pragma once
// Numbers on axes, as matplotlib 3.6 picks and writes them: MaxNLocator / AutoLocator and a
// ScalarFormatter without offset for linear axes; LogLocator and LogFormatterSciNotation for
// log10 axes, ported line by line (tests/golden/plot_log_ticks.txt is matplotlib's own output for
// 23 views). Plain C++: no cairo, no LibTorch.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace normlab::plot {

namespace detail {

/// Python's float divmod (floor semantics), which matplotlib's tick code relies on.
inline std::pair<double, double> py_divmod(double x, double y) {
  double mod = std::fmod(x, y);
  double div = (x - mod) / y;
  if (mod != 0) {
    if ((y < 0) != (mod < 0)) {
      mod += y;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, y);
  }
  double floordiv;
  if (div != 0) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
  } else {
    floordiv = std::copysign(0.0, x / y);
  }
  return {floordiv, mod};
}

/// matplotlib.transforms.nonsingular.
inline std::pair<double, double> nonsingular(double vmin, double vmax, double expander,
                                             double tiny) {
  if (!std::isfinite(vmin) || !std::isfinite(vmax)) return {-expander, expander};
  if (vmax < vmin) std::swap(vmin, vmax);
  const double maxabs = std::max(std::fabs(vmin), std::fabs(vmax));
  if (maxabs < (1e6 / tiny) * std::numeric_limits<double>::min()) return {-expander, expander};
  if (vmax - vmin <= maxabs * tiny) {
    if (vmax == 0 && vmin == 0) return {-expander, expander};
    vmin -= expander * std::fabs(vmin);
    vmax += expander * std::fabs(vmax);
  }
  return {vmin, vmax};
}

}  // namespace detail

/// matplotlib.ticker.MaxNLocator(nbins, steps, min_n_ticks).tick_values(vmin, vmax) (3.6): "nice"
/// values step * k spanning [vmin, vmax], with at most nbins intervals; the first and last may lie
/// outside [vmin, vmax]. `steps` are the allowed mantissas in [1, 10].
inline std::vector<double> max_n_locator(double vmin, double vmax, int nbins,
                                         std::vector<double> steps, int min_n_ticks,
                                         bool integer = false) {
  if (nbins < 1) throw std::invalid_argument("normlab::plot::max_n_locator: nbins must be >= 1");
  std::tie(vmin, vmax) = detail::nonsingular(vmin, vmax, 1e-13, 1e-14);
  if (steps.empty() || steps.front() != 1) steps.insert(steps.begin(), 1.0);
  if (steps.back() != 10) steps.push_back(10.0);
  std::vector<double> stair;  // _staircase: 0.1 * steps[:-1], steps, 10 * steps[1]
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) stair.push_back(0.1 * steps[i]);
  stair.insert(stair.end(), steps.begin(), steps.end());
  stair.push_back(10 * steps[1]);
  // scale_range(vmin, vmax, nbins)
  const double dv = std::fabs(vmax - vmin), meanv = (vmax + vmin) / 2;
  const double offset = std::fabs(meanv) / dv < 100
                            ? 0.0
                            : std::copysign(std::pow(10.0, std::floor(std::log10(std::fabs(meanv)))), meanv);
  const double scale = std::pow(10.0, std::floor(std::log10(dv / nbins)));
  const double lo = vmin - offset, hi = vmax - offset, raw_step = (hi - lo) / nbins;
  for (auto& s : stair) s *= scale;
  if (integer)  // steps > 1 must be whole numbers
    std::erase_if(stair, [](double s) { return !(s < 1 || std::fabs(s - std::round(s)) < 0.001); });
  std::size_t istep = 0;
  while (istep + 1 < stair.size() && !(stair[istep] >= raw_step)) ++istep;
  // _Edge_integer: tolerant integer multiples of the step.
  const auto closeto = [&](double step, double ms, double edge) {
    double tol = 1e-10;
    if (offset != 0) tol = std::min(0.4999, std::max(1e-10, std::pow(10.0, std::log10(std::fabs(offset) / step) - 12)));
    return std::fabs(ms - edge) < tol;
  };
  std::vector<double> ticks;
  for (std::size_t k = istep + 1; k-- > 0;) {
    double step = stair[k];
    if (integer && std::floor(hi) - std::ceil(lo) >= min_n_ticks - 1) step = std::max(1.0, step);
    const double best_vmin = detail::py_divmod(lo, step).first * step;
    auto [dl, ml] = detail::py_divmod(lo - best_vmin, step);
    const double low = closeto(step, ml / step, 1) ? dl + 1 : dl;
    auto [dh, mh] = detail::py_divmod(hi - best_vmin, step);
    const double high = closeto(step, mh / step, 0) ? dh : dh + 1;
    ticks.clear();
    for (double n = low; n < high + 1; n += 1) ticks.push_back(n * step + best_vmin);
    int inside = 0;
    for (double t : ticks) inside += (t <= hi && t >= lo);
    if (inside >= min_n_ticks) break;
  }
  for (auto& t : ticks) t += offset;
  return ticks;
}

/// Labels for evenly spaced linear ticks, as matplotlib's ScalarFormatter writes them without an
/// offset: one number of decimals for all (enough for every tick), U+2212 for minus, "0" for zero;
/// exponent notation ("2.5e−07") when the largest magnitude is >= 1e6 or < 1e-5.
inline std::vector<std::string> format_ticks(const std::vector<double>& values) {
  std::vector<std::string> out;
  double maxabs = 0;
  for (double v : values) maxabs = std::max(maxabs, std::fabs(v));
  const bool sci = maxabs >= 1e6 || (maxabs > 0 && maxabs < 1e-5);
  int decimals = 0;
  for (; decimals < 12; ++decimals) {
    bool ok = true;
    for (double v : values) {
      const double m = sci ? v / std::pow(10.0, std::floor(std::log10(std::fabs(v == 0 ? 1 : v)))) : v;
      const double scaled = m * std::pow(10.0, decimals);
      if (std::fabs(scaled - std::round(scaled)) > 1e-6 * std::max(1.0, std::fabs(scaled))) ok = false;
    }
    if (ok) break;
  }
  for (double v : values) {
    char buf[64];
    if (std::fabs(v) < 1e-12 * std::max(1.0, maxabs)) v = 0;
    std::snprintf(buf, sizeof buf, sci ? "%.*e" : "%.*f", decimals, v);
    std::string s(buf);
    if (sci) {  // 2.5e-07 -> 2.5e−7
      const auto e = s.find('e');
      std::string mant = s.substr(0, e), ex = s.substr(e + 1);
      const bool neg = ex[0] == '-';
      ex.erase(0, 1);
      while (ex.size() > 1 && ex[0] == '0') ex.erase(0, 1);
      s = mant + "e" + (neg ? "\u2212" : "") + ex;
    }
    if (s == "-0" || s.rfind("-0.", 0) == 0) {
      bool all_zero = s.find_first_not_of("-0.") == std::string::npos;
      if (all_zero) s.erase(0, 1);
    }
    if (!s.empty() && s[0] == '-') s = "\u2212" + s.substr(1);
    out.push_back(s);
  }
  return out;
}

/// One tick: where, its label (`text` then `superscript`, "10" and "−1" for 10^-1; both empty for
/// an unlabelled tick), and whether it is a major tick (grid line, longer mark).
struct Tick {
  double value = 0;
  std::string text;
  std::string superscript;
  bool major = true;
};

/// Ticks of a linear axis showing [lo, hi], as matplotlib's AutoLocator picks them
/// (MaxNLocator(nbins, steps=[1, 2, 2.5, 5, 10])); only those inside [lo, hi]. `integer`: whole
/// numbers only (MaxNLocator(integer=True)), for counts such as trial numbers.
inline std::vector<Tick> linear_ticks(double lo, double hi, int nbins, bool integer = false) {
  nbins = std::clamp(nbins, 1, 9);
  const auto values = max_n_locator(lo, hi, nbins, {1, 2, 2.5, 5, 10}, 2, integer);
  const double eps = 1e-10 * std::fabs(hi - lo);
  std::vector<double> inside;
  for (double v : values)
    if (v >= lo - eps && v <= hi + eps) inside.push_back(v);
  const auto labels = format_ticks(inside);
  std::vector<Tick> out;
  for (std::size_t i = 0; i < inside.size(); ++i) out.push_back({inside[i], labels[i], "", true});
  return out;
}

/// matplotlib's FixedLocator(locs, nbins).tick_values: every k-th of `locs`, k = ceil(size / nbins),
/// so that at most nbins + 1 show, starting at the phase (0 .. k - 1) whose ticks hold the value
/// nearest 0 (the first such phase). What a contour's colour bar labels its levels with.
inline std::vector<double> fixed_locator(const std::vector<double>& locs, std::size_t nbins) {
  const std::size_t step = std::max<std::size_t>(1, (locs.size() + nbins - 1) / nbins);
  std::size_t phase = 0;
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t p = 0; p < step; ++p) {
    double m = std::numeric_limits<double>::infinity();
    for (std::size_t i = p; i < locs.size(); i += step) m = std::min(m, std::fabs(locs[i]));
    if (m < best) best = m, phase = p;
  }
  std::vector<double> shown;
  for (std::size_t i = phase; i < locs.size(); i += step) shown.push_back(locs[i]);
  return shown;
}

/// Which minor ticks of a log axis get a label: matplotlib's LogFormatter `minor_thresholds`
/// (subset, all), compared with the number of decades the view spans. Above `subset` only powers
/// of ten are labelled; between `all` and `subset` also 2, 3, 4 and 6 x 10^k; below `all` every
/// minor tick. matplotlib's default is (1, 0.4): a view of 1.44 decades (a contour's std axis over
/// [0.1, 2]) shows only 10^-1 and 10^0. normlab's plots use `readable()`, (2, 0.4), which labels
/// 2, 3, 4, 6 x 10^k up to two decades, as matplotlib does given minor_thresholds=(2, 0.4).
struct LogLabelThresholds {
  double subset = 1, all = 0.4;
  static constexpr LogLabelThresholds matplotlib() { return {1, 0.4}; }
  static constexpr LogLabelThresholds readable() { return {2, 0.4}; }
  friend bool operator==(const LogLabelThresholds&, const LogLabelThresholds&) = default;
};

namespace detail {

/// math.log(x) / math.log(10): matplotlib's log10 in its locator and formatter. It differs from
/// std::log10 by an ulp where it matters (log(1e4) / log(10) is 3.9999999999999996, so a view
/// ending at 1e4 spans 7 whole decades for LogLocator, not 8).
inline double mpl_log10(double x) { return std::log(x) / std::log(10.0); }

/// Python's round() of a float: ties to even.
inline double py_round(double x) { return std::nearbyint(x); }

/// matplotlib.ticker._is_close_to_int: math.isclose(x, round(x)), rel_tol 1e-9.
inline bool close_to_int(double x) {
  const double r = py_round(x);
  return std::fabs(x - r) <= 1e-9 * std::max(std::fabs(x), std::fabs(r));
}

/// LogLocator(10, subs).tick_values(vmin, vmax) with numticks fixed (matplotlib 3.6, not classic
/// mode): `minor` is subs='auto' (2..9 x 10^k, none beyond 10 decades or when major ticks skip
/// decades; AutoLocator's ticks when at most one would show), else subs=(1,).
inline std::vector<double> log_locator(double vmin, double vmax, int numticks, bool minor) {
  const double log_vmin = mpl_log10(vmin), log_vmax = mpl_log10(vmax);
  const double numdec = std::floor(log_vmax) - std::ceil(log_vmin);
  if (minor && numdec > 10) return {};
  double stride = std::floor((numdec + 1) / numticks) + 1;  // Python's (numdec + 1) // numticks + 1
  if (stride >= numdec) stride = std::max(1.0, numdec - 1);
  std::vector<double> locs;
  for (double d = std::floor(log_vmin) - stride; d < std::ceil(log_vmax) + 2 * stride; d += stride) {
    const double start = std::pow(10.0, d);
    if (!minor) locs.push_back(start);
    else if (stride == 1)
      for (int k = 2; k <= 9; ++k) locs.push_back(k * start);
  }
  if (minor && stride == 1 &&
      std::count_if(locs.begin(), locs.end(), [&](double t) { return vmin <= t && t <= vmax; }) <= 1)
    return max_n_locator(vmin, vmax, 9, {1, 2, 2.5, 5, 10}, 2);  // AutoLocator() without an axis
  return locs;
}

/// LogFormatterSciNotation(10) with `sublabels` set (set_locs): "10" and the exponent for a power
/// of ten, "c×10" and the exponent otherwise (c as %g), both empty for an unlabelled tick.
inline std::pair<std::string, std::string> log_label(double x, const std::vector<double>& sublabels) {
  const double fx = mpl_log10(x);
  const bool decade = close_to_int(fx);
  const double exponent = decade ? py_round(fx) : std::floor(fx);
  const double coeff = py_round(std::pow(10.0, fx - exponent));
  if (std::find(sublabels.begin(), sublabels.end(), coeff) == sublabels.end()) return {};
  const auto exponent_text = [](double e) {
    const long long k = static_cast<long long>(e);
    return k < 0 ? "\u2212" + std::to_string(-k) : std::to_string(k);
  };
  if (decade) return {"10", exponent_text(exponent)};
  double c = std::pow(10.0, fx - std::floor(fx));  // _non_decade_format
  if (close_to_int(c)) c = py_round(c);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", c);
  return {std::string(buf) + "\u00d710", exponent_text(std::floor(fx))};
}

}  // namespace detail

/// Ticks of a log10 axis showing [lo, hi] (0 < lo < hi), as matplotlib 3.6's log scale draws
/// them with LogLocator(numticks = clamp(max_major, 2, 9)): major ticks at powers of ten (every
/// stride-th decade on a long axis), minor ticks at 2..9 times them (dropped where a major tick
/// is), only those within the view; labels as LogFormatterSciNotation writes them, minor ones by
/// `thresholds` (see LogLabelThresholds). Sorted by value.
inline std::vector<Tick> log_ticks(double lo, double hi, int max_major,
                                   LogLabelThresholds thresholds = LogLabelThresholds::matplotlib()) {
  if (!(lo > 0) || !(hi > lo) || !std::isfinite(hi))
    throw std::invalid_argument("normlab::plot::log_ticks: needs 0 < lo < hi");
  const int numticks = std::clamp(max_major, 2, 9);
  const auto majors = detail::log_locator(lo, hi, numticks, false);
  auto minors = detail::log_locator(lo, hi, numticks, true);
  // Axis.get_minorticklocs: no minor tick within 1e-5 of the view (in log10) of a major one.
  const double llo = std::log10(lo), lhi = std::log10(hi), overlap = (lhi - llo) * 1e-5;
  std::erase_if(minors, [&](double m) {
    return std::any_of(majors.begin(), majors.end(),
                       [&](double M) { return std::fabs(std::log10(m) - std::log10(M)) <= overlap; });
  });
  // LogFormatter.set_locs: which coefficients are labelled, by the view's span in decades.
  const double numdec = std::fabs(detail::mpl_log10(hi) - detail::mpl_log10(lo));
  const std::vector<double> minor_labels =
      numdec > thresholds.subset ? std::vector<double>{1}
      : numdec > thresholds.all  ? std::vector<double>{1, 2, 3, 4, 6, 10}  // round(geomspace(1, 10, 6))
                                 : std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  // Axis._update_ticks draws the ticks within the view, give or take 1e-10 of it (in log10).
  const double tol = (lhi - llo) * 1e-10;
  std::vector<Tick> out;
  for (const bool major : {true, false})
    for (double v : major ? majors : minors) {
      const double lv = std::log10(v);
      if (lv < llo - tol || lv > lhi + tol) continue;
      auto [text, superscript] = detail::log_label(v, major ? std::vector<double>{1} : minor_labels);
      out.push_back({v, std::move(text), std::move(superscript), major});
    }
  std::stable_sort(out.begin(), out.end(), [](const Tick& a, const Tick& b) { return a.value < b.value; });
  return out;
}

}  // namespace normlab::plot
