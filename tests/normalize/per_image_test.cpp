#include <catch2/catch.hpp>
#include <normlab/compensate/compensate.hpp>
#include <normlab/normalize/normalizer.hpp>
#include <normlab/normalize/per_image.hpp>

#include "normalizer_golden.hpp"

using namespace normlab;

static_assert(Normalizer<normalize::PerImageStandardizer>);
static_assert(!LearnedNormalizer<normalize::PerImageStandardizer>);
static_assert(takes_runtime_values<normalize::PerImageStandardize>);
static_assert(affine_in_values<normalize::PerImageStandardize>);
static_assert(compensation_applies<compensate::Exact, normalize::PerImageStandardize>);

TEST_CASE("PerImageStandardize gives its PyTorch twin's bits", "[normalize][blas]") {
  const auto inputs = testing::normalizer_inputs();
  const auto rows = testing::normalizer_golden_rows("per_image");
  REQUIRE(rows.size() == 12);  // 3 inputs x 4 (mean, std)
  for (const auto& f : rows) {
    INFO(f.at("input") << " mean=" << f.at("mean") << " std=" << f.at("std"));
    auto normalize = make_normalizer<normalize::PerImageStandardize>(testing::golden_values(f), torch::kCPU);
    const auto out = normalize(inputs.at(f.at("input")));
    CHECK(out.view(-1)[0].item<float>() == Approx(std::stod(f.at("v0"))).epsilon(1e-6));
    REQUIRE(testing::fingerprint(out) == f.at("out"));
  }
}

TEST_CASE("PerImageStandardize: each image has mean 0 and std 1 before the run's affine", "[normalize]") {
  const auto raw = torch::randint(0, 256, {6, 3, 10, 12}, torch::kUInt8);
  normalize::PerImageStandardizer plain(NormalizationValues::uniform(0, 1), torch::kCPU);
  const auto z = plain(raw).to(torch::kFloat64);
  for (int64_t i = 0; i < 6; ++i) {
    CHECK(std::abs(z[i].mean().item<double>()) < 1e-6);
    CHECK(z[i].std(/*unbiased=*/false).item<double>() == Approx(1.0).epsilon(1e-5));
  }
  // The run's (mean, std) act after the standardisation: (z - m) / s.
  normalize::PerImageStandardizer shifted(NormalizationValues::uniform(0.5, 2.0), torch::kCPU);
  CHECK(torch::allclose(shifted(raw).to(torch::kFloat64), (z - 0.5) / 2.0, 1e-6, 1e-6));
  // A constant image has no spread: the floor 1/sqrt(C*H*W) keeps it finite (all zeros).
  const auto flat = plain(torch::full({1, 1, 4, 4}, 200, torch::kUInt8));
  CHECK(flat.abs().max().item<float>() == 0.0f);
}

TEST_CASE("PerImageStandardize refuses bad batches and values with a sentence", "[normalize]") {
  REQUIRE_THROWS_WITH(normalize::PerImageStandardizer(NormalizationValues::uniform(0, -1), torch::kCPU),
                      Catch::Contains("std = -1"));
  normalize::PerImageStandardizer rgb(NormalizationValues{{0, 0, 0}, {1, 1, 1}}, torch::kCPU);
  REQUIRE_THROWS_WITH(rgb(torch::zeros({2, 1, 4, 4}, torch::kUInt8)),
                      Catch::Contains("3 normalization channels for images with 1 channels"));
  REQUIRE_THROWS_WITH(rgb(torch::zeros({4, 4}, torch::kUInt8)), Catch::Contains("[N, C, H, W]"));
}
