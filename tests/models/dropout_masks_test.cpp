// normlab/models/dropout_masks.hpp: LeNet's dropout masks drawn in bulk. They must be the masks
// torch::dropout draws under the same seed, leave the generator where torch::dropout leaves it, and
// hold 0 and 1/(1-p) in the proportions p and 1-p. (tests/train/multi_variant_test.cpp checks the
// flat sizes run_variants draws; here: LeNet's shapes, other p, the product LeNet forms, the edges.)
#include <catch2/catch.hpp>

#include <vector>

#include <ATen/Config.h>
#include <normlab/models/dropout_masks.hpp>

using normlab::detail::DropoutMasks;

namespace {
at::Generator generator() { return at::detail::getDefaultCPUGenerator(); }
}  // namespace

TEST_CASE("a bulk dropout mask is torch::dropout's under the same seed and leaves the generator as it does",
          "[models][dropout_masks]") {
#if TORCH_VERSION_MAJOR < 2 && !AT_MKL_ENABLED()
  REQUIRE(DropoutMasks::bulk_available(0.1));  // Debian's LibTorch 1.13 (no MKL) takes the bulk path
#endif
  const std::vector<std::vector<int64_t>> shapes = {{64, 64, 12, 12}, {64, 128}, {3, 5, 7}, {1}};
  for (double p : {0.1, 0.25, 0.5, 0.75}) {
    for (const auto& shape : shapes) {
      torch::manual_seed(42);
      torch::rand({static_cast<int64_t>(shape[0] * 7 % 601)});  // start inside a 624-word block
      const auto state = generator().get_state();
      const auto expected = DropoutMasks::reference(shape, p, torch::kCPU);
      const auto after = generator().get_state();
      generator().set_state(state);
      const auto got = DropoutMasks::draw(shape, p, torch::kCPU);
      INFO("p=" << p << " shape=" << got.sizes());
      REQUIRE(got.sizes() == expected.sizes());
      REQUIRE(got.scalar_type() == torch::kFloat32);
      REQUIRE(torch::equal(got, expected));
      REQUIRE(torch::equal(generator().get_state(), after));
    }
  }
}

TEST_CASE("x times the mask is torch::dropout(x) in training, bit for bit", "[models][dropout_masks]") {
  // What LeNet's forward does with the mask: the same product as dropout's own input * mask.
  torch::manual_seed(5);
  const auto x = torch::randn({64, 128});
  for (double p : {0.25, 0.5}) {
    torch::manual_seed(1998);
    const auto expected = torch::dropout(x, p, /*train=*/true);
    torch::manual_seed(1998);
    const auto got = x * DropoutMasks::draw(x.sizes(), p, x.options());
    INFO("p=" << p);
    REQUIRE(torch::equal(got, expected));
  }
}

TEST_CASE("a dropout mask holds 0 and 1/(1-p), keeping about 1-p of the elements", "[models][dropout_masks]") {
  torch::manual_seed(3);
  const int64_t n = 200000;
  for (double p : {0.25, 0.5}) {
    const auto mask = DropoutMasks::draw({n}, p, torch::kCPU);
    const float scale = torch::ones({1}).div_(1 - p).item<float>();
    const auto kept = mask.ne(0);
    INFO("p=" << p);
    REQUIRE(torch::equal(mask.masked_select(kept), torch::full({kept.sum().item<int64_t>()}, scale)));
    // The kept share within 5 standard deviations of a binomial's (sd = sqrt(p(1-p)/n) <= 0.0012).
    REQUIRE(kept.to(torch::kFloat64).mean().item<double>() == Approx(1 - p).margin(0.006));
  }
}

TEST_CASE("p = 0 keeps everything and draws nothing, p = 1 drops everything", "[models][dropout_masks]") {
  REQUIRE_FALSE(DropoutMasks::bulk_available(0.0));  // torch's own path for the edges
  REQUIRE_FALSE(DropoutMasks::bulk_available(1.0));
  torch::manual_seed(11);
  const auto state = generator().get_state();
  const auto keep_all = DropoutMasks::draw({4, 6}, 0.0, torch::kCPU);
  REQUIRE(torch::equal(keep_all, torch::ones({4, 6})));
  REQUIRE(torch::equal(generator().get_state(), state));
  const auto drop_all = DropoutMasks::draw({4, 6}, 1.0, torch::kCPU);
  REQUIRE(torch::equal(drop_all, torch::zeros({4, 6})));
}
