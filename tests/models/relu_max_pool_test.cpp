#include <catch2/catch.hpp>
#include <normlab/models/relu_max_pool.hpp>

#include <limits>

using namespace normlab;

namespace {
// ATen's relu then max_pool2d(2), values and gradient for `upstream`.
std::pair<torch::Tensor, torch::Tensor> aten(const torch::Tensor& x, const torch::Tensor& upstream) {
  auto input = x.detach().clone().requires_grad_(true);
  auto y = torch::max_pool2d(torch::relu(input), 2);
  y.backward(upstream);
  return {y.detach(), input.grad()};
}
std::pair<torch::Tensor, torch::Tensor> fused(const torch::Tensor& x, const torch::Tensor& upstream) {
  auto input = x.detach().clone().requires_grad_(true);
  auto y = relu_max_pool2x2(input);
  y.backward(upstream);
  return {y.detach(), input.grad()};
}
// Bitwise equality (torch::equal says -0 == +0).
bool same_bits(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && torch::equal(a.contiguous().view(torch::kInt32), b.contiguous().view(torch::kInt32));
}
}  // namespace

TEST_CASE("relu + 2x2 max-pooling in one pass gives ATen's values and gradients bit for bit", "[models][relu_max_pool]") {
  const int saved = torch::get_num_threads();
  for (int threads : {1, 2}) {
    torch::set_num_threads(threads);
    torch::manual_seed(11 + threads);
    // LeNet's conv2 output at batch 64, and a small odd-batch one.
    for (auto shape : {std::vector<int64_t>{64, 64, 24, 24}, std::vector<int64_t>{3, 5, 6, 8}}) {
      auto x = torch::randn(shape);
      // Ties, exact zeros (+0 and -0) and all-negative windows, as relu makes them.
      x.masked_fill_(torch::rand(shape) < 0.1, 0.0);
      x.masked_fill_(torch::rand(shape) < 0.05, -0.0);
      x.masked_fill_(torch::rand(shape) < 0.05, 0.75);
      auto upstream = torch::randn({shape[0], shape[1], shape[2] / 2, shape[3] / 2});
      upstream.masked_fill_(torch::rand(upstream.sizes()) < 0.1, -0.0);  // ATen turns -0 into +0
      REQUIRE(normlab::detail::ReluMaxPool2x2::applies(x));
      const auto [y_ref, g_ref] = aten(x, upstream);
      const auto [y, g] = fused(x, upstream);
      INFO("threads " << threads << ", shape " << x.sizes());
      REQUIRE(same_bits(y, y_ref));
      REQUIRE(same_bits(g, g_ref));
    }
  }
  torch::set_num_threads(saved);
}

TEST_CASE("relu + max-pooling propagates NaN as ATen does", "[models][relu_max_pool]") {
  auto x = torch::randn({2, 3, 4, 4});
  x[0][1][0][1] = std::numeric_limits<float>::quiet_NaN();
  x[1][2][3][3] = std::numeric_limits<float>::quiet_NaN();
  const auto upstream = torch::randn({2, 3, 2, 2});
  const auto [y_ref, g_ref] = aten(x, upstream);
  const auto [y, g] = fused(x, upstream);
  REQUIRE(torch::equal(torch::isnan(y), torch::isnan(y_ref)));
  REQUIRE(torch::isnan(y).sum().item<int64_t>() == 2);
  REQUIRE(torch::allclose(y.nan_to_num(0), y_ref.nan_to_num(0), 0, 0));
  REQUIRE(same_bits(g, g_ref));
}

TEST_CASE("relu + max-pooling falls back to ATen where the fused pass does not apply", "[models][relu_max_pool]") {
  const auto odd = torch::randn({2, 3, 5, 6});
  REQUIRE_FALSE(normlab::detail::ReluMaxPool2x2::applies(odd));
  REQUIRE_FALSE(normlab::detail::ReluMaxPool2x2::applies(odd.to(torch::kFloat64)));
  REQUIRE_FALSE(normlab::detail::ReluMaxPool2x2::applies(torch::randn({2, 4, 6, 6}).transpose(2, 3)));
  REQUIRE(torch::equal(relu_max_pool2x2(odd), torch::max_pool2d(torch::relu(odd), 2)));
}
