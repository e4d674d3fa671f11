#pragma once
// The contour picture of a study over two parameters, as Optuna 3.1's matplotlib
// `plot_contour(study, params=[x, y], target_name=...)` draws it (the notebook's central figure):
//
//  * trials: COMPLETE ones with a finite value; an axis spans the values of its parameter over
//    those trials, padded by 5% on each side (in log10 for a log parameter, whose axis is log);
//  * grid: 100 x 100 points evenly spaced over the padded ranges (log-spaced on log axes);
//  * z map: each trial having both parameters sets the grid point nearest to it (nearest in the
//    parameter's own value, as numpy's argmin |xi - x| picks; a later trial replaces an earlier one
//    at the same point);
//  * interpolation: every other grid point is the average of its 2 to 4 neighbours, i.e. the
//    discrete Laplace equation with the z map as fixed values and zero-derivative edges, which is
//    plotly's interp2d formulation that Optuna's `_interpolate_zmap` solves exactly (scipy
//    spsolve); we solve the same system exactly too (banded Cholesky);
//  * levels: matplotlib's `contourf(..., 15)` levels (MaxNLocator(16) nice values spanning the z
//    range, trimmed); bands coloured from the colormap at the middle of each band, mapped from the
//    lowest to the highest level (Optuna's 'Blues', oriented so that the best objective, high when
//    maximizing, low when minimizing, is darkest); thin black iso-lines on the levels, dashed for
//    negative levels as matplotlib draws single-colour contours;
//  * trials as black dots with a grey edge (Optuna's markers), the best one as a red star;
//  * ggplot look, a colour bar labelled with the target name; a title that says what is shown
//    ("MNIST: Accuracy over (mean, std), 24 trials", where Optuna writes "Contour Plot"), and a
//    log axis whose minor ticks are labelled (2x10^-1, ...) up to two decades (see ContourOptions).
//
// The filled bands are exact polygons (marching squares on the grid, the same linear
// interpolation along grid edges as matplotlib's contour generator), so the SVG stays vector and
// small. No LibTorch.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "normlab/detail/compiled.hpp"
#include "normlab/detail/format.hpp"
#include "normlab/plot/canvas.hpp"
#include "normlab/study/trial.hpp"

namespace normlab::plot {

struct ContourOptions {
  std::string target_name = "Objective Value";  ///< the colour bar's label (Optuna's target_name)
  std::string study_name;  ///< the default title's first words; empty: left out
  /// Unset: "<study_name>: <target_name> over (<x>, <y>), <n> trials" (n: the trials drawn).
  /// Empty: no title.
  std::optional<std::string> title{};
  int width = 640;   ///< pixels of the PNG; the figure is width/dpi x height/dpi inches
  int height = 480;
  double dpi = 100;  ///< pixels per inch: text and lines are in points, dpi/72 pixels each
  int levels = 15;  ///< matplotlib's N: about this many bands, at nice values
  /// The colour scale's range (widened to hold the data); unset: the data's own. Give several
  /// pictures the same one to compare them side by side.
  std::optional<std::pair<double, double>> value_range{};
  /// The study's direction: which trial is best, and which end of the colormap is dark (the best
  /// one, as in Optuna). Optuna's create_study default is minimize; the notebook maximizes
  /// accuracy.
  study::StudyDirection direction = study::StudyDirection::Minimize;
  /// Log axes: by default a parameter is drawn on a log axis when its distribution is log in any
  /// trial (Optuna's _is_log_scale); set to force either way.
  std::optional<bool> x_log{}, y_log{};
  Colormap colormap = Colormap::Blues;
  int grid_points = 100;  ///< Optuna's CONTOUR_POINT_NUM (2..200)
  bool show_lines = true;
  bool show_points = true;
  bool highlight_best = true;
  /// Which minor ticks of a log axis are labelled. readable(): 2, 3, 4, 6 x 10^k up to two
  /// decades, so that a std axis over [0.1, 2] can be read; matplotlib(): Optuna's picture, only
  /// 10^-1 and 10^0 there. Minor labels that would overlap are thinned (see axis_ticks).
  LogLabelThresholds log_labels = LogLabelThresholds::readable();

  /// matplotlib's figsize: width_in x height_in inches at `dots_per_inch`.
  ContourOptions& figsize(double width_in, double height_in, double dots_per_inch = 100) {
    dpi = dots_per_inch;
    width = inches_to_pixels(width_in, dpi);
    height = inches_to_pixels(height_in, dpi);
    return *this;
  }
};

/// The title plot_contour gives a picture by default: "MNIST: Accuracy over (mean, std), 24 trials".
inline std::string contour_title(const std::string& study_name, const std::string& target_name,
                                 const std::string& x_param, const std::string& y_param, std::size_t n_trials) {
  return (study_name.empty() ? "" : study_name + ": ") + target_name + " over (" + x_param + ", " + y_param +
         "), " + std::to_string(n_trials) + (n_trials == 1 ? " trial" : " trials");
}

/// One axis of the contour: the parameter, its padded range, log or not.
struct ContourAxis {
  std::string name;
  double lo = 0, hi = 1;
  bool log = false;
};

/// A trial drawn on the contour (internal representation: a log parameter's plain value).
struct ContourPoint {
  double x = 0, y = 0, value = 0;
  int64_t number = -1;
};

/// The interpolated objective on the grid, before drawing.
struct ContourGrid {
  ContourAxis x, y;
  std::vector<double> xi, yi;        ///< grid coordinates (log-spaced on log axes)
  std::vector<double> z;             ///< z[j * xi.size() + i] is the value at (xi[i], yi[j])
  std::vector<ContourPoint> points;  ///< trials having both parameters, in the order given
  double at(std::size_t i, std::size_t j) const { return z[j * xi.size() + i]; }
};

/// What plot_contour drew, for callers and tests that read the picture back.
struct ContourFigure {
  Rect plot_area;                  ///< the contour panel (pixels of the PNG; the SVG's x 72/dpi)
  Rect colorbar_area;
  Axis x, y;                       ///< data -> pixel maps of the panel
  std::vector<double> levels;      ///< increasing; bands lie between consecutive levels
  std::vector<Rgb> band_colors;    ///< levels.size() - 1 colours, lowest band first
  Colormap colormap = Colormap::Blues;
  bool reversed = false;           ///< colormap read backwards (minimize: low is dark)
  std::optional<ContourPoint> best;
  std::string title;               ///< drawn above the panel (empty: none)
  std::vector<Tick> x_ticks, y_ticks;  ///< the axes' ticks as drawn, with their labels
  std::pair<double, double> to_px(double xv, double yv) const { return {x.to_px(xv), y.to_px(yv)}; }
};

namespace detail {

/// Optuna 3.1's _interpolate_zmap: the n x n grid where each cell of `zmap` (key: x index, y index)
/// is fixed and every other cell satisfies deg * z = sum of its in-grid neighbours. The system is
/// symmetric positive definite once the fixed cells' columns move to the right-hand side; solved
/// by a banded Cholesky factorization (half bandwidth n). Returns z[y * n + x].
inline std::vector<double> interpolate_zmap(const std::map<std::pair<int, int>, double>& zmap, int n) {
  if (zmap.empty()) throw std::invalid_argument("normlab::plot: nothing to interpolate");
  const std::size_t N = static_cast<std::size_t>(n) * n, b = n, w = b + 1;
  std::vector<double> band(N * w, 0.0), rhs(N, 0.0);
  std::vector<char> fixed(N, 0);
  for (const auto& [key, value] : zmap) {
    const std::size_t p = static_cast<std::size_t>(key.second) * n + key.first;
    fixed[p] = 1;
    rhs[p] = value;
  }
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const std::size_t p = static_cast<std::size_t>(y) * n + x;
      if (fixed[p]) {
        band[p * w] = 1;
        continue;
      }
      int degree = 0;
      const int nb[4][2] = {{-1, 0}, {1, 0}, {0, -1}, {0, 1}};
      for (const auto& d : nb) {
        const int xx = x + d[0], yy = y + d[1];
        if (xx < 0 || xx >= n || yy < 0 || yy >= n) continue;
        ++degree;
        const std::size_t q = static_cast<std::size_t>(yy) * n + xx;
        if (fixed[q]) rhs[p] += rhs[q];  // a fixed neighbour's value
        else if (q < p) band[p * w + (p - q)] = -1;  // lower triangle only
      }
      band[p * w] = degree;
    }
  // In-place Cholesky: band[i * w + (i - j)] = L(i, j) for i - b <= j <= i.
  for (std::size_t i = 0; i < N; ++i) {
    const std::size_t jmin = i >= b ? i - b : 0;
    for (std::size_t j = jmin; j <= i; ++j) {
      double s = band[i * w + (i - j)];
      const std::size_t kmin = std::max(jmin, j >= b ? j - b : std::size_t{0});
      for (std::size_t k = kmin; k < j; ++k) s -= band[i * w + (i - k)] * band[j * w + (j - k)];
      if (j == i) {
        if (!(s > 0)) throw std::runtime_error("normlab::plot: the interpolation system is singular");
        band[i * w] = std::sqrt(s);
      } else {
        band[i * w + (i - j)] = s / band[j * w];
      }
    }
  }
  std::vector<double> z(N);
  for (std::size_t i = 0; i < N; ++i) {  // L y = rhs
    double s = rhs[i];
    for (std::size_t k = i >= b ? i - b : 0; k < i; ++k) s -= band[i * w + (i - k)] * z[k];
    z[i] = s / band[i * w];
  }
  for (std::size_t i = N; i-- > 0;) {  // L^T x = y
    double s = z[i];
    for (std::size_t k = i + 1; k < std::min(N, i + b + 1); ++k) s -= band[k * w + (k - i)] * z[k];
    z[i] = s / band[i * w];
  }
  // The exact solution lies within the fixed values (maximum principle): clamp the rounding, so
  // that equal values give an exactly flat map.
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const auto& [key, value] : zmap) lo = std::min(lo, value), hi = std::max(hi, value);
  for (auto& v : z) v = std::clamp(v, lo, hi);
  return z;
}

/// numpy.linspace(lo, hi, n), and numpy.logspace of the log10 bounds for a log axis.
inline std::vector<double> grid_axis(double lo, double hi, bool log, int n) {
  std::vector<double> v(n);
  const double a = log ? std::log10(lo) : lo, c = log ? std::log10(hi) : hi;
  const double step = (c - a) / (n - 1);
  for (int i = 0; i < n; ++i) v[i] = i + 1 == n ? c : i * step + a;
  if (log)
    for (auto& x : v) x = std::pow(10.0, x);
  return v;
}

/// A polyline or loop in data coordinates.
using Path = std::vector<std::pair<double, double>>;

struct IsoContours {
  std::vector<Path> loops;  ///< closed boundaries of {z >= level} within the grid's rectangle
  std::vector<Path> lines;  ///< the iso-lines z = level inside the rectangle (open or closed)
};

/// Marching squares for one level over the grid padded by a ring of "below every level" cells
/// placed on the grid's edges, so that every boundary of {z >= level} is a closed loop (filled
/// with the even-odd rule it is exactly that region, clipped to the rectangle). Crossings lie on
/// grid edges, linearly interpolated in data coordinates (as matplotlib's contour generator);
/// saddle cells are resolved by the cell's mean value.
inline IsoContours iso_contours(const std::vector<double>& xi, const std::vector<double>& yi,
                                const std::vector<double>& z, double level) {
  const int nx = static_cast<int>(xi.size()), ny = static_cast<int>(yi.size());
  const int W = nx + 2;  // padded width
  const auto pad = [&](int I, int J) { return I == 0 || J == 0 || I == nx + 1 || J == ny + 1; };
  const auto value = [&](int I, int J) {
    return pad(I, J) ? -std::numeric_limits<double>::infinity()
                     : z[static_cast<std::size_t>(J - 1) * nx + (I - 1)];
  };
  const auto above = [&](int I, int J) { return !pad(I, J) && value(I, J) >= level; };
  const auto X = [&](int I) { return xi[std::clamp(I - 1, 0, nx - 1)]; };
  const auto Y = [&](int J) { return yi[std::clamp(J - 1, 0, ny - 1)]; };
  const auto hedge = [&](int I, int J) { return 2 * (J * W + I); };      // (I,J)-(I+1,J)
  const auto vedge = [&](int I, int J) { return 2 * (J * W + I) + 1; };  // (I,J)-(I,J+1)
  const auto vertex = [&](int e) -> std::pair<double, double> {
    const int cell = e / 2, I = cell % W, J = cell / W;
    const int I2 = (e % 2 == 0) ? I + 1 : I, J2 = (e % 2 == 0) ? J : J + 1;
    if (pad(I, J)) return {X(I2), Y(J2)};
    if (pad(I2, J2)) return {X(I), Y(J)};
    const double za = value(I, J), zb = value(I2, J2);
    const double t = (level - za) / (zb - za);
    return {X(I) + t * (X(I2) - X(I)), Y(J) + t * (Y(J2) - Y(J))};
  };

  struct Segment {
    int a, b;
    bool real;
  };
  std::vector<Segment> segs;
  for (int J = 0; J <= ny; ++J)
    for (int I = 0; I <= nx; ++I) {
      const bool c0 = above(I, J), c1 = above(I + 1, J), c2 = above(I + 1, J + 1), c3 = above(I, J + 1);
      const int e0 = hedge(I, J), e1 = vedge(I + 1, J), e2 = hedge(I, J + 1), e3 = vedge(I, J);
      const bool real = I >= 1 && J >= 1 && I + 1 <= nx && J + 1 <= ny;
      std::vector<int> cross;
      if (c0 != c1) cross.push_back(e0);
      if (c1 != c2) cross.push_back(e1);
      if (c3 != c2) cross.push_back(e2);
      if (c0 != c3) cross.push_back(e3);
      if (cross.size() == 2) {
        segs.push_back({cross[0], cross[1], real});
      } else if (cross.size() == 4) {
        const double centre = (value(I, J) + value(I + 1, J) + value(I + 1, J + 1) + value(I, J + 1)) / 4;
        const bool joined = centre >= level;  // the two above corners are connected
        const bool isolate_1_3 = c0 ? joined : !joined;
        if (isolate_1_3) {
          segs.push_back({e0, e1, real});
          segs.push_back({e2, e3, real});
        } else {
          segs.push_back({e3, e0, real});
          segs.push_back({e1, e2, real});
        }
      }
    }

  std::vector<std::array<int, 2>> at(static_cast<std::size_t>(2 * W * (ny + 2)), {-1, -1});
  for (int s = 0; s < static_cast<int>(segs.size()); ++s)
    for (int e : {segs[s].a, segs[s].b}) (at[e][0] < 0 ? at[e][0] : at[e][1]) = s;

  IsoContours out;
  std::vector<char> done(segs.size(), 0);
  for (int start = 0; start < static_cast<int>(segs.size()); ++start) {
    if (done[start]) continue;
    // Walk the loop: ordered segments and the vertex each one ends at.
    std::vector<int> order, ends;
    int s = start, v = segs[start].a;
    const int first_vertex = v;
    while (true) {
      done[s] = 1;
      order.push_back(s);
      v = segs[s].a == v ? segs[s].b : segs[s].a;
      ends.push_back(v);
      const int next = at[v][0] == s ? at[v][1] : at[v][0];
      if (next < 0 || done[next]) break;
      s = next;
    }
    Path loop{vertex(first_vertex)};
    for (int e : ends) loop.push_back(vertex(e));
    out.loops.push_back(loop);
    // Runs of real segments are the iso-lines; rotate so a run does not wrap around.
    const std::size_t m = order.size();
    std::size_t rot = 0;
    while (rot < m && segs[order[rot]].real) ++rot;
    if (rot == m) {
      out.lines.push_back(loop);  // a closed line inside the grid
      continue;
    }
    Path run;
    for (std::size_t k = 1; k <= m; ++k) {
      const std::size_t idx = (rot + k) % m;
      if (segs[order[idx]].real) {
        if (run.empty()) run.push_back(vertex(ends[(idx + m - 1) % m]));
        run.push_back(vertex(ends[idx]));
      } else if (!run.empty()) {
        out.lines.push_back(std::move(run));
        run.clear();
      }
    }
    if (!run.empty()) out.lines.push_back(std::move(run));
  }
  return out;
}

inline std::string join_names(const std::set<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s.empty() ? "none" : s;
}

}  // namespace detail

/// matplotlib's contour levels for data in [zmin, zmax] and N = `n`: MaxNLocator(n + 1,
/// min_n_ticks=1) values with steps [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10], trimmed to one level at
/// or below zmin and one at or above zmax (ContourSet._autolev).
inline std::vector<double> contour_levels(double zmin, double zmax, int n) {
  if (n < 1) throw std::invalid_argument("normlab::plot::contour_levels: needs n >= 1");
  const auto lev = max_n_locator(zmin, zmax, n + 1, {1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10}, 1);
  std::size_t i0 = 0, i1 = lev.size();
  for (std::size_t i = 0; i < lev.size(); ++i)
    if (lev[i] < zmin) i0 = i;
  for (std::size_t i = 0; i < lev.size(); ++i)
    if (lev[i] > zmax) {
      i1 = i + 1;
      break;
    }
  if (i1 < i0 + 3) i0 = 0, i1 = lev.size();
  return {lev.begin() + static_cast<std::ptrdiff_t>(i0), lev.begin() + static_cast<std::ptrdiff_t>(i1)};
}

/// The grid and interpolated objective Optuna 3.1 contours for (x_param, y_param). Throws
/// std::invalid_argument when a name is not a parameter of any trial, when both names are the
/// same, when no COMPLETE trial with a finite value has both parameters, or when a parameter takes
/// fewer than two distinct values among those trials.
inline ContourGrid contour_grid(const std::vector<study::FrozenTrial>& trials, const std::string& x_param,
                                const std::string& y_param, const ContourOptions& options = {}) {
  const std::string who = "normlab::plot_contour: ";
  if (options.grid_points < 2 || options.grid_points > 200)  // the exact solve holds n^3 doubles
    throw std::invalid_argument(who + "grid_points must be in 2..200 (got " +
                                std::to_string(options.grid_points) + ")");
  if (x_param == y_param)
    throw std::invalid_argument(who + "x and y are the same parameter '" + x_param + "'");
  std::set<std::string> known;
  for (const auto& t : trials)
    for (const auto& [name, v] : t.params) known.insert(name);
  for (const auto* name : {&x_param, &y_param})
    if (!known.count(*name))
      throw std::invalid_argument(who + "parameter '" + *name + "' does not exist in the study (parameters: " +
                                  detail::join_names(known) + ")");
  std::vector<const study::FrozenTrial*> complete;  // Optuna: COMPLETE, finite value
  for (const auto& t : trials)
    if (t.state == study::TrialState::Complete && t.value && std::isfinite(*t.value)) complete.push_back(&t);

  ContourGrid g;
  for (const auto& t : complete)
    if (t->params.count(x_param) && t->params.count(y_param))
      g.points.push_back({t->params.at(x_param), t->params.at(y_param), *t->value, t->number});
  if (g.points.empty())
    throw std::invalid_argument(who + "no COMPLETE trial with a finite value has both '" + x_param +
                                "' and '" + y_param + "' (" + std::to_string(complete.size()) +
                                " complete of " + std::to_string(trials.size()) + " trials)");

  const auto axis = [&](const std::string& name, const std::optional<bool>& force) {
    std::set<double> distinct;
    bool log = false;
    for (const auto& t : complete) {
      const auto it = t->params.find(name);
      if (it == t->params.end()) continue;
      distinct.insert(it->second);
      const auto d = t->distributions.find(name);
      if (d != t->distributions.end() && search::is_log(d->second)) log = true;
    }
    if (force) log = *force;
    if (distinct.size() < 2)
      throw std::invalid_argument(who + "parameter '" + name + "' takes a single value (" +
                                  normlab::detail::shortest_double(*distinct.begin()) +
                                  ") in the complete trials; a contour needs at least two");
    ContourAxis a{name, *distinct.begin(), *distinct.rbegin(), log};
    if (log) {
      if (!(a.lo > 0))
        throw std::invalid_argument(who + "parameter '" + name + "' has a value <= 0 (" +
                                    normlab::detail::shortest_double(a.lo) + "): it cannot be on a log axis");
      const double pad = (std::log10(a.hi) - std::log10(a.lo)) * 0.05;
      a.lo = std::pow(10.0, std::log10(a.lo) - pad);
      a.hi = std::pow(10.0, std::log10(a.hi) + pad);
    } else {
      const double pad = (a.hi - a.lo) * 0.05;
      a.lo -= pad;
      a.hi += pad;
    }
    return a;
  };
  g.x = axis(x_param, options.x_log);
  g.y = axis(y_param, options.y_log);
  const int n = options.grid_points;
  g.xi = detail::grid_axis(g.x.lo, g.x.hi, g.x.log, n);
  g.yi = detail::grid_axis(g.y.lo, g.y.hi, g.y.log, n);
  const auto nearest = [](const std::vector<double>& axis_values, double v) {
    int best = 0;
    double best_d = std::numeric_limits<double>::infinity();
    for (int i = 0; i < static_cast<int>(axis_values.size()); ++i) {
      const double d = std::fabs(axis_values[i] - v);
      if (d < best_d) best_d = d, best = i;
    }
    return best;
  };
  std::map<std::pair<int, int>, double> zmap;
  for (const auto& p : g.points) zmap[{nearest(g.xi, p.x), nearest(g.yi, p.y)}] = p.value;
  g.z = detail::interpolate_zmap(zmap, n);
  return g;
}

/// Draws the contour of the objective over (x_param, y_param) for `trials` (any states; COMPLETE
/// ones with a finite value are used) to `out` (.svg or .png), as Optuna 3.1's matplotlib
/// plot_contour does for two parameters. Throws std::invalid_argument for an unknown parameter,
/// no usable trial, a bad extension or options; std::runtime_error when the file cannot be written.
NORMLAB_INLINE ContourFigure plot_contour(const std::vector<study::FrozenTrial>& trials, const std::string& x_param,
                                  const std::string& y_param, const std::filesystem::path& out,
                                  const ContourOptions& options = {});
#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE ContourFigure plot_contour(const std::vector<study::FrozenTrial>& trials, const std::string& x_param,
                                  const std::string& y_param, const std::filesystem::path& out,
                                  const ContourOptions& options) {
  if (options.levels < 1 || options.levels > 200)
    throw std::invalid_argument("normlab::plot_contour: levels must be in 1..200 (got " +
                                std::to_string(options.levels) + ")");
  image_format(out);  // a bad extension fails before any work
  const ContourGrid g = contour_grid(trials, x_param, y_param, options);

  Canvas c(out, options.width, options.height, options.dpi);
  const std::string described =
      contour_title(options.study_name, options.target_name, x_param, y_param, g.points.size());
  const std::string title = options.title.value_or(described);
  c.set_title(title.empty() ? described : title);  // the SVG's <title> says what it shows anyway
  const Theme th = Theme::for_dpi(options.dpi);
  const double W = options.width;

  ContourFigure fig;
  fig.title = title;
  fig.colormap = options.colormap;
  fig.reversed = options.direction == study::StudyDirection::Minimize;
  const auto [zmin_it, zmax_it] = std::minmax_element(g.z.begin(), g.z.end());
  // The colour scale: the data's range, or the one asked for (pictures compared side by side).
  const double zlo = options.value_range ? std::min(options.value_range->first, *zmin_it) : *zmin_it;
  const double zhi = options.value_range ? std::max(options.value_range->second, *zmax_it) : *zmax_it;
  if (zhi - zlo <= 1e-12 * std::max(1.0, std::fabs(zhi))) {
    // A flat objective: levels around it (not matplotlib's 1e-13-wide ones), one band holding it.
    const double d = zhi == 0 ? 0.05 : 0.05 * std::fabs(zhi);
    fig.levels = contour_levels(zlo - d, zhi + d, options.levels);
  } else {
    fig.levels = contour_levels(zlo, zhi, options.levels);
  }
  const auto& lv = fig.levels;
  for (std::size_t k = 0; k + 1 < lv.size(); ++k) {
    const double layer = 0.5 * (lv[k] + lv[k + 1]);
    fig.band_colors.push_back(
        colormap_color(options.colormap, (layer - lv.front()) / (lv.back() - lv.front()), fig.reversed));
  }

  // Layout: matplotlib's subplot box (0.125, 0.11)-(0.9, 0.88) of the figure, the colour bar taking
  // 15% + 5% pad of its width (fig.colorbar's defaults, aspect 20); widened margins if labels need.
  const auto [top, height] = panel_rows(c, th, !title.empty(), g.x.log);
  Rect box{0.125 * W, top, 0.775 * W, height};
  {
    Axis probe_y(g.y.lo, g.y.hi, g.y.log, box.bottom(), box.y);
    probe_y.log_labels(options.log_labels);
    double widest = 0;
    for (const auto& t : axis_ticks(c, probe_y, th, box.h, true))
      if (!t.text.empty()) widest = std::max(widest, c.measure(t.text, th.px(th.font), t.superscript).w);
    const double need_left = widest + th.px(th.major_len + th.tick_pad + th.label_pad + th.label_font * 1.3 + 3);
    if (need_left > box.x) box.w -= need_left - box.x, box.x = need_left;
    std::vector<double> cb_values(lv.begin(), lv.end());
    double cb_widest = 0;
    for (const auto& s : format_ticks(cb_values)) cb_widest = std::max(cb_widest, c.measure(s, th.px(th.font)).w);
    const double cb_w = std::min(0.15 * box.w, box.h / 20);
    const double need_right = 0.05 * box.w + cb_w + cb_widest +
                              th.px(th.major_len + th.tick_pad + th.label_pad + th.label_font * 1.3 + 3);
    const double room_right = W - box.right() + 0.2 * box.w;  // the colour bar's 20% comes from the box
    if (need_right > room_right) box.w -= need_right - room_right;
  }
  const double cb_w = std::min(0.15 * box.w, box.h / 20);
  fig.plot_area = {box.x, box.y, 0.8 * box.w, box.h};
  fig.colorbar_area = {box.x + 0.85 * box.w, box.y, cb_w, box.h};
  const Rect& area = fig.plot_area;
  fig.x = Axis(g.x.lo, g.x.hi, g.x.log, area.x, area.right());
  fig.y = Axis(g.y.lo, g.y.hi, g.y.log, area.bottom(), area.y);
  fig.x.log_labels(options.log_labels);
  fig.y.log_labels(options.log_labels);

  cairo_t* cr = c.cr();
  draw_panel(c, area, fig.x, fig.y, th, /*grid=*/false);
  cairo_save(cr);
  cairo_rectangle(cr, area.x, area.y, area.w, area.h);
  cairo_clip(cr);
  // Bands: the whole panel in the lowest band's colour, then each {z >= level} over it, so that
  // neighbouring bands share one antialiased edge and no seam.
  c.fill_rect(area, fig.band_colors.front());
  std::vector<detail::IsoContours> iso;
  for (double level : lv) iso.push_back(detail::iso_contours(g.xi, g.yi, g.z, level));
  const auto trace = [&](const detail::Path& p, bool close) {
    for (std::size_t k = 0; k < p.size(); ++k) {
      const auto [px, py] = fig.to_px(p[k].first, p[k].second);
      if (k == 0) cairo_move_to(cr, px, py);
      else cairo_line_to(cr, px, py);
    }
    if (close) cairo_close_path(cr);
  };
  cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD);
  for (std::size_t k = 1; k + 1 < lv.size(); ++k) {
    cairo_new_path(cr);
    for (const auto& loop : iso[k].loops) trace(loop, true);
    c.set_color(fig.band_colors[k]);
    cairo_fill(cr);
  }
  cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING);
  if (options.show_lines) {
    const double eps = -(*zmax_it - *zmin_it) * 1e-15;
    const std::vector<double> dashes{th.px(3.7 * 0.5), th.px(1.6 * 0.5)};  // 'dashed', scaled by width
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (std::size_t k = 0; k < lv.size(); ++k) {
      cairo_new_path(cr);
      for (const auto& line : iso[k].lines) trace(line, line.size() > 2 && line.front() == line.back());
      c.stroke(rgb_hex(0x000000), th.px(0.5), lv[k] < eps ? dashes : std::vector<double>{});
    }
  }
  cairo_restore(cr);

  // Trials: Optuna's scatter(marker="o", c="black", s=20, edgecolors="grey", linewidth=2.0).
  const bool maximize = options.direction == study::StudyDirection::Maximize;
  for (const auto& p : g.points)
    if (!fig.best || (maximize ? p.value > fig.best->value : p.value < fig.best->value)) fig.best = p;
  if (options.show_points)
    for (const auto& p : g.points) {
      const auto [px, py] = fig.to_px(p.x, p.y);
      c.marker(px, py, th.px(std::sqrt(20.0)), rgb_hex(0x000000), rgb_hex(0x808080), th.px(2.0));
    }
  if (options.highlight_best && fig.best) {
    const auto [px, py] = fig.to_px(fig.best->x, fig.best->y);
    c.star(px, py, th.px(13), rgb_hex(0xd62728), rgb_hex(0xffffff), th.px(1.0));
  }

  fig.x_ticks = axis_ticks(c, fig.x, th, area.w, false);
  fig.y_ticks = axis_ticks(c, fig.y, th, area.h, true);
  draw_axes(c, area, fig.x, fig.y, th, x_param, y_param);
  draw_title(c, area, th, title);
  draw_colorbar(c, fig.colorbar_area, lv, fig.band_colors, options.target_name, th);
  c.save();
  return fig;
}
#endif

}  // namespace normlab::plot
