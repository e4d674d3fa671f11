// normlab/plot/histogram.hpp: numpy.histogram's bins and counts, and a picture whose bars have the
// groups' colours where their counts say so.
#if defined(NORMLAB_HAVE_PLOT) && NORMLAB_HAVE_PLOT

#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <normlab/plot/histogram.hpp>

#include "../temp_dir.hpp"

using namespace normlab;

namespace {
/// The pixel at (x, y) of a PNG, read back through cairo.
plot::Rgb pixel(const std::filesystem::path& png, double x, double y) {
  std::unique_ptr<cairo_surface_t, void (*)(cairo_surface_t*)> s(
      cairo_image_surface_create_from_png(png.string().c_str()), cairo_surface_destroy);
  REQUIRE(cairo_surface_status(s.get()) == CAIRO_STATUS_SUCCESS);
  cairo_surface_flush(s.get());
  uint32_t v;
  std::memcpy(&v, cairo_image_surface_get_data(s.get()) +
                      static_cast<std::size_t>(y) * cairo_image_surface_get_stride(s.get()) + 4 * static_cast<int>(x),
              4);
  return {((v >> 16) & 0xff) / 255.0, ((v >> 8) & 0xff) / 255.0, (v & 0xff) / 255.0};
}
}  // namespace

TEST_CASE("bin_counts follows numpy.histogram: half-open bins, the last one closed", "[plot][histogram]") {
  // numpy.histogram([0, 0.5, 1, 1.5, 2, 2, 3, 7], bins=[0, 1, 2, 3]) -> [2, 2, 3]
  CHECK(plot::bin_counts({0, 0.5, 1, 1.5, 2, 2, 3, 7}, {0, 1, 2, 3}) == std::vector<int>{2, 2, 3});
  CHECK(plot::bin_counts({NAN, -1, INFINITY}, {0, 1}) == std::vector<int>{0});
}

TEST_CASE("plot_histogram bins every group on one range and draws each in its colour", "[plot][histogram]") {
  normlab::testing::TempDir dir("normlab_histogram");
  const std::vector<plot::HistogramSeries> groups = {{"notebook (0.1307, 0.3081)", {0.90, 0.91, 0.91, 0.92, NAN}},
                                                      {"exact (0, 1)", {0.80, 0.81, 0.92}}};
  plot::HistogramOptions o;
  o.bins = 4;
  o.x_label = "Accuracy";
  const auto png = dir.path / "noise.png";
  const auto fig = plot::plot_histogram(groups, png, o);
  REQUIRE(fig.edges.size() == 5);
  CHECK(fig.edges.front() == 0.80);
  CHECK(fig.edges.back() == 0.92);
  CHECK(fig.counts[0] == std::vector<int>{0, 0, 0, 4});  // 0.90 .. 0.92 all in [0.89, 0.92]
  CHECK(fig.counts[1] == std::vector<int>{2, 0, 0, 1});
  // The middle of the first bin, low down: only the second group (tab:orange, alpha 0.35 over the panel).
  const auto orange = pixel(png, fig.x.to_px(0.815), fig.y.to_px(0.5));
  CHECK(orange.r > orange.b + 0.1);
  // The middle of an empty bin is the grey panel (or a white grid line).
  const auto empty = pixel(png, fig.x.to_px(0.86), fig.y.to_px(1.7));
  CHECK(std::abs(empty.r - empty.b) < 0.02);
  // The last bin, above the second group's count of 1: the first group alone (tab:blue).
  const auto blue = pixel(png, fig.x.to_px(0.9125), fig.y.to_px(2.5));
  CHECK(blue.b > blue.r + 0.1);

  SECTION("an SVG names its labels") {
    plot::plot_histogram(groups, dir.path / "noise.svg", o);
    std::ifstream in(dir.path / "noise.svg");
    const std::string svg{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    CHECK(svg.find(">Accuracy<") != std::string::npos);
    CHECK(svg.find(">exact (0, 1)<") != std::string::npos);
  }
  SECTION("a given range: values outside it are not counted") {
    o.range = std::pair{0.85, 0.95};
    const auto f = plot::plot_histogram(groups, dir.path / "range.png", o);
    CHECK(f.edges.front() == 0.85);
    CHECK(f.edges.back() == 0.95);
    CHECK(f.counts[1] == std::vector<int>{0, 0, 1, 0});  // 0.80 and 0.81 left out; 0.92 in [0.9, 0.925)
  }
  SECTION("errors say what is wrong") {
    CHECK_THROWS_WITH(plot::plot_histogram({{"none", {NAN}}}, dir.path / "h.png"), Catch::Contains("no finite value"));
    o.bins = 0;
    CHECK_THROWS_WITH(plot::plot_histogram(groups, dir.path / "h.png", o), Catch::Contains("at least 1 bin"));
  }
}

#endif
