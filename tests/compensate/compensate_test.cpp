#include <catch2/catch.hpp>
#include <normlab/compensate/compensate.hpp>
#include <normlab/models/lenet.hpp>
#include <normlab/normalize/batch_normalizer.hpp>

using namespace normlab;

namespace {
torch::nn::Conv2d lenet_conv1() {
  torch::manual_seed(7);
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 3));
}
double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}
}  // namespace

TEST_CASE("compensate::Exact keeps conv1's output unchanged for any (mean, std)", "[compensate]") {
  auto raw = torch::randint(0, 256, {8, 1, 28, 28}, torch::kUInt8);
  const auto x = raw.to(torch::kFloat32).div(255);
  torch::NoGradGuard no_grad;
  for (double mean : {-3.0, -1.0, 0.0, 0.1307, 1.5, 3.0}) {
    for (double std : {0.1, 0.3081, 1.0, 2.0}) {
      auto conv = lenet_conv1();
      const auto before = conv(x);
      const auto v = NormalizationValues::uniform(mean, std);
      compensate::Exact::apply(conv, v);
      BatchNormalizer normalize(v, torch::kCPU);
      const auto after = conv(normalize(raw));
      INFO("mean=" << mean << " std=" << std);
      REQUIRE(max_abs_diff(before, after) < 1e-5);
    }
  }
}

TEST_CASE("compensate::Notebook is the notebook's bias -= mean, weight /= std", "[compensate]") {
  auto conv = lenet_conv1();
  const auto w = conv->weight.detach().clone();
  const auto b = conv->bias.detach().clone();
  compensate::Notebook::apply(conv, NormalizationValues::uniform(0.1307, 0.3081));
  REQUIRE(torch::equal(conv->weight, w.div(0.3081)));
  REQUIRE(torch::equal(conv->bias, b.sub(0.1307)));
  // ...which is not function-preserving, unlike Exact:
  auto x = torch::rand({2, 1, 28, 28});
  auto reference = lenet_conv1();
  torch::NoGradGuard no_grad;
  REQUIRE(max_abs_diff(reference(x), conv((x - 0.1307) / 0.3081)) > 0.1);
}

TEST_CASE("compensate::None leaves conv1 as initialised but still validates", "[compensate]") {
  auto conv = lenet_conv1();
  const auto w = conv->weight.detach().clone();
  compensate::None::apply(conv, NormalizationValues::uniform(2, 0.5));
  REQUIRE(torch::equal(conv->weight, w));
  REQUIRE_THROWS_WITH(compensate::None::apply(conv, NormalizationValues::uniform(0, -1)),
                      Catch::Contains("std = -1"));
}

TEST_CASE("fold_normalization keeps a trained net's predictions", "[compensate]") {
  torch::manual_seed(3);
  models::LeNet net;
  const auto v = NormalizationValues::uniform(0.1307, 0.3081);
  // A few real training steps on normalized input, so the weights are no longer the initial ones.
  torch::optim::SGD sgd(net->parameters(), 0.05);
  auto raw = torch::randint(0, 256, {32, 1, 28, 28}, torch::kUInt8);
  auto target = torch::randint(0, 10, {32}, torch::kInt64);
  BatchNormalizer normalize(v, torch::kCPU);
  for (int i = 0; i < 5; ++i) {
    sgd.zero_grad();
    torch::nll_loss(net(normalize(raw)), target).backward();
    sgd.step();
  }
  net->eval();
  torch::NoGradGuard no_grad;
  const auto before = net(normalize(raw));
  fold_normalization(net, v);
  const auto after = net(raw.to(torch::kFloat32).div(255));  // raw input: no Normalize any more
  REQUIRE(max_abs_diff(before, after) < 1e-5);
  REQUIRE(torch::equal(before.argmax(1), after.argmax(1)));
}

TEST_CASE("exact forms refuse where zero padding makes them inexact", "[compensate]") {
  torch::nn::Conv2d padded(torch::nn::Conv2dOptions(3, 8, 7).stride(2).padding(3).bias(false));
  const auto v = NormalizationValues::uniform(0.5, 0.25);
  REQUIRE_THROWS_WITH(compensate::Exact::apply(padded, v), Catch::Contains("zero-pads its input"));
  REQUIRE_THROWS_WITH(fold_normalization(padded, v), Catch::Contains("zero-pads its input"));

  // With mean 0, zero padding is the same in both spaces: scaling alone is exact.
  torch::nn::Conv2d padded_bias(torch::nn::Conv2dOptions(1, 4, 3).padding(1));
  torch::NoGradGuard no_grad;
  auto x = torch::rand({2, 1, 9, 9});
  const auto before = padded_bias(x);
  compensate::Exact::apply(padded_bias, NormalizationValues::uniform(0, 0.25));
  REQUIRE(max_abs_diff(before, padded_bias(x / 0.25)) < 1e-5);

  // Reflect padding commutes with the affine map, so it is exact for any mean.
  torch::nn::Conv2d reflect(torch::nn::Conv2dOptions(1, 4, 3).padding(1).padding_mode(torch::kReflect));
  const auto before_reflect = reflect(x);
  compensate::Exact::apply(reflect, NormalizationValues::uniform(0.5, 0.25));
  REQUIRE(max_abs_diff(before_reflect, reflect((x - 0.5) / 0.25)) < 1e-5);

  // 'same' padding pads with zeros for a 3x3 kernel, not for a 1x1 one.
  torch::nn::Conv2d same3(torch::nn::Conv2dOptions(1, 4, 3).padding(torch::kSame));
  REQUIRE_THROWS_WITH(compensate::Exact::apply(same3, v), Catch::Contains("zero-pads its input"));
  torch::nn::Conv2d same1(torch::nn::Conv2dOptions(1, 4, 1).padding(torch::kSame));
  const auto before_same1 = same1(x);
  compensate::Exact::apply(same1, NormalizationValues::uniform(0.5, 0.25));
  REQUIRE(max_abs_diff(before_same1, same1((x - 0.5) / 0.25)) < 1e-5);

  torch::nn::Conv2d no_bias(torch::nn::Conv2dOptions(1, 4, 3).bias(false));
  REQUIRE_THROWS_WITH(compensate::Exact::apply(no_bias, v), Catch::Contains("no bias"));
}

TEST_CASE("per-channel exact compensation on an RGB conv", "[compensate]") {
  torch::manual_seed(11);
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 16, 5));
  NormalizationValues v{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
  auto raw = torch::randint(0, 256, {4, 3, 20, 20}, torch::kUInt8);
  torch::NoGradGuard no_grad;
  const auto before = conv(raw.to(torch::kFloat32).div(255));
  compensate::Exact::apply(conv, v);
  BatchNormalizer normalize(v, torch::kCPU);
  REQUIRE(max_abs_diff(before, conv(normalize(raw))) < 1e-5);
  REQUIRE_THROWS_WITH(compensate::Notebook::apply(conv, v), Catch::Contains("one mean for all channels"));
}
