#include <catch2/catch.hpp>
#include <normlab/data/batches.hpp>
#include <range/v3/range/conversion.hpp>

using namespace normlab;

TEST_CASE("batch ranges cover the set in order, the last one short", "[data]") {
  const auto batches = data::batch_ranges(130, 64) | ranges::to<std::vector>();
  REQUIRE(batches.size() == 3);
  REQUIRE(batches[0].start == 0);
  REQUIRE(batches[1].start == 64);
  REQUIRE(batches[2].start == 128);
  REQUIRE(batches[2].size == 2);
  REQUIRE((data::batch_ranges(128, 64) | ranges::to<std::vector>()).size() == 2);
}

TEST_CASE("an epoch draws from the global generator as a DataLoader iterator does", "[data]") {
  // Without shuffling: exactly one int64 draw (the iterator's base seed).
  torch::manual_seed(5);
  data::EpochOrder plain(10, false);
  const auto after_plain = torch::rand({1}).item<float>();
  torch::manual_seed(5);
  torch::empty({}, torch::kInt64).random_();
  REQUIRE(torch::rand({1}).item<float>() == after_plain);
  REQUIRE_FALSE(plain.shuffled());

  // With shuffling: RandomSampler's seed, then randperm from a generator seeded with it.
  torch::manual_seed(5);
  data::EpochOrder shuffled(10, true);
  torch::manual_seed(5);
  torch::empty({}, torch::kInt64).random_();
  const auto seed = torch::empty({}, torch::kInt64).random_().item<int64_t>();
  auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(seed));
  const auto perm = torch::randperm(10, gen, torch::kInt64);
  data::LabelledImages set{torch::arange(10, torch::kUInt8).view({10, 1, 1, 1}), torch::arange(10)};
  auto [images, labels] = shuffled.take(set, {0, 10});
  REQUIRE(torch::equal(labels, perm));
  REQUIRE(torch::equal(images.view(-1).to(torch::kInt64), perm));
}
