// normlab/report/study_plots.hpp: the study's pictures at a size and DPI a paper asks for.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <normlab/report/study_plots.hpp>
#include <sstream>

#include "../temp_dir.hpp"
#include "report_fixture.hpp"

using namespace normlab;

TEST_CASE("parse_plot_size reads pixels and inches, and quotes a malformed size", "[report][plots]") {
  auto px = report::parse_plot_size("1050x788", 150);
  CHECK((px.width == 1050 && px.height == 788 && px.dpi == 150));
  auto in = report::parse_plot_size("3.5x2.625in", 300);
  CHECK((in.width == 1050 && in.height == 788 && in.dpi == 300));
  auto fallback = report::parse_plot_size("", 100);
  CHECK((fallback.width == 0 && fallback.height == 0));
  for (const char* bad : {"1050", "x788", "1050x", "0x10", "-5x10", "10x10cm", "axb"})
    CHECK_THROWS_WITH(report::parse_plot_size(bad, 100),
                      "--plot-size expects WxH in pixels (1050x788) or inches (3.5x2.625in), got '" + std::string(bad) + "'");
  CHECK_THROWS_WITH(report::parse_plot_size("", 0), Catch::StartsWith("--plot-dpi expects a positive number"));
}

#if NORMLAB_HAVE_PLOT
TEST_CASE("write_plots writes the contour and the history as SVG and PNG at the size asked", "[report][plots]") {
  const auto owned = testing::known_study();
  const auto& s = *owned;
  normlab::testing::TempDir dir("normlab_report_plots");
  std::ostringstream log;
  report::write_plots(s, dir.path / "study.svg", "Accuracy", report::parse_plot_size("320x240", 50), &log);
  for (const char* name : {"study.svg", "study.png", "study-history.svg", "study-history.png"})
    CHECK(std::filesystem::file_size(dir.path / name) > 0);
  CHECK(log.str().rfind("plots (320x240 px at 50 dpi): ", 0) == 0);
  // The PNG's own header says its size: width and height, big-endian, at bytes 16 and 20.
  std::ifstream png(dir.path / "study.png", std::ios::binary);
  unsigned char header[24];
  png.read(reinterpret_cast<char*>(header), sizeof header);
  auto be32 = [&](int at) { return (header[at] << 24) | (header[at + 1] << 16) | (header[at + 2] << 8) | header[at + 3]; };
  CHECK(be32(16) == 320);
  CHECK(be32(20) == 240);
}
#else
TEST_CASE("write_plots without normlab::plot says what is missing", "[report][plots]") {
  const auto owned = testing::known_study();
  const auto& s = *owned;
  CHECK_THROWS_WITH(report::write_plots(s, "x.svg", "Accuracy"), Catch::Contains("install libcairo2-dev"));
}
#endif
