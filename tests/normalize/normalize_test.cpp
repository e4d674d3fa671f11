#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <normlab/normalize/batch_normalizer.hpp>
#include <normlab/normalize/normalize.hpp>

using namespace normlab;

TEST_CASE("Normalize carries its constants in the type", "[normalize]") {
  const auto v = Normalize<0.1307, 0.3081>::values();
  REQUIRE(v.mean == std::vector<double>{0.1307});
  REQUIRE(v.std == std::vector<double>{0.3081});
  const auto rgb = NormalizePerChannel<Channels{0.485, 0.456, 0.406}, Channels{0.229, 0.224, 0.225}>::values();
  REQUIRE(rgb.channels() == 3);
  REQUIRE(rgb.std[2] == 0.225);
  REQUIRE(normalize::Identity::values().std == std::vector<double>{1.0});
  REQUIRE_THROWS_WITH(normalize::Runtime::values(), Catch::Contains("RunOptions::normalization"));
}

TEST_CASE("invalid run-time (mean, std) get a clear error", "[normalize]") {
  REQUIRE_THROWS_WITH(NormalizationValues::uniform(0.1, 0.0).validate(),
                      "normlab: invalid normalization: std = 0 (it must be finite and > 0)");
  REQUIRE_THROWS_WITH(NormalizationValues::uniform(0.1, -2).validate(), Catch::Contains("std = -2"));
  REQUIRE_THROWS_WITH(NormalizationValues::uniform(0.1, std::nan("")).validate(), Catch::Contains("std = nan"));
  REQUIRE_THROWS_WITH(NormalizationValues::uniform(0.1, INFINITY).validate(), Catch::Contains("std = inf"));
  REQUIRE_THROWS_WITH(NormalizationValues::uniform(INFINITY, 1).validate(),
                      Catch::Contains("mean = inf (it must be finite)"));
  REQUIRE_THROWS_WITH((NormalizationValues{{0, 0}, {1, 1, 1}}.validate()),
                      Catch::Contains("2 mean(s) but 3 std(s)"));
  REQUIRE_THROWS_WITH((NormalizationValues{{0, 0, 0}, {1, -1, 1}}.validate()),
                      Catch::Contains("std[1] = -1"));
  REQUIRE_NOTHROW(NormalizationValues::uniform(-3, 0.1).validate());
  REQUIRE(NormalizationValues::uniform(0.1307, 0.3081).to_string() == "mean=0.1307 std=0.3081");
  REQUIRE((NormalizationValues{{0.5, 0.25}, {1, 2}}.to_string()) == "mean=[0.5,0.25] std=[1,2]");
}

TEST_CASE("BatchNormalizer is ToTensor then Normalize, in float32, bit for bit", "[normalize]") {
  auto raw = torch::randint(0, 256, {5, 1, 28, 28}, torch::kUInt8);
  BatchNormalizer normalize(NormalizationValues::uniform(0.1307, 0.3081), torch::kCPU);
  // torchvision: img.to(float32).div(255), then tensor.sub_(mean).div_(std) with float32 mean/std.
  auto expected = raw.to(torch::kFloat32).div(255).sub_(torch::tensor({0.1307f}).view({1, 1, 1}))
                      .div_(torch::tensor({0.3081f}).view({1, 1, 1}));
  auto got = normalize(raw);
  REQUIRE(got.dtype() == torch::kFloat32);
  REQUIRE(torch::equal(got, expected));

  // A smaller batch reuses the buffer and still gives exact values.
  auto small = raw.narrow(0, 0, 2);
  REQUIRE(torch::equal(normalize(small), expected.narrow(0, 0, 2)));
}

TEST_CASE("BatchNormalizer normalizes each channel with its own values", "[normalize]") {
  auto raw = torch::randint(0, 256, {2, 3, 4, 4}, torch::kUInt8);
  NormalizationValues v{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
  BatchNormalizer normalize(v, torch::kCPU);
  auto got = normalize(raw);
  for (int c = 0; c < 3; ++c) {
    auto expected = raw.select(1, c).to(torch::kFloat32).div(255).sub(static_cast<float>(v.mean[c]))
                        .div(static_cast<float>(v.std[c]));
    REQUIRE(torch::allclose(got.select(1, c), expected, 0, 0));
  }
  BatchNormalizer wrong(v, torch::kCPU);
  REQUIRE_THROWS_WITH(wrong(torch::zeros({1, 1, 4, 4}, torch::kUInt8)),
                      Catch::Contains("3 normalization channels for images with 1 channels"));
}

TEST_CASE("Identity normalization is only the /255", "[normalize]") {
  auto raw = torch::randint(0, 256, {3, 1, 8, 8}, torch::kUInt8);
  BatchNormalizer normalize(normalize::Identity::values(), torch::kCPU, true);
  REQUIRE(torch::equal(normalize(raw), raw.to(torch::kFloat32).div(255)));
}

namespace {
// torchvision's ToTensor + Normalize on a uint8 batch, with the ATen ops (the reference bits).
torch::Tensor torchvision_reference(const torch::Tensor& raw, const NormalizationValues& v) {
  const auto c = static_cast<int64_t>(v.channels());
  auto mean = torch::tensor(v.mean, torch::kFloat64).to(torch::kFloat32).view({1, c, 1, 1});
  auto std = torch::tensor(v.std, torch::kFloat64).to(torch::kFloat32).view({1, c, 1, 1});
  return raw.cpu().to(torch::kFloat32).div(255).sub_(mean).div_(std);
}
bool same_bits(const torch::Tensor& a, const torch::Tensor& b) {
  auto x = a.cpu().contiguous(), y = b.cpu().contiguous();
  return x.sizes() == y.sizes() &&
         std::memcmp(x.data_ptr<float>(), y.data_ptr<float>(), x.numel() * sizeof(float)) == 0;
}
}  // namespace

TEST_CASE("the fused CPU pass gives torchvision's bits for every byte, over the notebook's search space",
          "[normalize]") {
  // Every byte value, in a batch whose size is no multiple of a vector (the scalar tail runs too).
  auto raw = torch::cat({torch::arange(256), torch::arange(256).flip(0), torch::arange(29)})
                 .to(torch::kUInt8).view({1, 1, 1, 541});
  std::mt19937_64 rng(1998);
  std::uniform_real_distribution<double> mean(-3, 3), log_std(std::log(0.1), std::log(2.0));
  int fused = 0;
  for (int k = 0; k < 500; ++k) {
    const auto v = NormalizationValues::uniform(mean(rng), std::exp(log_std(rng)));
    BatchNormalizer normalize(v, torch::kCPU);
    fused += normalize.fused();
    INFO(v.to_string() << " path " << normalize.path());
    REQUIRE(same_bits(normalize(raw), torchvision_reference(raw, v)));
  }
  REQUIRE(fused == 500);  // on x86-64 and elsewhere (the division form is portable)
  // The notebook's values, per-channel values, and a non-contiguous batch (the ATen path).
  const auto notebook = NormalizationValues::uniform(0.1307, 0.3081);
  REQUIRE(same_bits(BatchNormalizer(notebook, torch::kCPU)(raw), torchvision_reference(raw, notebook)));
  NormalizationValues rgb{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
  auto rgb_raw = torch::randint(0, 256, {4, 3, 9, 7}, torch::kUInt8);
  REQUIRE(same_bits(BatchNormalizer(rgb, torch::kCPU)(rgb_raw), torchvision_reference(rgb_raw, rgb)));
  auto strided = torch::randint(0, 256, {3, 1, 28, 56}, torch::kUInt8).narrow(3, 0, 28);
  REQUIRE(same_bits(BatchNormalizer(notebook, torch::kCPU)(strided), torchvision_reference(strided, notebook)));
}

TEST_CASE("on CUDA, BatchNormalizer gives the CPU's (torchvision's) bits", "[normalize][.cuda]") {
  // Hidden ([.cuda]): the default run and ctest skip it; scripts/gpu_check.sh runs it on a GPU.
  if (!torch::cuda::is_available())
    FAIL("no CUDA device (CPU-only LibTorch or no GPU): run the [cuda] cases on a GPU machine (scripts/gpu_check.sh)");
  auto raw = torch::cat({torch::arange(256), torch::arange(29)}).to(torch::kUInt8).view({1, 1, 1, 285});
  for (const auto& v : {NormalizationValues::uniform(0.1307, 0.3081), NormalizationValues::uniform(-2.5, 0.117)}) {
    BatchNormalizer normalize(v, torch::Device(torch::kCUDA, 0));
    INFO(v.to_string());
    REQUIRE(same_bits(normalize(raw.cuda()), torchvision_reference(raw, v)));
  }
}
