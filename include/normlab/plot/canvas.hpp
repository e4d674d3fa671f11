#pragma once
// normlab::plot's drawing layer: a cairo surface written as SVG or PNG, text with cairo's toy API
// ("Sans", DejaVu Sans on most systems, matplotlib's default font too), matplotlib's tick
// algorithms (MaxNLocator for linear axes, LogLocator + LogFormatterSciNotation for log10 axes),
// the 'Blues' and 'viridis' colormaps, and the ggplot look that Optuna's matplotlib plots use
// (grey panel, white grid, grey ticks and labels). No LibTorch.
//
// Sizes follow matplotlib at 100 dpi: a 640x480 picture is matplotlib's default 6.4x4.8 in figure,
// a point is 100/72 px. Larger pictures scale everything (a 1280x960 picture is the same figure at
// 200 dpi).
//
// SVG: cairo draws text as glyph outlines, which no search or screen reader can read. So that an
// SVG still says what it shows, Canvas::save() adds a <title> and, over every text it drew, the
// same words as an invisible (fill-opacity 0) <text> element: selectable, searchable, accessible.

#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace normlab::plot {

// ---- colours -------------------------------------------------------------------------------------

struct Rgb {
  double r = 0, g = 0, b = 0;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

/// 0xRRGGBB.
constexpr Rgb rgb_hex(unsigned v) {
  return {((v >> 16) & 0xff) / 255.0, ((v >> 8) & 0xff) / 255.0, (v & 0xff) / 255.0};
}

/// Colormaps, as matplotlib samples them (a 256-entry table).
///  - Blues: ColorBrewer's sequential blues (white to dark blue), what Optuna's matplotlib
///    plot_contour fills with, oriented so the best objective is darkest. The default.
///  - Viridis: matplotlib's perceptually uniform default (dark purple to yellow).
enum class Colormap { Blues, Viridis };

namespace detail {
struct ColorStop {
  double t;
  Rgb c;
};
inline const std::vector<ColorStop>& colormap_stops(Colormap map) {
  static const std::vector<ColorStop> blues = [] {
    // matplotlib._cm._Blues_data: nine evenly spaced ColorBrewer colours.
    const std::array<unsigned, 9> hex{0xf7fbff, 0xdeebf7, 0xc6dbef, 0x9ecae1, 0x6baed6,
                                      0x4292c6, 0x2171b5, 0x08519c, 0x08306b};
    std::vector<ColorStop> s;
    for (std::size_t i = 0; i < hex.size(); ++i) s.push_back({i / 8.0, rgb_hex(hex[i])});
    return s;
  }();
  static const std::vector<ColorStop> viridis = [] {
    // matplotlib's viridis table, every 16th entry and the last.
    const double v[17][3] = {
        {0.267004, 0.004874, 0.329415}, {0.282327, 0.094955, 0.417331},
        {0.278826, 0.175490, 0.483397}, {0.258965, 0.251537, 0.524736},
        {0.229739, 0.322361, 0.545706}, {0.199430, 0.387607, 0.554642},
        {0.172719, 0.448791, 0.557885}, {0.149039, 0.508051, 0.557250},
        {0.127568, 0.566949, 0.550556}, {0.120638, 0.625828, 0.533488},
        {0.157851, 0.683765, 0.501686}, {0.246070, 0.738910, 0.452024},
        {0.369214, 0.788888, 0.382914}, {0.515992, 0.831158, 0.294279},
        {0.678489, 0.863742, 0.189503}, {0.845561, 0.887322, 0.099702},
        {0.993248, 0.906157, 0.143936}};
    std::vector<ColorStop> s;
    for (int i = 0; i < 17; ++i)
      s.push_back({(i == 16 ? 255 : i * 16) / 255.0, Rgb{v[i][0], v[i][1], v[i][2]}});
    return s;
  }();
  return map == Colormap::Blues ? blues : viridis;
}
}  // namespace detail

/// The colormap's colour at t in [0, 1] (clamped; NaN gives t = 0), quantized to 256 entries as
/// matplotlib's lookup table is; `reversed` reads the table backwards (matplotlib's "_r" maps).
inline Rgb colormap_color(Colormap map, double t, bool reversed = false) {
  if (!(t >= 0)) t = 0;
  if (t > 1) t = 1;
  int index = std::min(255, static_cast<int>(t * 256));
  if (reversed) index = 255 - index;
  const double x = index / 255.0;
  const auto& s = detail::colormap_stops(map);
  std::size_t k = 1;
  while (k + 1 < s.size() && s[k].t < x) ++k;
  const double f = (x - s[k - 1].t) / (s[k].t - s[k - 1].t);
  const auto mix = [f](double a, double b) { return a + f * (b - a); };
  return {mix(s[k - 1].c.r, s[k].c.r), mix(s[k - 1].c.g, s[k].c.g), mix(s[k - 1].c.b, s[k].c.b)};
}

/// Where a colour sits on a colormap: the t in [0, 1] whose colour is nearest, and the Euclidean
/// RGB distance to it (0..sqrt(3)); for reading a rendered picture back.
inline std::pair<double, double> colormap_position(Colormap map, Rgb c) {
  double best_t = 0, best_d = std::numeric_limits<double>::infinity();
  for (int i = 0; i < 256; ++i) {
    const double t = i / 255.0;
    const Rgb m = colormap_color(map, t);
    const double d = std::hypot(m.r - c.r, m.g - c.g, m.b - c.b);
    if (d < best_d) best_d = d, best_t = t;
  }
  return {best_t, best_d};
}

// ---- numbers on axes -----------------------------------------------------------------------------

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

/// Ticks of a log10 axis showing [lo, hi] (lo > 0), as matplotlib's log scale makes them:
/// LogLocator major ticks at powers of ten (every `stride`-th when there are more than
/// `max_major`), minor ticks at 2..9 times them (none beyond 10 decades), labelled by
/// LogFormatterSciNotation: decades as 10^k; when the view spans at most one decade, some minor
/// ticks too (2, 3, 4, 6 x 10^k when it spans more than 0.4 decade, all below that).
inline std::vector<Tick> log_ticks(double lo, double hi, int max_major) {
  if (!(lo > 0) || !(hi > lo))
    throw std::invalid_argument("normlab::plot::log_ticks: needs 0 < lo < hi");
  const int numticks = std::clamp(max_major, 2, 9);
  const double llo = std::log10(lo), lhi = std::log10(hi);
  const double numdec_int = std::floor(lhi) - std::ceil(llo);
  const int stride = std::max(1, static_cast<int>(std::ceil(numdec_int / (numticks - 1))));
  const double numdec = lhi - llo;  // LogFormatter.set_locs' numdec (view span in decades)
  std::vector<int> sublabels;
  if (numdec > 1) sublabels = {1};
  else if (numdec > 0.4) sublabels = {1, 2, 3, 4, 6};  // round(geomspace(1, 10, 6)) less 10
  else sublabels = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const auto labelled = [&](int coeff) {
    return std::find(sublabels.begin(), sublabels.end(), coeff) != sublabels.end();
  };
  const auto exponent_text = [](int e) {
    return e < 0 ? "\u2212" + std::to_string(-e) : std::to_string(e);
  };
  const double eps = 1e-10 * (lhi - llo);
  std::vector<Tick> out;
  const int d0 = static_cast<int>(std::floor(llo)) - stride, d1 = static_cast<int>(std::ceil(lhi)) + stride;
  for (int d = d0; d <= d1; ++d) {
    const bool major = ((d - d0) % stride) == 0;
    if (major) {
      const double v = std::pow(10.0, d);
      const double lv = d;
      if (lv >= llo - eps && lv <= lhi + eps) out.push_back({v, "10", exponent_text(d), true});
    }
    if (stride == 1 && numdec_int <= 10) {
      for (int k = 2; k <= 9; ++k) {
        const double v = k * std::pow(10.0, d), lv = std::log10(v);
        if (lv < llo - eps || lv > lhi + eps) continue;
        Tick t{v, "", "", false};
        if (labelled(k)) t.text = std::to_string(k) + "\u00d710", t.superscript = exponent_text(d);
        out.push_back(t);
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Tick& a, const Tick& b) { return a.value < b.value; });
  return out;
}

// ---- geometry ------------------------------------------------------------------------------------

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
    return log_ ? log_ticks(lo_, hi_, max_ticks) : linear_ticks(lo_, hi_, max_ticks, integer_);
  }
  /// Linear ticks at whole numbers only.
  Axis& integer_ticks(bool on = true) {
    integer_ = on;
    return *this;
  }

 private:
  double lo_ = 0, hi_ = 1;
  bool log_ = false;
  bool integer_ = false;
  double px_lo_ = 0, px_hi_ = 1;
};

// ---- the canvas ----------------------------------------------------------------------------------

enum class ImageFormat { Svg, Png };

/// The format a path asks for by its extension (.svg or .png, any case); anything else is a
/// std::invalid_argument naming the path.
inline ImageFormat image_format(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".svg") return ImageFormat::Svg;
  if (ext == ".png") return ImageFormat::Png;
  throw std::invalid_argument("normlab::plot: cannot tell the image format of '" + path.string() +
                              "': the file name must end in .svg or .png");
}

enum class HAlign { Left, Center, Right };
/// Top: the top of digits and capitals; Center: their middle; Baseline; Bottom: the font's descent.
enum class VAlign { Top, Center, Baseline, Bottom };

/// Width and height (pixels) of a drawn or measured text.
struct TextSize {
  double w = 0, h = 0;
};

/// A picture being drawn: a cairo surface and context, written to `path` by save() as SVG or PNG
/// (by the extension). The picture starts white. Not copyable; movable.
class Canvas {
 public:
  Canvas(std::filesystem::path path, int width, int height)
      : path_(std::move(path)), format_(image_format(path_)), width_(width), height_(height) {
    if (width < 16 || height < 16 || width > 20000 || height > 20000)
      throw std::invalid_argument("normlab::plot: picture size " + std::to_string(width) + "x" +
                                  std::to_string(height) + " for '" + path_.string() +
                                  "' is out of range (16..20000 pixels a side)");
    if (format_ == ImageFormat::Svg) {
      surface_ = cairo_svg_surface_create_for_stream(&Canvas::append, svg_.get(), width, height);
#if CAIRO_VERSION >= CAIRO_VERSION_ENCODE(1, 16, 0)
      if (cairo_surface_status(surface_) == CAIRO_STATUS_SUCCESS)
        cairo_svg_surface_set_document_unit(surface_, CAIRO_SVG_UNIT_PX);
#endif
    } else {
      surface_ = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, width, height);
    }
    check(cairo_surface_status(surface_), "create the surface");
    cr_ = cairo_create(surface_);
    check(cairo_status(cr_), "create the drawing context");
    cairo_select_font_face(cr_, "Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_source_rgb(cr_, 1, 1, 1);
    cairo_paint(cr_);
  }
  Canvas(const Canvas&) = delete;
  Canvas& operator=(const Canvas&) = delete;
  Canvas(Canvas&& o) noexcept { *this = std::move(o); }
  Canvas& operator=(Canvas&& o) noexcept {
    if (this != &o) {
      release();
      path_ = std::move(o.path_);
      format_ = o.format_;
      width_ = o.width_;
      height_ = o.height_;
      title_ = std::move(o.title_);
      texts_ = std::move(o.texts_);
      saved_ = o.saved_;
      svg_ = std::move(o.svg_);  // the SVG surface writes through this (heap) buffer's address
      surface_ = std::exchange(o.surface_, nullptr);
      cr_ = std::exchange(o.cr_, nullptr);
    }
    return *this;
  }
  ~Canvas() { release(); }

  cairo_t* cr() const { return cr_; }
  int width() const { return width_; }
  int height() const { return height_; }
  ImageFormat format() const { return format_; }
  const std::filesystem::path& path() const { return path_; }

  /// The SVG's <title> (also a good one-line description of the picture).
  void set_title(std::string title) { title_ = std::move(title); }

  void set_color(Rgb c, double alpha = 1) { cairo_set_source_rgba(cr_, c.r, c.g, c.b, alpha); }

  void fill_rect(const Rect& r, Rgb c, double alpha = 1) {
    cairo_rectangle(cr_, r.x, r.y, r.w, r.h);
    set_color(c, alpha);
    cairo_fill(cr_);
  }

  /// A straight line; `dashes` (pixels, on/off) empty for solid.
  void line(double x0, double y0, double x1, double y1, Rgb c, double width,
            const std::vector<double>& dashes = {}, double alpha = 1) {
    cairo_move_to(cr_, x0, y0);
    cairo_line_to(cr_, x1, y1);
    stroke(c, width, dashes, alpha);
  }

  /// Strokes the current path.
  void stroke(Rgb c, double width, const std::vector<double>& dashes = {}, double alpha = 1) {
    set_color(c, alpha);
    cairo_set_line_width(cr_, width);
    cairo_set_dash(cr_, dashes.empty() ? nullptr : dashes.data(), static_cast<int>(dashes.size()), 0);
    cairo_stroke(cr_);
    cairo_set_dash(cr_, nullptr, 0, 0);
  }

  /// A disc of diameter `d` filled with `fill`, its outline `edge_width` wide (centred on the edge,
  /// as matplotlib strokes markers); no outline when edge_width is 0.
  void marker(double x, double y, double d, Rgb fill, Rgb edge, double edge_width,
              double alpha = 1) {
    cairo_new_path(cr_);
    cairo_arc(cr_, x, y, d / 2, 0, 2 * std::numbers::pi);
    set_color(fill, alpha);
    if (edge_width > 0) {
      cairo_fill_preserve(cr_);
      cairo_set_line_width(cr_, edge_width);
      set_color(edge, alpha);
      cairo_stroke(cr_);
    } else {
      cairo_fill(cr_);
    }
  }

  /// A five-pointed star of outer diameter `d`.
  void star(double x, double y, double d, Rgb fill, Rgb edge, double edge_width) {
    cairo_new_path(cr_);
    for (int k = 0; k < 10; ++k) {
      const double r = (k % 2 == 0 ? d / 2 : d / 2 * 0.42);
      const double a = -std::numbers::pi / 2 + k * std::numbers::pi / 5;
      if (k == 0) cairo_move_to(cr_, x + r * std::cos(a), y + r * std::sin(a));
      else cairo_line_to(cr_, x + r * std::cos(a), y + r * std::sin(a));
    }
    cairo_close_path(cr_);
    set_color(fill);
    cairo_fill_preserve(cr_);
    cairo_set_line_width(cr_, edge_width);
    cairo_set_line_join(cr_, CAIRO_LINE_JOIN_MITER);
    set_color(edge);
    cairo_stroke(cr_);
  }

  /// Size of `text` (then `superscript`, smaller and raised) at font size `size` (pixels).
  TextSize measure(const std::string& text, double size, const std::string& superscript = "") {
    cairo_set_font_size(cr_, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr_, text.c_str(), &e);
    double w = e.x_advance;
    double h = cap_height(size);
    if (!superscript.empty()) {
      cairo_set_font_size(cr_, size * kSuperscriptScale);
      cairo_text_extents(cr_, superscript.c_str(), &e);
      w += e.x_advance;
      h += kSuperscriptRaise * size;
    }
    return {w, h};
  }

  /// Draws `text` (and `superscript`) anchored at (x, y) with the given alignment, rotated by
  /// `angle_deg` counter-clockwise about the anchor. Returns its size.
  TextSize text(const std::string& text, double x, double y, double size, Rgb color,
                HAlign ha = HAlign::Left, VAlign va = VAlign::Baseline, double angle_deg = 0,
                const std::string& superscript = "") {
    const TextSize s = measure(text, size, superscript);
    cairo_font_extents_t fe;
    cairo_set_font_size(cr_, size);
    cairo_font_extents(cr_, &fe);
    const double cap = cap_height(size);
    double dx = ha == HAlign::Left ? 0 : ha == HAlign::Center ? -s.w / 2 : -s.w;
    double dy = 0;  // baseline offset, y down
    switch (va) {
      case VAlign::Top: dy = cap + (superscript.empty() ? 0 : kSuperscriptRaise * size); break;
      case VAlign::Center: dy = (cap + (superscript.empty() ? 0 : kSuperscriptRaise * size)) / 2; break;
      case VAlign::Baseline: dy = 0; break;
      case VAlign::Bottom: dy = -fe.descent; break;
    }
    cairo_save(cr_);
    cairo_translate(cr_, x, y);
    cairo_rotate(cr_, -angle_deg * std::numbers::pi / 180);
    set_color(color);
    cairo_set_font_size(cr_, size);
    cairo_move_to(cr_, dx, dy);
    cairo_show_text(cr_, text.c_str());
    double adv = measure(text, size).w;
    if (!superscript.empty()) {
      cairo_set_font_size(cr_, size * kSuperscriptScale);
      cairo_move_to(cr_, dx + adv, dy - kSuperscriptRaise * size);
      cairo_show_text(cr_, superscript.c_str());
    }
    cairo_restore(cr_);
    texts_.push_back({x, y, dx, dy, size, angle_deg, text, superscript});
    return s;
  }

  /// Finishes the picture and writes the file (replacing it). Throws std::runtime_error naming the
  /// path when cairo fails or the file cannot be written. A canvas is saved once.
  void save() {
    if (saved_) throw std::logic_error("normlab::plot: '" + path_.string() + "' was already saved");
    if (!surface_) throw std::logic_error("normlab::plot: this Canvas was moved from");
    std::string bytes;
    if (format_ == ImageFormat::Png) {
      cairo_surface_flush(surface_);
      check(cairo_surface_write_to_png_stream(surface_, &Canvas::append, &bytes), "encode the PNG");
    } else {
      cairo_destroy(cr_);
      cr_ = nullptr;
      cairo_surface_finish(surface_);
      check(cairo_surface_status(surface_), "write the SVG");
      bytes = annotate_svg(*svg_);
    }
    saved_ = true;
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("normlab::plot: cannot open '" + path_.string() + "' for writing");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw std::runtime_error("normlab::plot: could not write '" + path_.string() + "'");
  }

 private:
  static constexpr double kSuperscriptScale = 0.7;
  static constexpr double kSuperscriptRaise = 0.42;

  struct TextItem {
    double x, y, dx, dy, size, angle;
    std::string text, superscript;
  };

  static cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
  }

  double cap_height(double size) {
    cairo_set_font_size(cr_, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr_, "0", &e);
    return -e.y_bearing;
  }

  void check(cairo_status_t status, const char* what) const {
    if (status != CAIRO_STATUS_SUCCESS)
      throw std::runtime_error("normlab::plot: cannot " + std::string(what) + " for '" +
                               path_.string() + "': " + cairo_status_to_string(status));
  }

  static std::string xml_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default: out += c;
      }
    }
    return out;
  }

  std::string annotate_svg(const std::string& svg) const {
    const auto open = svg.find("<svg");
    const auto open_end = open == std::string::npos ? open : svg.find('>', open);
    const auto close = svg.rfind("</svg>");
    if (open_end == std::string::npos || close == std::string::npos || close < open_end) return svg;
    std::string head = "\n<title>" + xml_escape(title_) + "</title>\n";
    std::string body = "<g id=\"normlab-text\" fill-opacity=\"0\" font-family=\"DejaVu Sans, sans-serif\">\n";
    char buf[256];
    for (const auto& t : texts_) {
      char rot[48] = "";
      if (t.angle != 0) std::snprintf(rot, sizeof rot, " rotate(%.2f)", -t.angle);
      std::snprintf(buf, sizeof buf,
                    "<text transform=\"translate(%.2f %.2f)%s\" x=\"%.2f\" y=\"%.2f\" font-size=\"%.2f\">",
                    t.x, t.y, rot, t.dx, t.dy, t.size);
      body += buf + xml_escape(t.text);
      if (!t.superscript.empty()) {
        std::snprintf(buf, sizeof buf, "<tspan dy=\"%.2f\" font-size=\"%.2f\">", -kSuperscriptRaise * t.size,
                      t.size * kSuperscriptScale);
        body += buf + xml_escape(t.superscript) + "</tspan>";
      }
      body += "</text>\n";
    }
    body += "</g>\n";
    return svg.substr(0, open_end + 1) + head + svg.substr(open_end + 1, close - open_end - 1) +
           body + svg.substr(close);
  }

  void release() {
    if (cr_) cairo_destroy(cr_);
    if (surface_) cairo_surface_destroy(surface_);
    cr_ = nullptr;
    surface_ = nullptr;
  }

  std::filesystem::path path_;
  ImageFormat format_ = ImageFormat::Png;
  int width_ = 0, height_ = 0;
  std::string title_;
  std::vector<TextItem> texts_;
  bool saved_ = false;
  std::unique_ptr<std::string> svg_ = std::make_unique<std::string>();
  cairo_surface_t* surface_ = nullptr;
  cairo_t* cr_ = nullptr;
};

// ---- the ggplot look and axes --------------------------------------------------------------------

/// matplotlib's 'ggplot' style (what Optuna's matplotlib plots switch to), in pixels: `pt` is the
/// number of pixels per point (100/72 for a 640x480 picture, scaled with the picture's size).
struct Theme {
  double pt = 100.0 / 72.0;
  Rgb panel = rgb_hex(0xE5E5E5);
  Rgb grid = rgb_hex(0xFFFFFF);
  Rgb ink = rgb_hex(0x555555);  // ticks, tick labels, axis labels
  Rgb title_ink = rgb_hex(0x000000);
  double font = 10;         // tick labels (pt)
  double label_font = 12;   // axis labels: 'large'
  double title_font = 14.4; // 'x-large'
  double major_len = 3.5, minor_len = 2, major_width = 0.8, minor_width = 0.6, tick_pad = 3.5;
  double label_pad = 4, title_pad = 6, grid_width = 0.8;

  /// The theme for a picture of this size (pixels): matplotlib's figure at the dpi that makes it.
  static Theme for_size(int width, int height) {
    Theme t;
    t.pt = std::min(width / 640.0, height / 480.0) * 100.0 / 72.0;
    return t;
  }
  double px(double points) const { return points * pt; }
};

/// matplotlib's Axis.get_tick_space(): how many tick labels fit along an axis of `length_px`.
inline int tick_space(const Theme& th, double length_px, bool vertical) {
  const double size = th.font * (vertical ? 2 : 3);
  return std::max(1, static_cast<int>(std::floor(length_px / th.pt / size)));
}

/// The grey panel and its white grid lines at the major ticks.
inline void draw_panel(Canvas& c, const Rect& area, const Axis& x, const Axis& y, const Theme& th,
                       bool grid = true) {
  c.fill_rect(area, th.panel);
  if (!grid) return;
  for (const auto& t : x.ticks(tick_space(th, area.w, false)))
    if (t.major) c.line(x.to_px(t.value), area.y, x.to_px(t.value), area.bottom(), th.grid, th.px(th.grid_width));
  for (const auto& t : y.ticks(tick_space(th, area.h, true)))
    if (t.major) c.line(area.x, y.to_px(t.value), area.right(), y.to_px(t.value), th.grid, th.px(th.grid_width));
}

/// Ticks (outwards) and tick labels of the bottom x axis and the left y axis, and the axis labels.
/// Returns the widest y tick label (pixels), which the y label was placed beside.
inline double draw_axes(Canvas& c, const Rect& area, const Axis& x, const Axis& y, const Theme& th,
                        const std::string& x_label, const std::string& y_label) {
  const double font = th.px(th.font);
  double x_label_depth = 0;
  for (const auto& t : x.ticks(tick_space(th, area.w, false))) {
    const double px = x.to_px(t.value), len = th.px(t.major ? th.major_len : th.minor_len);
    c.line(px, area.bottom(), px, area.bottom() + len, th.ink, th.px(t.major ? th.major_width : th.minor_width));
    if (!t.text.empty()) {
      const auto s = c.text(t.text, px, area.bottom() + len + th.px(th.tick_pad), font, th.ink,
                            HAlign::Center, VAlign::Top, 0, t.superscript);
      x_label_depth = std::max(x_label_depth, s.h);
    }
  }
  double widest = 0;
  for (const auto& t : y.ticks(tick_space(th, area.h, true))) {
    const double py = y.to_px(t.value), len = th.px(t.major ? th.major_len : th.minor_len);
    c.line(area.x - len, py, area.x, py, th.ink, th.px(t.major ? th.major_width : th.minor_width));
    if (!t.text.empty()) {
      const auto s = c.text(t.text, area.x - len - th.px(th.tick_pad), py, font, th.ink,
                            HAlign::Right, VAlign::Center, 0, t.superscript);
      widest = std::max(widest, s.w);
    }
  }
  const double label_font = th.px(th.label_font);
  if (!x_label.empty())
    c.text(x_label, area.x + area.w / 2,
           area.bottom() + th.px(th.major_len + th.tick_pad + th.label_pad) + x_label_depth + font * 0.25,
           label_font, th.ink, HAlign::Center, VAlign::Top);
  if (!y_label.empty())
    c.text(y_label, area.x - th.px(th.major_len + th.tick_pad + th.label_pad) - widest,
           area.y + area.h / 2, label_font, th.ink, HAlign::Center, VAlign::Bottom, 90);
  return widest;
}

/// The title centred above the panel.
inline void draw_title(Canvas& c, const Rect& area, const Theme& th, const std::string& title) {
  if (!title.empty())
    c.text(title, area.x + area.w / 2, area.y - th.px(th.title_pad), th.px(th.title_font),
           th.title_ink, HAlign::Center, VAlign::Baseline);
}

/// A vertical colour bar over `area`: one band per pair of consecutive `levels` (increasing, the
/// bottom band first) in `colors` (levels.size() - 1 of them); ticks on the right at the levels,
/// every k-th so that at most 11 show (the phase holding the value nearest 0, as matplotlib's
/// FixedLocator(levels, nbins=10) does); `label` rotated along the right side.
inline void draw_colorbar(Canvas& c, const Rect& area, const std::vector<double>& levels,
                          const std::vector<Rgb>& colors, const std::string& label, const Theme& th) {
  if (levels.size() < 2 || colors.size() + 1 != levels.size())
    throw std::invalid_argument("normlab::plot::draw_colorbar: needs n + 1 levels for n colours");
  const Axis v(levels.front(), levels.back(), false, area.bottom(), area.y);
  for (std::size_t i = 0; i + 1 < levels.size(); ++i) {
    const double y0 = v.to_px(levels[i]), y1 = v.to_px(levels[i + 1]);
    // Reach half a pixel into the next band (drawn over it next) so antialiasing leaves no seam.
    const double top = i + 2 < levels.size() ? std::max(area.y, y1 - 0.5) : y1;
    c.fill_rect({area.x, top, area.w, y0 - top}, colors[i]);
  }
  const std::size_t step = std::max<std::size_t>(1, (levels.size() + 9) / 10);
  std::size_t phase = 0;
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t p = 0; p < step; ++p) {
    double m = std::numeric_limits<double>::infinity();
    for (std::size_t i = p; i < levels.size(); i += step) m = std::min(m, std::fabs(levels[i]));
    if (m < best) best = m, phase = p;
  }
  std::vector<double> shown;
  for (std::size_t i = phase; i < levels.size(); i += step) shown.push_back(levels[i]);
  const auto labels = format_ticks(shown);
  double widest = 0;
  const double font = th.px(th.font), len = th.px(th.major_len);
  for (std::size_t i = 0; i < shown.size(); ++i) {
    const double py = v.to_px(shown[i]);
    c.line(area.right(), py, area.right() + len, py, th.ink, th.px(th.major_width));
    const auto s = c.text(labels[i], area.right() + len + th.px(th.tick_pad), py, font, th.ink,
                          HAlign::Left, VAlign::Center);
    widest = std::max(widest, s.w);
  }
  if (!label.empty())
    c.text(label, area.right() + len + th.px(th.tick_pad + th.label_pad) + widest + th.px(th.label_font) * 0.25,
           area.y + area.h / 2, th.px(th.label_font), th.ink, HAlign::Center, VAlign::Top, 90);
}

}  // namespace normlab::plot
