// The transforms against torchvision 0.14 + Pillow 9.4 (tests/golden/transforms.txt and
// transforms_u8.gz, from scripts/golden/image_golden.py): every output pixel is compared, and the
// largest difference is printed. Acceptance is 1/255 per pixel; the port is meant to be exact.

#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <normlab/image/transforms.hpp>

#include "../golden.hpp"

using namespace normlab;
using namespace normlab::image;

namespace {

std::string images_dir() { return testing::test_data_dir() + "/images"; }

/// The uncompressed golden stream (each case's channels stored with PNG's Up filter).
const std::vector<uint8_t>& golden_blob() {
  static const std::vector<uint8_t> blob = [] {
    const auto path = testing::golden_path("transforms_u8.gz");
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open " + path);
    std::vector<uint8_t> out;
    uint8_t chunk[1 << 16];
    int got;
    while ((got = gzread(f, chunk, sizeof chunk)) > 0) out.insert(out.end(), chunk, chunk + got);
    gzclose(f);
    if (got < 0) throw std::runtime_error("corrupt " + path);
    return out;
  }();
  return blob;
}

/// Case `f`'s expected uint8 CHW tensor.
torch::Tensor expected(std::map<std::string, std::string>& f) {
  const int64_t c = std::stoll(f["c"]), h = std::stoll(f["h"]), w = std::stoll(f["w"]);
  const auto offset = static_cast<std::size_t>(std::stoull(f["offset"]));
  const auto& blob = golden_blob();
  REQUIRE(offset + static_cast<std::size_t>(c * h * w) <= blob.size());
  auto t = torch::empty({c, h, w}, torch::kUInt8);
  auto* out = t.data_ptr<uint8_t>();
  std::memcpy(out, blob.data() + offset, static_cast<std::size_t>(c * h * w));
  for (int64_t p = 0; p < c; ++p)  // undo the Up filter
    for (int64_t y = 1; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) out[(p * h + y) * w + x] += out[(p * h + y - 1) * w + x];
  REQUIRE(testing::fnv1a64(out, static_cast<std::size_t>(c * h * w)) == std::stoull(f["fnv"]));
  return t;
}

torch::Tensor image_to_chw(const Image& img) {
  return torch::from_blob(const_cast<uint8_t*>(img.data()), {img.height, img.width, 3}, torch::kUInt8)
      .permute({2, 0, 1})
      .contiguous();
}

int max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kInt32) - b.to(torch::kInt32)).abs().max().item<int>();
}

/// Runs one golden op with normlab.
torch::Tensor run(const std::string& op, const Image& img) {
  int a = 0, b = 0;
  if (op == "notebook") return NotebookTransform{}(img);
  if (op == "chain")
    return Compose<Resize<300>, CenterCrop<250>, Resize<224>, ToTensor>{}(img);
  if (std::sscanf(op.c_str(), "resize_%dx%d", &a, &b) == 2) return image_to_chw(resize_bilinear(img, a, b));
  if (op == "resizeHW_150x230") return Compose<Resize<150, 230>, ToTensor>{}(img);
  if (op == "crop_224x224") return Compose<ToTensor, CenterCrop<224>>{}(img);
  if (op == "crop_10x30") return Compose<ToTensor, CenterCrop<10, 30>>{}(img);
  if (op == "crop_100x225") return Compose<ToTensor, CenterCrop<100, 225>>{}(img);
  if (op == "crop_113x149") return Compose<ToTensor, CenterCrop<113, 149>>{}(img);
  if (op == "crop_231x228") return Compose<ToTensor, CenterCrop<231, 228>>{}(img);
  FAIL("no normlab counterpart for golden op " << op);
  return {};
}

}  // namespace

TEST_CASE("transforms match torchvision 0.14 pixel for pixel", "[image]") {
  const auto rows = testing::golden_rows("transforms.txt");
  std::map<std::string, int> worst_by_op;
  int worst = 0, cases = 0;
  int64_t pixels = 0;
  for (const auto& row : rows) {
    if (row[0] != "case") continue;
    auto f = testing::case_fields(row);
    INFO("image " << f["name"] << ", op " << f["op"]);
    const auto img = decode_image(images_dir() + "/" + f["name"]);
    const auto want = expected(f);
    const auto got = run(f["op"], img);
    REQUIRE(got.dtype() == torch::kUInt8);
    REQUIRE(got.sizes() == want.sizes());
    const int diff = max_abs_diff(got, want);
    const std::string kind = f["op"].substr(0, f["op"].find('_'));
    worst_by_op[kind] = std::max(worst_by_op[kind], diff);
    worst = std::max(worst, diff);
    pixels += want.numel();
    CHECK(diff <= 1);  // acceptance: 1/255
    ++cases;
  }
  std::printf("[image] transforms vs torchvision 0.14: %d cases, %lld values; largest |difference| = %d/255",
              cases, static_cast<long long>(pixels), worst);
  for (const auto& [op, d] : worst_by_op) std::printf("; %s %d", op.c_str(), d);
  std::printf("\n");
  REQUIRE(cases >= 30);
  CHECK(worst == 0);  // the port is exact
}

TEST_CASE("Resize computes torchvision's output size", "[image]") {
  // _compute_resized_output_size: short side -> size, long side truncated.
  REQUIRE(resized_output_size(300, 400, 256) == std::pair{256, 341});  // 341.33
  REQUIRE(resized_output_size(400, 300, 256) == std::pair{341, 256});
  REQUIRE(resized_output_size(259, 517, 256) == std::pair{256, 511});  // 511.01
  REQUIRE(resized_output_size(113, 150, 256) == std::pair{256, 339});  // 339.82: not rounded
  REQUIRE(resized_output_size(256, 256, 256) == std::pair{256, 256});
  REQUIRE(resized_output_size(3, 1000, 256) == std::pair{256, 85333});
  REQUIRE(Resize<256>::output_size(300, 300) == std::pair{256, 256});
  REQUIRE(Resize<100, 50>::output_size(300, 300) == std::pair{100, 50});
}

TEST_CASE("CenterCrop rounds half to even and pads as torchvision", "[image]") {
  // int(round((h - 224) / 2.0)), Python's round: 58.5 -> 58, 57.5 -> 58, 143.5 -> 144, 2.5 -> 2.
  REQUIRE(round_half_even_half(117) == 58);
  REQUIRE(round_half_even_half(115) == 58);
  REQUIRE(round_half_even_half(287) == 144);
  REQUIRE(round_half_even_half(5) == 2);
  REQUIRE(round_half_even_half(1) == 0);
  REQUIRE(round_half_even_half(3) == 2);
  REQUIRE(round_half_even_half(32) == 16);
  REQUIRE(round_half_even_half(0) == 0);

  auto g = center_crop_geometry(256, 341, 224, 224);
  REQUIRE(g.top == 16);
  REQUIRE(g.left == 58);
  REQUIRE(g.pad_left + g.pad_right + g.pad_top + g.pad_bottom == 0);
  // Smaller than the crop: (224 - 113) // 2 = 55 on top, (224 - 113 + 1) // 2 = 56 below.
  g = center_crop_geometry(113, 150, 224, 224);
  REQUIRE(g.pad_top == 55);
  REQUIRE(g.pad_bottom == 56);
  REQUIRE(g.pad_left == 37);
  REQUIRE(g.pad_right == 37);
  REQUIRE(g.top == 0);
  REQUIRE(g.left == 0);
  // Padded in one direction only, then cropped in the other.
  g = center_crop_geometry(113, 150, 100, 225);
  REQUIRE(g.pad_left == 37);
  REQUIRE(g.pad_right == 38);
  REQUIRE(g.pad_top == 0);
  REQUIRE(g.top == 6);  // round(13 / 2) = round(6.5) = 6
  REQUIRE(g.left == 0);

  // The tensor overload agrees with the image path, for any dtype.
  const auto img = decode_image(images_dir() + "/small_upscale.jpg");
  const auto chw = ToTensor{}(img);
  REQUIRE(torch::equal(CenterCrop<224>{}(chw), Compose<ToTensor, CenterCrop<224>>{}(img)));
  REQUIRE(torch::equal(CenterCrop<100, 225>{}(chw.to(torch::kFloat32)),
                       Compose<ToTensor, CenterCrop<100, 225>>{}(img).to(torch::kFloat32)));
  REQUIRE(torch::equal(CenterCrop<100, 225>{}(chw.unsqueeze(0)).squeeze(0),
                       Compose<CenterCrop<100, 225>, ToTensor>{}(img)));
  const auto padded = Compose<ToTensor, CenterCrop<224>>{}(img);
  REQUIRE(padded.slice(1, 0, 55).max().item<int>() == 0);    // zero rows above
  REQUIRE(padded.slice(1, 55 + 113).max().item<int>() == 0); // and below
  REQUIRE(padded.slice(2, 0, 37).max().item<int>() == 0);    // zero columns left
}

TEST_CASE("composition is lazy, exact and checked at compile time", "[image]") {
  static_assert(NotebookTransform::makes_tensor);
  static_assert(NotebookTransform::fixed_height == 224 && NotebookTransform::fixed_width == 224);
  static_assert(!Compose<Resize<256>>::makes_tensor);
  static_assert(Compose<Resize<256>>::fixed_height == -1);
  static_assert(Compose<CenterCrop<10>, Resize<20>>::fixed_height == -1);
  static_assert(Compose<Resize<20>, CenterCrop<10, 12>>::fixed_width == 12);
  static_assert(Transform<NotebookTransform>);  // a Compose is a transform: chains nest
  // Compose<ToTensor, Resize<256>> does not compile: "Resize after ToTensor would be torchvision's
  // tensor interpolation, ..."

  const auto img = decode_image(images_dir() + "/rgb_420_q90.jpg");
  const auto notebook = NotebookTransform{}(img);
  REQUIRE(notebook.sizes() == torch::IntArrayRef{3, 224, 224});
  // The lazy crop (only the kept pixels resampled) equals resize-everything-then-crop.
  const auto full = image_to_chw(resize_bilinear(img, 341, 256));
  REQUIRE(torch::equal(notebook, full.slice(1, 16, 16 + 224).slice(2, 58, 58 + 224)));
  // On uint8, ToTensor commutes with CenterCrop; chains nest.
  REQUIRE(torch::equal(notebook, Compose<Resize<256>, CenterCrop<224>, ToTensor>{}(img)));
  REQUIRE(torch::equal(notebook, Compose<Compose<Resize<256>>, Compose<ToTensor, CenterCrop<224>>>{}(img)));
  // into() writes the same bytes where the loader wants them.
  std::vector<uint8_t> buffer(3 * 224 * 224);
  NotebookTransform{}.into(img, buffer.data());
  REQUIRE(std::memcmp(buffer.data(), notebook.data_ptr<uint8_t>(), buffer.size()) == 0);
  // Image in, Image out without ToTensor; a crop then a larger crop pads with zeros, it does not
  // bring back the pixels the first crop removed.
  const Image cropped = Compose<CenterCrop<100>, CenterCrop<120>>{}(img);
  REQUIRE(cropped.width == 120);
  REQUIRE(cropped.at(5, 60, 0) == 0);
  REQUIRE(cropped.at(60, 5, 1) == 0);
  REQUIRE(cropped.at(60, 60, 2) == img.at(60 - 10 + 100, 60 - 10 + 150, 2));  // top 100, left 150, pad 10
  // A Resize to the current size does nothing (torchvision returns the image).
  const auto same = Resize<300>{}(img);
  REQUIRE(same.pixels == img.pixels);
}
