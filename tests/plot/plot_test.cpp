// normlab::plot: the contour and history pictures. Checks the interpolation against Optuna 3.1's
// own numbers, matplotlib's level and tick choices, the files written (PNG header, size and dpi,
// SVG structure, size in points and labels), titles and pictures sized for a paper and, reading
// the PNG back, that the colours say what the data says.
#if defined(NORMLAB_HAVE_PLOT) && NORMLAB_HAVE_PLOT

#include <catch2/catch.hpp>
#include <normlab/plot/contour.hpp>
#include <normlab/plot/history.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace normlab;
namespace fs = std::filesystem;

namespace {

// ---- the synthetic (mean, std) study, also in tests/plot/render_docs_images.cpp.txt ------------

struct SplitMix64 {
  uint64_t s;
  uint64_t next() {
    s += 0x9E3779B97F4A7C15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
};

double objective(double mean, double std) {
  const double a = mean - 0.13, b = std::log(std) - std::log(0.31);
  return -(a * a) - b * b;
}

study::FrozenTrial make_trial(int64_t number, double mean, double std, std::optional<double> value,
                              study::TrialState state = study::TrialState::Complete) {
  study::FrozenTrial t;
  t.number = number;
  t.trial_id = number + 1;
  t.state = state;
  t.value = value;
  t.params = {{"mean", mean}, {"std", std}};
  t.distributions = {{"mean", search::FloatDistribution{-3, 3, false, {}}},
                     {"std", search::FloatDistribution{0.1, 2, true, {}}}};
  return t;
}

/// 60 trials: 20 uniform over mean in [-3, 3], std log-uniform in [0.1, 2]; then 40 around the
/// best so far in a shrinking box (a crude stand-in for TPE's concentration near the optimum).
std::vector<study::FrozenTrial> synthetic_study(int n = 60, uint64_t seed = 42, int n_random = 20) {
  SplitMix64 rng{seed};
  std::vector<study::FrozenTrial> out;
  double best_mean = 0, best_std = 1, best = -INFINITY;
  const double lo = std::log(0.1), hi = std::log(2.0);
  for (int k = 0; k < n; ++k) {
    const double u1 = rng.uniform(), u2 = rng.uniform();
    double mean, lstd;
    if (k < n_random) {
      mean = -3 + 6 * u1;
      lstd = lo + (hi - lo) * u2;
    } else {
      const double w = std::pow(0.93, k - n_random);
      mean = std::clamp(best_mean + 3.0 * w * (2 * u1 - 1), -3.0, 3.0);
      lstd = std::clamp(std::log(best_std) + 1.5 * w * (2 * u2 - 1), lo, hi);
    }
    const double std = std::exp(lstd), v = objective(mean, std);
    out.push_back(make_trial(k, mean, std, v));
    if (v > best) best = v, best_mean = mean, best_std = std;
  }
  return out;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() / ("normlab_plot_test_" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A PNG read back through cairo.
struct Image {
  int width = 0, height = 0;
  std::vector<plot::Rgb> pixels;
  plot::Rgb at(int x, int y) const { return pixels[static_cast<std::size_t>(y) * width + x]; }
  plot::Rgb at(double x, double y) const { return at(static_cast<int>(x), static_cast<int>(y)); }
};

Image read_png(const fs::path& p) {
  std::unique_ptr<cairo_surface_t, void (*)(cairo_surface_t*)> s(
      cairo_image_surface_create_from_png(p.string().c_str()), cairo_surface_destroy);
  REQUIRE(cairo_surface_status(s.get()) == CAIRO_STATUS_SUCCESS);
  cairo_surface_flush(s.get());
  Image img;
  img.width = cairo_image_surface_get_width(s.get());
  img.height = cairo_image_surface_get_height(s.get());
  const int stride = cairo_image_surface_get_stride(s.get());
  const unsigned char* data = cairo_image_surface_get_data(s.get());
  bool opaque = true;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x) {
      uint32_t v;
      std::memcpy(&v, data + static_cast<std::size_t>(y) * stride + 4 * x, 4);
      // ARGB32, premultiplied; our pictures are opaque.
      opaque = opaque && ((v >> 24) & 0xff) == 0xff;
      img.pixels.push_back({((v >> 16) & 0xff) / 255.0, ((v >> 8) & 0xff) / 255.0, (v & 0xff) / 255.0});
    }
  REQUIRE(opaque);
  return img;
}

double distance(plot::Rgb a, plot::Rgb b) { return std::hypot(a.r - b.r, a.g - b.g, a.b - b.b); }

/// The colormap position of the picture around a pixel: the median t of the pixels within
/// `radius` whose colour lies on the colormap (markers, lines and labels are skipped).
double colormap_t_near(const Image& img, plot::Colormap map, double cx, double cy, int radius = 12) {
  std::vector<double> ts;
  for (int y = static_cast<int>(cy) - radius; y <= static_cast<int>(cy) + radius; ++y)
    for (int x = static_cast<int>(cx) - radius; x <= static_cast<int>(cx) + radius; ++x) {
      if (x < 0 || y < 0 || x >= img.width || y >= img.height) continue;
      const auto [t, d] = plot::colormap_position(map, img.at(x, y));
      if (d < 0.01) ts.push_back(t);
    }
  REQUIRE(ts.size() >= 20);
  std::nth_element(ts.begin(), ts.begin() + ts.size() / 2, ts.end());
  return ts[ts.size() / 2];
}

/// Element nesting of an SVG (tags balance, one root <svg>); comments, <?...?> and <!...> skipped.
bool well_formed_svg(const std::string& s) {
  std::vector<std::string> stack;
  int roots = 0;
  for (std::size_t i = s.find('<'); i != std::string::npos; i = s.find('<', i + 1)) {
    const auto end = s.find('>', i);
    if (end == std::string::npos) return false;
    const std::string tag = s.substr(i + 1, end - i - 1);
    if (tag.empty() || tag[0] == '?' || tag[0] == '!') continue;
    if (tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) return false;
      stack.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \t\n/"));
    if (stack.empty()) {
      ++roots;
      if (name != "svg") return false;
    }
    if (tag.back() != '/') stack.push_back(name);
  }
  return stack.empty() && roots == 1;
}

bool png_header(const std::string& bytes, int& width, int& height) {
  if (bytes.size() < 24 || bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || bytes.compare(12, 4, "IHDR") != 0)
    return false;
  const auto be32 = [&](std::size_t o) {
    return (static_cast<unsigned char>(bytes[o]) << 24) | (static_cast<unsigned char>(bytes[o + 1]) << 16) |
           (static_cast<unsigned char>(bytes[o + 2]) << 8) | static_cast<unsigned char>(bytes[o + 3]);
  };
  width = static_cast<int>(be32(16));
  height = static_cast<int>(be32(20));
  return true;
}

/// The PNG's pHYs chunk: pixels per metre (x, y); {0, 0} when it has none.
std::pair<uint32_t, uint32_t> png_pixels_per_metre(const std::string& bytes) {
  const auto at = bytes.find("pHYs");
  if (at == std::string::npos || at + 4 + 9 > bytes.size()) return {0, 0};
  const auto be32 = [&](std::size_t o) {
    return (uint32_t{static_cast<unsigned char>(bytes[o])} << 24) |
           (uint32_t{static_cast<unsigned char>(bytes[o + 1])} << 16) |
           (uint32_t{static_cast<unsigned char>(bytes[o + 2])} << 8) | static_cast<unsigned char>(bytes[o + 3]);
  };
  return {be32(at + 4), be32(at + 8)};
}

/// The labels of the ticks that have one, as "2×10^−1".
std::vector<std::string> tick_labels(const std::vector<plot::Tick>& ticks) {
  std::vector<std::string> out;
  for (const auto& t : ticks)
    if (!t.text.empty()) out.push_back(t.text + (t.superscript.empty() ? "" : "^" + t.superscript));
  return out;
}

}  // namespace

TEST_CASE("contour grid interpolates the z map as Optuna 3.1 does", "[plot][contour]") {
  const auto trials = synthetic_study();
  const auto g = plot::contour_grid(trials, "mean", "std");
  REQUIRE(g.points.size() == 60);
  REQUIRE(g.xi.size() == 100);
  REQUIRE(g.z.size() == 100 * 100);
  REQUIRE_FALSE(g.x.log);
  REQUIRE(g.y.log);  // std's distribution is log
  // Padded 5% (in log10 for std), as _get_axis_info.
  double lo = INFINITY, hi = -INFINITY, slo = INFINITY, shi = -INFINITY;
  for (const auto& t : trials) {
    lo = std::min(lo, t.params.at("mean")), hi = std::max(hi, t.params.at("mean"));
    slo = std::min(slo, t.params.at("std")), shi = std::max(shi, t.params.at("std"));
  }
  CHECK(g.x.lo == Approx(lo - 0.05 * (hi - lo)).epsilon(1e-12));
  CHECK(g.x.hi == Approx(hi + 0.05 * (hi - lo)).epsilon(1e-12));
  const double pad = 0.05 * (std::log10(shi) - std::log10(slo));
  CHECK(std::log10(g.y.lo) == Approx(std::log10(slo) - pad).epsilon(1e-12));
  CHECK(g.yi.front() == Approx(g.y.lo).epsilon(1e-12));
  CHECK(g.yi[1] / g.yi[0] == Approx(g.yi[99] / g.yi[98]).epsilon(1e-9));  // log-spaced
  // optuna.visualization.matplotlib._contour._calculate_griddata on the same 60 trials
  // (Python's splitmix64 copy of synthetic_study): zi[j][i].
  struct Ref {
    int j, i;
    double z;
  };
  for (const Ref& r : {Ref{0, 0, -4.576893807368548}, Ref{50, 50, -0.45546790194159126},
                       Ref{99, 0, -9.069027179524117}, Ref{10, 90, -4.539012301094393},
                       Ref{63, 47, -1.4289211354234985}}) {
    INFO("zi[" << r.j << "][" << r.i << "]");
    CHECK(g.at(r.i, r.j) == Approx(r.z).margin(1e-9));
  }
  // The z map's extremes are trial values and bound the harmonic interpolation.
  const auto [mn, mx] = std::minmax_element(g.z.begin(), g.z.end());
  CHECK(*mx == Approx(-0.005279923119022609).margin(1e-12));
  CHECK(*mn == Approx(-10.580209291834786).margin(1e-12));
}

TEST_CASE("contour levels and axis ticks are matplotlib's", "[plot][ticks]") {
  using V = std::vector<double>;
  const auto near = [](const V& a, const V& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::fabs(a[i] - b[i]) > 1e-9 * std::max(1.0, std::fabs(b[i]))) return false;
    return true;
  };
  // ax.contourf(x, y, z, 15).levels for data spanning these ranges (matplotlib 3.6.3).
  CHECK(near(plot::contour_levels(0, 1, 15),
             V{0, 0.08, 0.16, 0.24, 0.32, 0.4, 0.48, 0.56, 0.64, 0.72, 0.8, 0.88, 0.96, 1.04}));
  CHECK(near(plot::contour_levels(-3.7, 12.2, 15),
             V{-4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}));
  CHECK(near(plot::contour_levels(0.9612, 0.9891, 15),
             V{0.96, 0.962, 0.964, 0.966, 0.968, 0.97, 0.972, 0.974, 0.976, 0.978, 0.98, 0.982, 0.984,
               0.986, 0.988, 0.99}));
  CHECK(near(plot::contour_levels(-10.580209291834786, -0.005279923119022609, 15),
             V{-11.2, -10.4, -9.6, -8.8, -8.0, -7.2, -6.4, -5.6, -4.8, -4.0, -3.2, -2.4, -1.6, -0.8, 0.0}));
  CHECK(near(plot::contour_levels(1234.5, 1300.25, 15),
             V{1230, 1235, 1240, 1245, 1250, 1255, 1260, 1265, 1270, 1275, 1280, 1285, 1290, 1295, 1300, 1305}));
  CHECK(near(plot::contour_levels(-1e-7, 3e-7, 15),
             V{-1e-07, -7.5e-08, -5e-08, -2.5e-08, 0.0, 2.5e-08, 5e-08, 7.5e-08, 1e-07, 1.25e-07, 1.5e-07,
               1.75e-07, 2e-07, 2.25e-07, 2.5e-07, 2.75e-07, 3e-07}));
  CHECK(near(plot::max_n_locator(-2.95, 61.95, 9, {1, 2, 2.5, 5, 10}, 2, true), V{-10, 0, 10, 20, 30, 40, 50, 60, 70}));
  CHECK(near(plot::max_n_locator(-11.1, 0.5, 5, {1, 2, 2.5, 5, 10}, 2), V{-12.5, -10, -7.5, -5, -2.5, 0, 2.5}));

  const auto lin = plot::linear_ticks(-3.3, 3.3, 9);
  REQUIRE(lin.size() == 7);
  CHECK(lin.front().text == "\u22123");  // matplotlib's minus sign
  CHECK(lin[3].text == "0");
  CHECK(plot::format_ticks({-1.6, 0, 1.6}) == std::vector<std::string>{"\u22121.6", "0.0", "1.6"});
  CHECK(plot::format_ticks({0.974, 0.976}) == std::vector<std::string>{"0.974", "0.976"});

  // std on a log axis from 0.086 to 2.3: majors at 0.1 and 1 labelled 10^-1 and 10^0, minors
  // unlabelled (the view spans more than a decade).
  const auto lg = plot::log_ticks(0.086, 2.3, 9);
  std::vector<double> majors;
  for (const auto& t : lg)
    if (t.major) {
      majors.push_back(t.value);
      CHECK(t.text == "10");
    } else {
      CHECK(t.text.empty());
    }
  CHECK(near(majors, V{0.1, 1}));
  CHECK(std::find_if(lg.begin(), lg.end(), [](const plot::Tick& t) { return t.major; })->superscript == "\u22121");
  CHECK(std::count_if(lg.begin(), lg.end(), [](const plot::Tick& t) { return !t.major; }) == 10);
  // Less than a decade: some minor ticks get labels (2, 3, 4, 6 x 10^k).
  const auto narrow = plot::log_ticks(0.15, 0.7, 9);
  std::vector<std::string> labelled;
  for (const auto& t : narrow)
    if (!t.text.empty()) labelled.push_back(t.text + "^" + t.superscript);
  CHECK(labelled == std::vector<std::string>{"2\u00d710^\u22121", "3\u00d710^\u22121", "4\u00d710^\u22121",
                                             "6\u00d710^\u22121"});

  const plot::Axis ax(0.1, 10, true, 100, 300);
  CHECK(ax.to_px(1) == Approx(200));
  CHECK(ax.from_px(250) == Approx(std::sqrt(10.0) * 1).epsilon(1e-12));
}

TEST_CASE("plot_contour writes a PNG whose colours follow the objective", "[plot][contour]") {
  TempDir dir;
  auto trials = synthetic_study();
  // Trials that must not count: pruned and failed ones (even at the optimum), a NaN value.
  trials.push_back(make_trial(60, 0.13, 0.31, -1000.0, study::TrialState::Pruned));
  trials.push_back(make_trial(61, 0.13, 0.31, std::nullopt, study::TrialState::Fail));
  trials.push_back(make_trial(62, 0.13, 0.31, std::nan("")));
  plot::ContourOptions o;
  o.target_name = "Accuracy";
  o.direction = study::StudyDirection::Maximize;
  const auto png = dir / "contour.png";
  const auto fig = plot::plot_contour(trials, "mean", "std", png, o);

  int w = 0, h = 0;
  REQUIRE(png_header(slurp(png), w, h));
  CHECK(w == 640);
  CHECK(h == 480);
  REQUIRE(fig.best);
  CHECK(fig.best->number == 53);
  CHECK(fig.y.log());
  CHECK_FALSE(fig.x.log());
  REQUIRE(fig.levels.size() == 15);
  CHECK(fig.band_colors.size() == 14);
  CHECK(fig.band_colors.front() != fig.band_colors.back());

  const Image img = read_png(png);
  REQUIRE(img.width == 640);
  const auto [ox, oy] = fig.to_px(0.13, 0.31);
  // The top-left corner of the panel (std reaches about 1.5 in this study).
  const auto [cx, cy] = fig.to_px(-2.8, 1.3);
  REQUIRE(ox > fig.plot_area.x);
  REQUIRE(ox < fig.plot_area.right());
  REQUIRE(cy > fig.plot_area.y);
  const double t_opt = colormap_t_near(img, plot::Colormap::Blues, ox, oy);
  const double t_corner = colormap_t_near(img, plot::Colormap::Blues, cx, cy);
  INFO("t at the optimum " << t_opt << ", at (-2.8, 1.3) " << t_corner);
  CHECK(t_opt > t_corner);
  CHECK(t_opt > 0.85);     // the top band, darkest blue
  CHECK(t_corner < 0.45);  // a trial there scored about -10.5
  // The best trial is marked by a red star.
  const auto [bx, by] = fig.to_px(fig.best->x, fig.best->y);
  CHECK(distance(img.at(bx, by), plot::rgb_hex(0xd62728)) < 0.05);
  // Outside the panel the picture is white, the panel's corner belongs to a band.
  CHECK(distance(img.at(5, 5), {1, 1, 1}) < 1e-9);

  SECTION("minimizing reverses the colormap: the best (lowest) values are dark") {
    o.direction = study::StudyDirection::Minimize;
    const auto png2 = dir / "contour_min.png";
    const auto fig2 = plot::plot_contour(trials, "mean", "std", png2, o);
    CHECK(fig2.reversed);
    const Image img2 = read_png(png2);
    const double t2_opt = colormap_t_near(img2, plot::Colormap::Blues, ox, oy);
    const double t2_corner = colormap_t_near(img2, plot::Colormap::Blues, cx, cy);
    CHECK(t2_opt < t2_corner);
    CHECK(t2_opt < 0.15);
    CHECK(fig2.best->value < -10);  // the lowest value is now the best
  }
}

TEST_CASE("every contour cell inside one band is painted that band's colour", "[plot][contour]") {
  TempDir dir;
  const auto trials = synthetic_study();
  plot::ContourOptions o;
  o.direction = study::StudyDirection::Maximize;
  o.colormap = plot::Colormap::Viridis;
  o.show_lines = o.show_points = o.highlight_best = false;
  o.width = 960;  // cells of about 6 x 4 pixels
  o.height = 720;
  const auto png = dir / "clean.png";
  const auto fig = plot::plot_contour(trials, "mean", "std", png, o);
  const auto g = plot::contour_grid(trials, "mean", "std", o);
  const Image img = read_png(png);
  REQUIRE(img.width == 960);
  const auto band = [&](double z) {
    std::size_t k = 0;
    while (k + 2 < fig.levels.size() && z >= fig.levels[k + 1]) ++k;
    return k;
  };
  int checked = 0;
  for (std::size_t j = 0; j + 1 < g.yi.size(); j += 3)
    for (std::size_t i = 0; i + 1 < g.xi.size(); i += 3) {
      const std::size_t k = band(g.at(i, j));
      if (band(g.at(i + 1, j)) != k || band(g.at(i, j + 1)) != k || band(g.at(i + 1, j + 1)) != k) continue;
      // The centre of the cell, on screen (geometric mean on the log axis).
      const double px = fig.x.to_px((g.xi[i] + g.xi[i + 1]) / 2);
      const double py = fig.y.to_px(std::sqrt(g.yi[j] * g.yi[j + 1]));
      INFO("cell " << i << "," << j << " band " << k);
      CHECK(distance(img.at(px, py), fig.band_colors[k]) < 3.0 / 255);
      ++checked;
    }
  CHECK(checked > 500);
  // Higher bands are brighter on viridis (yellow is the best when maximizing).
  const auto luminance = [](plot::Rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; };
  CHECK(luminance(fig.band_colors.back()) > luminance(fig.band_colors.front()));
}

TEST_CASE("plot_contour writes a well-formed SVG that names its axes", "[plot][contour][svg]") {
  TempDir dir;
  plot::ContourOptions o;
  o.target_name = "Accuracy & <loss>";  // escaped in the SVG's text
  const auto svg = dir / "contour.SVG";  // the extension in any case
  plot::plot_contour(synthetic_study(), "mean", "std", svg, o);
  const std::string s = slurp(svg);
  REQUIRE(s.size() > 1000);
  CHECK(s.rfind("<?xml", 0) == 0);
  CHECK(well_formed_svg(s));
  // 640x480 pixels at 100 dpi is a 6.4x4.8 in figure: 460.8x345.6 pt, as matplotlib's SVG.
  CHECK(s.find("width=\"460.8pt\" height=\"345.6pt\"") != std::string::npos);
  const std::string title = "Accuracy &amp; &lt;loss&gt; over (mean, std), 60 trials";
  for (const std::string label : {">mean<", ">std<", ">Accuracy &amp; &lt;loss&gt;<", ">10<", ">2\u00d710<"}) {
    INFO(label);
    CHECK(s.find(label) != std::string::npos);
  }
  CHECK(s.find(">" + title + "<") != std::string::npos);
  CHECK(s.find("<title>" + title + "</title>") != std::string::npos);
  // Vector bands, not an embedded raster.
  CHECK(s.find("<image") == std::string::npos);
  CHECK(s.size() < 400 * 1024);
}

TEST_CASE("plot_contour options: size, forced scales, parameters missing from some trials", "[plot][contour]") {
  TempDir dir;
  auto trials = synthetic_study(30);
  // A trial with only 'mean' counts for mean's range but is not drawn.
  study::FrozenTrial only_mean = make_trial(30, 2.9, 1.0, -3.0);
  only_mean.params.erase("std");
  only_mean.distributions.erase("std");
  trials.push_back(only_mean);
  plot::ContourOptions o;
  o.width = 320;
  o.height = 240;
  o.y_log = false;
  o.x_log = false;
  o.title = "";
  const auto png = dir / "small.png";
  const auto fig = plot::plot_contour(trials, "mean", "std", png, o);
  int w = 0, h = 0;
  REQUIRE(png_header(slurp(png), w, h));
  CHECK((w == 320 && h == 240));
  CHECK_FALSE(fig.y.log());
  const auto g = plot::contour_grid(trials, "mean", "std", o);
  CHECK(g.points.size() == 30);
  double hi = -INFINITY, lo = INFINITY;
  for (const auto& t : trials) hi = std::max(hi, t.params.at("mean")), lo = std::min(lo, t.params.at("mean"));
  CHECK(hi == 2.9);
  CHECK(g.x.hi == Approx(hi + 0.05 * (hi - lo)));
  // Swapped axes work too.
  const auto fig2 = plot::plot_contour(trials, "std", "mean", dir / "swapped.svg", plot::ContourOptions{});
  CHECK(fig2.x.log());

  // A flat objective: one band holds it, with levels around it (not 1e-13 apart), a flat picture.
  auto flat = synthetic_study(8);
  for (auto& t : flat) t.value = 0.5;
  const auto png3 = dir / "flat.png";
  const auto fig3 = plot::plot_contour(flat, "mean", "std", png3);
  REQUIRE(fig3.levels.size() >= 3);
  CHECK(fig3.levels.front() < 0.49);
  CHECK(fig3.levels.back() > 0.51);
  const auto g3 = plot::contour_grid(flat, "mean", "std");
  CHECK(std::all_of(g3.z.begin(), g3.z.end(), [](double z) { return z == 0.5; }));
  const Image img3 = read_png(png3);
  const auto a = fig3.plot_area;
  CHECK(distance(img3.at(a.x + 3, a.y + 3), img3.at(a.right() - 3, a.bottom() - 3)) < 1e-9);
}

TEST_CASE("plot_contour's errors say what is wrong", "[plot][contour][errors]") {
  TempDir dir;
  const auto trials = synthetic_study(10);
  using Catch::Matchers::Contains;
  REQUIRE_THROWS_AS(plot::plot_contour(trials, "mean", "lr", dir / "a.png"), std::invalid_argument);
  REQUIRE_THROWS_WITH(plot::plot_contour(trials, "mean", "lr", dir / "a.png"),
                      Contains("'lr' does not exist") && Contains("mean, std"));
  REQUIRE_THROWS_WITH(plot::plot_contour(trials, "mean", "mean", dir / "a.png"), Contains("same parameter"));
  REQUIRE_THROWS_WITH(plot::plot_contour(trials, "mean", "std", dir / "a.pdf"),
                      Contains("a.pdf") && Contains(".svg or .png"));
  REQUIRE_THROWS_AS(plot::plot_contour(trials, "mean", "std", dir / "noext"), std::invalid_argument);
  CHECK_FALSE(fs::exists(dir / "a.png"));
  CHECK_FALSE(fs::exists(dir / "a.pdf"));

  std::vector<study::FrozenTrial> unfinished;
  for (int k = 0; k < 3; ++k) unfinished.push_back(make_trial(k, 0.1 * k, 0.5, std::nullopt, study::TrialState::Running));
  unfinished.push_back(make_trial(3, 0.5, 0.4, -1.0, study::TrialState::Pruned));
  REQUIRE_THROWS_WITH(plot::plot_contour(unfinished, "mean", "std", dir / "a.png"),
                      Contains("no COMPLETE trial") && Contains("'mean'") && Contains("'std'"));
  REQUIRE_THROWS_WITH(plot::plot_contour({}, "mean", "std", dir / "a.png"), Contains("does not exist"));

  const std::vector<study::FrozenTrial> one{make_trial(0, 0.5, 0.4, -1.0)};
  REQUIRE_THROWS_WITH(plot::plot_contour(one, "mean", "std", dir / "a.png"),
                      Contains("single value") && Contains("'mean'"));

  plot::ContourOptions bad;
  bad.levels = 0;
  REQUIRE_THROWS_WITH(plot::plot_contour(trials, "mean", "std", dir / "a.png", bad), Contains("levels"));
  bad = {};
  bad.width = 3;
  REQUIRE_THROWS_WITH(plot::plot_contour(trials, "mean", "std", dir / "a.png", bad), Contains("out of range"));

  // A folder that does not exist: the file cannot be written.
  REQUIRE_THROWS_AS(plot::plot_contour(trials, "mean", "std", dir / "missing" / "a.png"), std::runtime_error);
  REQUIRE_THROWS_WITH(plot::plot_contour(trials, "mean", "std", dir / "missing" / "a.svg"),
                      Contains("missing"));
}

TEST_CASE("plot_optimization_history draws values and the best so far", "[plot][history]") {
  TempDir dir;
  auto trials = synthetic_study();
  trials.push_back(make_trial(60, 0.1, 0.3, std::nullopt, study::TrialState::Running));
  plot::HistoryOptions o;
  o.target_name = "Accuracy";
  o.direction = study::StudyDirection::Maximize;
  const auto png = dir / "history.png";
  const auto fig = plot::plot_optimization_history(trials, png, o);
  REQUIRE(fig.numbers.size() == 60);
  double best = -INFINITY;
  for (std::size_t i = 0; i < fig.values.size(); ++i) {
    best = std::max(best, fig.values[i]);
    CHECK(fig.best_values[i] == best);
  }
  int w = 0, h = 0;
  REQUIRE(png_header(slurp(png), w, h));
  CHECK((w == 760 && h == 480));
  const Image img = read_png(png);
  // Trial 2 scored about -10.6, far below the best line: its dot is tab:blue.
  REQUIRE(fig.values[2] < -10);
  CHECK(distance(img.at(fig.x.to_px(2), fig.y.to_px(fig.values[2])), plot::rgb_hex(0x1f77b4)) < 0.05);
  // The best line's dots are tab:red at alpha 0.5 over the grey panel (or a blue dot).
  const plot::Rgb line = img.at(fig.x.to_px(20), fig.y.to_px(fig.best_values[20]));
  CHECK(line.r > line.b);

  SECTION("minimize: the running minimum; SVG with its labels") {
    o.direction = study::StudyDirection::Minimize;
    o.target_name = "Loss";
    const auto svg = dir / "history.svg";
    const auto f2 = plot::plot_optimization_history(trials, svg, o);
    for (std::size_t i = 1; i < f2.best_values.size(); ++i) CHECK(f2.best_values[i] <= f2.best_values[i - 1]);
    CHECK(f2.best_values.back() == Approx(-10.580209291834786));
    const std::string s = slurp(svg);
    CHECK(well_formed_svg(s));
    for (const char* label : {">Trial<", ">Loss<", ">Best Value<", ">Loss of 60 trials and the best so far<"}) {
      INFO(label);
      CHECK(s.find(label) != std::string::npos);
    }
  }
  SECTION("errors") {
    using Catch::Matchers::Contains;
    const std::vector<study::FrozenTrial> none{make_trial(0, 0.1, 0.3, std::nullopt, study::TrialState::Fail)};
    REQUIRE_THROWS_WITH(plot::plot_optimization_history(none, dir / "h.png"), Contains("no COMPLETE trial"));
    REQUIRE_THROWS_WITH(plot::plot_optimization_history(trials, dir / "h.jpg"), Contains("h.jpg"));
  }
}

TEST_CASE("a contour for a paper: size in inches, DPI, a title that says what it shows, readable std ticks",
          "[plot][contour][paper]") {
  TempDir dir;
  const auto trials = synthetic_study();
  plot::ContourOptions o;
  o.study_name = "MNIST";
  o.target_name = "Accuracy";
  o.direction = study::StudyDirection::Maximize;
  o.figsize(3.5, 2.625, 300);  // a one-column figure at 300 dpi
  CHECK((o.width == 1050 && o.height == 788));
  const auto png = dir / "paper.png";
  const auto fig = plot::plot_contour(trials, "mean", "std", png, o);
  CHECK(fig.title == "MNIST: Accuracy over (mean, std), 60 trials");
  const std::string bytes = slurp(png);
  int w = 0, h = 0;
  REQUIRE(png_header(bytes, w, h));
  CHECK((w == 1050 && h == 788));
  // 300 dpi is 11811 pixels per metre, in the pHYs chunk that tells LaTeX the size in inches.
  CHECK(png_pixels_per_metre(bytes) == std::pair<uint32_t, uint32_t>{11811, 11811});
  const Image img = read_png(png);  // libpng reads it back, the inserted chunk included
  CHECK((img.width == 1050 && img.height == 788));
  // A 3.5 in figure keeps its x label: nothing is drawn on the last row, the label (12 pt, 50 px
  // at 300 dpi) is drawn in the lower half of the margin under the panel.
  const auto inked = [&](int y) {
    for (int x = 0; x < img.width; ++x)
      if (distance(img.at(x, y), {1, 1, 1}) > 0.5) return true;
    return false;
  };
  CHECK_FALSE(inked(img.height - 1));
  int label_rows = 0;
  for (int y = static_cast<int>((fig.plot_area.bottom() + img.height) / 2); y < img.height; ++y) label_rows += inked(y);
  CHECK(label_rows > 25);

  // The std axis spans 0.110 .. 1.534, 1.14 decades (the trials' std padded by 5% in log10):
  // matplotlib's thresholds label only 10^0 there, normlab's 2, 3, 4, 6 x 10^-1 as well.
  const double decades = std::log10(fig.y.hi() / fig.y.lo());
  CHECK((decades > 1 && decades < 2));
  CHECK(fig.y.lo() > 0.1);
  CHECK(fig.y.hi() < 2);
  CHECK(tick_labels(fig.y_ticks) == std::vector<std::string>{"2\u00d710^\u22121", "3\u00d710^\u22121",
                                                             "4\u00d710^\u22121", "6\u00d710^\u22121", "10^0"});
  CHECK(std::count_if(fig.y_ticks.begin(), fig.y_ticks.end(), [](const plot::Tick& t) { return !t.major; }) == 8);
  o.log_labels = plot::LogLabelThresholds::matplotlib();  // Optuna's own picture: one label
  const auto optuna_like = plot::plot_contour(trials, "mean", "std", dir / "optuna_like.png", o);
  CHECK(tick_labels(optuna_like.y_ticks) == std::vector<std::string>{"10^0"});

  SECTION("text and lines scale with the DPI, not with the picture") {
    plot::ContourOptions a, b;
    a.width = 640, a.height = 480, a.dpi = 100;
    b.width = 1280, b.height = 960, b.dpi = 200;  // the same 6.4x4.8 in figure, twice the pixels
    const auto fa = plot::plot_contour(trials, "mean", "std", dir / "a.png", a);
    const auto fb = plot::plot_contour(trials, "mean", "std", dir / "b.png", b);
    CHECK(fb.plot_area.x == Approx(2 * fa.plot_area.x).margin(2));
    CHECK(fb.plot_area.w == Approx(2 * fa.plot_area.w).margin(2));
    CHECK(fb.plot_area.h == Approx(2 * fa.plot_area.h).margin(1));
    // The same pixels at 100 dpi are a 12.8x9.6 in figure: its 10 pt labels fit in matplotlib's
    // left margin of 12.5%, which the 200 dpi ones outgrow.
    plot::ContourOptions c = b;
    c.dpi = 100;
    const auto fc = plot::plot_contour(trials, "mean", "std", dir / "c.png", c);
    CHECK(fc.plot_area.x == 0.125 * 1280);
    CHECK(fb.plot_area.x > 0.125 * 1280 + 10);
  }
  SECTION("the SVG is the same figure in points, and says its title in words") {
    const auto svg = dir / "paper.svg";
    o.log_labels = plot::LogLabelThresholds::readable();
    plot::plot_contour(trials, "mean", "std", svg, o);
    const std::string s = slurp(svg);
    CHECK(well_formed_svg(s));
    CHECK(s.find("width=\"252pt\" height=\"189.12pt\"") != std::string::npos);  // 1050x788 px at 300 dpi
    CHECK(s.find("<title>MNIST: Accuracy over (mean, std), 60 trials</title>") != std::string::npos);
    CHECK(s.find(">MNIST: Accuracy over (mean, std), 60 trials</text>") != std::string::npos);  // drawn
    CHECK(s.find(">6\u00d710<") != std::string::npos);
  }
  SECTION("a title that is given, or none") {
    o.title = "Figure 3: MNIST accuracy";
    CHECK(plot::plot_contour(trials, "mean", "std", dir / "t.svg", o).title == "Figure 3: MNIST accuracy");
    CHECK(slurp(dir / "t.svg").find(">Figure 3: MNIST accuracy</text>") != std::string::npos);
    o.title = "";
    CHECK(plot::plot_contour(trials, "mean", "std", dir / "none.svg", o).title.empty());
    const std::string s = slurp(dir / "none.svg");
    // No title drawn, but the SVG's <title> still says what the picture is.
    CHECK(s.find(">MNIST: Accuracy over (mean, std), 60 trials</text>") == std::string::npos);
    CHECK(s.find("<title>MNIST: Accuracy over (mean, std), 60 trials</title>") != std::string::npos);
  }
  SECTION("a DPI out of range is an error that names it") {
    o.dpi = 5;
    REQUIRE_THROWS_WITH(plot::plot_contour(trials, "mean", "std", dir / "d.png", o),
                        Catch::Matchers::Contains("dpi 5 for") && Catch::Matchers::Contains("10..2400"));
  }
}

TEST_CASE("crowded minor log labels thin to 2 and 5 x 10^k, then to none", "[plot][contour][ticks]") {
  TempDir dir;
  const auto trials = synthetic_study();
  const auto labels_at = [&](int width, bool std_on_x) {
    plot::ContourOptions o;
    o.width = width;
    o.height = width * 3 / 4;
    const auto fig = std_on_x ? plot::plot_contour(trials, "std", "mean", dir / "x.png", o)
                              : plot::plot_contour(trials, "mean", "std", dir / "y.png", o);
    REQUIRE((std_on_x ? fig.x : fig.y).log());
    return tick_labels(std_on_x ? fig.x_ticks : fig.y_ticks);
  };
  using L = std::vector<std::string>;
  const std::string two = "2\u00d710^\u22121", three = "3\u00d710^\u22121", four = "4\u00d710^\u22121",
                    five = "5\u00d710^\u22121", six = "6\u00d710^\u22121", one = "10^0";
  // Vertical labels are one line high: 2, 3, 4, 6 x 10^-1 fit down to a 400x300 picture.
  CHECK(labels_at(400, false) == L{two, three, four, six, one});
  CHECK(labels_at(320, false) == L{two, five, one});
  // Horizontal ones are wider: 2 and 5 x 10^-1 in a 640x480 picture, none at 240x180.
  CHECK(labels_at(640, true) == L{two, five, one});
  CHECK(labels_at(240, true) == L{one});
}

TEST_CASE("the history for a paper: PNG and SVG, DPI and a title", "[plot][history][paper]") {
  TempDir dir;
  const auto trials = synthetic_study();
  plot::HistoryOptions o;
  o.study_name = "MNIST";
  o.target_name = "Accuracy";
  o.direction = study::StudyDirection::Maximize;
  o.figsize(7.6, 4.8, 200);
  const auto png = dir / "history.png", svg = dir / "history.svg";
  const auto fig = plot::plot_optimization_history(trials, png, o);
  plot::plot_optimization_history(trials, svg, o);
  CHECK(fig.title == "MNIST: Accuracy of 60 trials and the best so far");
  const std::string bytes = slurp(png);
  int w = 0, h = 0;
  REQUIRE(png_header(bytes, w, h));
  CHECK((w == 1520 && h == 960));
  CHECK(png_pixels_per_metre(bytes) == std::pair<uint32_t, uint32_t>{7874, 7874});
  const Image img = read_png(png);
  CHECK((img.width == 1520 && img.height == 960));
  // Trial 2's dot (about -10.6) is tab:blue at 200 dpi too.
  CHECK(distance(img.at(fig.x.to_px(2), fig.y.to_px(fig.values[2])), plot::rgb_hex(0x1f77b4)) < 0.05);
  const std::string s = slurp(svg);
  CHECK(well_formed_svg(s));
  CHECK(s.find("width=\"547.2pt\" height=\"345.6pt\"") != std::string::npos);
  CHECK(s.find(">MNIST: Accuracy of 60 trials and the best so far<") != std::string::npos);
  o.show_best = false;
  o.study_name = "";
  CHECK(plot::plot_optimization_history(trials, dir / "h2.svg", o).title == "Accuracy of 60 trials");
}

#endif  // NORMLAB_HAVE_PLOT
