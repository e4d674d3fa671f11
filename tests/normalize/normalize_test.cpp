#include <catch2/catch.hpp>
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
