#pragma once
// Colours for normlab's plots: Rgb, and the 'Blues' and 'viridis' colormaps sampled as
// matplotlib's 256-entry lookup tables (colormap_color), with the inverse that reads a rendered
// picture back (colormap_position). Its own header because it is matplotlib's data, not drawing:
// plain C++, no cairo, no LibTorch.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

namespace normlab::plot {

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

}  // namespace normlab::plot
