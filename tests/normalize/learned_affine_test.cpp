#include <catch2/catch.hpp>
#include <normlab/compensate/compensate.hpp>
#include <normlab/normalize/learned_affine.hpp>
#include <normlab/normalize/normalizer.hpp>

#include "normalizer_golden.hpp"

using namespace normlab;

static_assert(LearnedNormalizer<normalize::LearnedAffineNormalizer>);
static_assert(takes_runtime_values<normalize::LearnedAffine>);
static_assert(compensation_applies<compensate::Notebook, normalize::LearnedAffine>);

TEST_CASE("LearnedAffine gives its PyTorch twin's bits, forward and gradients", "[normalize][blas]") {
  const auto inputs = testing::normalizer_inputs();
  const auto rows = testing::normalizer_golden_rows("learned_affine");
  REQUIRE(rows.size() == 12);
  for (const auto& f : rows) {
    INFO(f.at("input") << " mean=" << f.at("mean") << " std=" << f.at("std"));
    auto normalize = make_normalizer<normalize::LearnedAffine>(testing::golden_values(f), torch::kCPU);
    const auto out = normalize(inputs.at(f.at("input")));
    out.square().mean().backward();
    REQUIRE(testing::fingerprint(out) == f.at("out"));
    REQUIRE(testing::fingerprint(normalize.parameters()[0].grad()) == f.at("dmean"));
    REQUIRE(testing::fingerprint(normalize.parameters()[1].grad()) == f.at("dstd"));
  }
}

TEST_CASE("LearnedAffine starts as torchvision's Normalize and moves with its optimizer", "[normalize]") {
  const auto v = NormalizationValues::uniform(0.1307, 0.3081);
  const auto raw = torch::randint(0, 256, {4, 1, 28, 28}, torch::kUInt8);
  normalize::LearnedAffineNormalizer learned(v, torch::kCPU);
  BatchNormalizer fixed(v, torch::kCPU);
  REQUIRE(torch::equal(learned(raw), fixed(raw)));  // the same float32 operations

  torch::optim::SGD sgd(learned.parameters(), torch::optim::SGDOptions(0.1));
  learned(raw).square().mean().backward();
  sgd.step();
  const auto moved = learned.values();
  REQUIRE(moved.mean[0] != static_cast<double>(static_cast<float>(0.1307)));
  REQUIRE(moved.std[0] != static_cast<double>(static_cast<float>(0.3081)));
  // A copy shares the parameters: the Pipeline's training and testing see the same (m, s).
  auto copy = learned;
  REQUIRE(copy.values().mean == moved.mean);
}
