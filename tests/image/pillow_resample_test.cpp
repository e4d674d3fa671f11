// normlab/image/pillow_resample.hpp: the port of Pillow 9.4's bilinear resize (Resample.c). The
// coefficients and pixels below are Resample.c's arithmetic worked by hand (22-bit fixed point,
// rounded with the 1 << 21 start, clipped to 8 bits); the whole port is compared with Pillow's own
// output pixel for pixel by transforms_test.cpp's golden cases (resize_WxH). The last case also
// runs the notebook's transform (transforms.hpp), the resampler's windowed use.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include <normlab/image/image.hpp>
#include <normlab/image/pillow_resample.hpp>
#include <normlab/image/transforms.hpp>

#include "../golden.hpp"

using namespace normlab;
using namespace normlab::image;

namespace {

std::string images_dir() { return testing::test_data_dir() + "/images"; }

/// A width x 1 image whose three channels are all `values`.
Image grey_row(const std::vector<uint8_t>& values) {
  Image img(static_cast<int>(values.size()), 1);
  for (std::size_t x = 0; x < values.size(); ++x)
    for (int c = 0; c < 3; ++c) img.pixels[x * 3 + c] = values[x];
  return img;
}

std::vector<uint8_t> red_row(const Image& img) {
  std::vector<uint8_t> out;
  for (int x = 0; x < img.width; ++x) out.push_back(img.at(0, x, 0));
  return out;
}

}  // namespace

TEST_CASE("bilinear coefficients are Resample.c's, in 22-bit fixed point", "[image][resample]") {
  // 4 -> 2: scale 2, support 2, ksize 5. Output 0 is centred at 1.0: taps 0..2 weigh 0.75, 0.75,
  // 0.25, normalised by 1.75 and scaled by 2^22.
  image::detail::Coefficients c;
  image::detail::bilinear_coefficients(4, 2, 0, 2, c);
  CHECK(c.ksize == 5);
  CHECK(c.bounds == std::vector<int>{0, 3, 1, 3});
  CHECK(c.k == std::vector<int32_t>{1797559, 1797559, 599186, 0, 0, 599186, 1797559, 1797559, 0, 0});
  // A window of the output gets the same rows: what lets a crop compute only the pixels it keeps.
  image::detail::Coefficients second;
  image::detail::bilinear_coefficients(4, 2, 1, 1, second);
  CHECK(second.bounds == std::vector<int>{1, 3});
  CHECK(std::vector<int32_t>(second.k.begin(), second.k.begin() + 3) == std::vector<int32_t>{599186, 1797559, 1797559});
  // 2 -> 4 (upscaling): support 1, ksize 3; the outer pixels copy their neighbour.
  image::detail::Coefficients up;
  image::detail::bilinear_coefficients(2, 4, 0, 4, up);
  CHECK(up.ksize == 3);
  CHECK(up.bounds == std::vector<int>{0, 1, 0, 2, 0, 2, 1, 1});
  CHECK(up.k == std::vector<int32_t>{4194304, 0, 0, 3145728, 1048576, 0, 1048576, 3145728, 0, 4194304, 0, 0});
}

TEST_CASE("clip8 shifts the fixed-point sum back to 8 bits and clamps it", "[image][resample]") {
  CHECK(image::detail::clip8((100 << image::detail::kPrecisionBits) + (1 << 21)) == 100);
  CHECK(image::detail::clip8((100 << image::detail::kPrecisionBits) - 1) == 99);
  CHECK(image::detail::clip8(-(5 << image::detail::kPrecisionBits)) == 0);
  CHECK(image::detail::clip8(300 << image::detail::kPrecisionBits) == 255);
}

TEST_CASE("fixed taps move each output's taps inside the row, with zero weights added", "[image][resample]") {
  // 10 -> 5: ksize 5. Output 0 has 3 taps from 0, output 2 has 4 from 3 (0.125, 0.375, 0.375,
  // 0.125), output 4 has 3 from 7, moved to start at 5 so that its five taps end at the row's end.
  image::detail::Coefficients c;
  image::detail::bilinear_coefficients(10, 5, 0, 5, c);
  CHECK(c.bounds == std::vector<int>{0, 3, 1, 4, 3, 4, 5, 4, 7, 3});
  image::detail::ResampleScratch s;
  REQUIRE(image::detail::fixed_taps(c, 10, 5, s));
  CHECK(s.starts == std::vector<int>{0, 1, 3, 5, 5});
  const auto row = [&](int i) { return std::vector<int32_t>(s.fixed.begin() + i * 5, s.fixed.begin() + i * 5 + 5); };
  CHECK(row(0) == std::vector<int32_t>{1797559, 1797559, 599186, 0, 0});
  CHECK(row(2) == std::vector<int32_t>{524288, 1572864, 1572864, 524288, 0});
  CHECK(row(4) == std::vector<int32_t>{0, 0, 599186, 1797559, 1797559});
  // A row shorter than the taps keeps Pillow's own bounds.
  image::detail::Coefficients shorter;
  image::detail::bilinear_coefficients(4, 2, 0, 2, shorter);
  CHECK_FALSE(image::detail::fixed_taps(shorter, 4, 2, s));
}

TEST_CASE("resize_bilinear gives Resample.c's pixels on small rows", "[image][resample]") {
  // 4 -> 2 with the weights above: (0*3 + 100*3 + 200) / 7 = 71.4 and (100 + 200*3 + 255*3) / 7
  // = 209.3, plus the 0.5 of the 1 << 21 start, truncated.
  CHECK(red_row(resize_bilinear(grey_row({0, 100, 200, 255}), 2, 1)) == std::vector<uint8_t>{71, 209});
  // 2 -> 4: the outer pixels copy, the inner ones weigh 3/4 and 1/4 (0 and 200 give 50 and 150).
  CHECK(red_row(resize_bilinear(grey_row({0, 200}), 4, 1)) == std::vector<uint8_t>{0, 50, 150, 200});
  // Each channel is resampled on its own: G = (255*3 + 155*3 + 55) / 7 = 183.6 -> 184 and
  // (155 + 55*3) / 7 = 45.7 -> 46; B = 120 / 7 = 17.1 -> 17 and 230 / 7 = 32.9 -> 33.
  Image rgb(4, 1);
  const uint8_t px[] = {0, 255, 10, 100, 155, 20, 200, 55, 30, 255, 0, 40};
  std::memcpy(rgb.data(), px, sizeof px);
  const auto out = resize_bilinear(rgb, 2, 1);
  CHECK(out.pixels == std::vector<uint8_t>{71, 184, 17, 209, 46, 33});
  // Rows resample as columns do: the transposed picture gives the transposed result.
  Image column(1, 4);
  for (int y = 0; y < 4; ++y) std::memcpy(column.row(y), px + 3 * y, 3);
  const auto down = resize_bilinear(column, 1, 2);
  CHECK(down.pixels == std::vector<uint8_t>{71, 184, 17, 209, 46, 33});
}

TEST_CASE("resize_bilinear refuses empty sizes and images, and copies an unchanged size", "[image][resample]") {
  const auto img = grey_row({1, 2, 3});
  CHECK_THROWS_WITH(resize_bilinear(img, 0, 1), Catch::Contains("the size must be positive (got 0x1)"));
  CHECK_THROWS_WITH(resize_bilinear(Image{}, 2, 2), Catch::Contains("empty image"));
  const auto same = resize_bilinear(img, 3, 1);
  CHECK(same.pixels == img.pixels);
}

TEST_CASE("resize_bilinear handles one unchanged axis, upscaling and extreme ratios", "[image][resample]") {
  const auto img = decode_image(images_dir() + "/tiny.png");  // 20 x 15
  const auto up = resize_bilinear(img, 341, 256);
  REQUIRE(up.width == 341);
  // Constant images stay constant under any resize (the coefficients sum to 1 after rounding).
  Image flat(37, 23);
  std::fill(flat.pixels.begin(), flat.pixels.end(), uint8_t{200});
  for (auto [w, h] : std::vector<std::pair<int, int>>{{37, 5}, {3, 23}, {500, 400}, {1, 1}, {36, 24}}) {
    const auto out = resize_bilinear(flat, w, h);
    for (auto v : out.pixels) REQUIRE(v == 200);
  }
  REQUIRE_THROWS_AS(resize_bilinear(flat, 0, 10), std::invalid_argument);
}

TEST_CASE("the AVX2 and the baseline resamplers agree byte for byte", "[image][resample]") {
  // The machine's path is checked against torchvision above; this checks the other one on random
  // pictures: sizes around every tap count (upscale, 1..3.x downscale), odd widths, one-pixel rows.
  torch::manual_seed(11);
  for (int trial = 0; trial < 40; ++trial) {
    const int w = 1 + static_cast<int>(torch::randint(1, 420, {1}).item<int64_t>());
    const int h = 1 + static_cast<int>(torch::randint(1, 420, {1}).item<int64_t>());
    Image img(w, h);
    auto noise = torch::randint(0, 256, {static_cast<int64_t>(img.pixels.size())}, torch::kUInt8);
    std::memcpy(img.data(), noise.data_ptr<uint8_t>(), img.pixels.size());
    const int ow = 1 + static_cast<int>(torch::randint(1, 300, {1}).item<int64_t>());
    const int oh = trial % 5 == 0 ? h : 1 + static_cast<int>(torch::randint(1, 300, {1}).item<int64_t>());
    INFO(w << "x" << h << " -> " << ow << "x" << oh);
    image::detail::force_baseline_resampler() = true;
    const auto baseline = resize_bilinear(img, ow, oh);
    const auto notebook_baseline = NotebookTransform{}(img);
    image::detail::force_baseline_resampler() = false;
    REQUIRE(resize_bilinear(img, ow, oh).pixels == baseline.pixels);
    REQUIRE(torch::equal(NotebookTransform{}(img), notebook_baseline));
  }
}
