#include <catch2/catch.hpp>
#include <normlab/models/multi_lenet.hpp>

using namespace normlab;

namespace {
std::vector<models::LeNet> three_nets() {
  std::vector<models::LeNet> nets;
  for (int seed : {1, 2, 3}) {
    torch::manual_seed(seed);
    nets.push_back(LeNet::make());
  }
  return nets;
}
}  // namespace

TEST_CASE("MultiLeNet stacks K LeNets in one flat buffer that every view aliases", "[models][multi_lenet]") {
  const auto nets = three_nets();
  models::MultiLeNet multi(nets);
  REQUIRE(multi->variants() == 3);
  int64_t total = 0;
  for (const auto& p : nets.front()->parameters()) total += 3 * p.numel();
  REQUIRE(multi->flat().numel() == total);
  // Each variant's parameters are its LeNet's, and writing the flat buffer writes them.
  for (int64_t k = 0; k < 3; ++k) {
    const auto copy = multi->variant(k);
    const auto original = nets[static_cast<std::size_t>(k)]->parameters();
    const auto restored = copy->parameters();
    for (std::size_t i = 0; i < original.size(); ++i) REQUIRE(torch::equal(original[i], restored[i]));
  }
  {
    torch::NoGradGuard no_grad;
    multi->flat().fill_(0.5);
  }
  for (const auto& v : multi->variant_parameters(1)) REQUIRE(v.eq(0.5).all().item<bool>());
  // Any tensor laid out like flat() gets the stacked shapes.
  auto other = torch::arange(total, torch::kFloat32);
  const auto views = multi->stacked_views(other);
  REQUIRE(views.size() == multi->stacked().size());
  REQUIRE(views.front().sizes() == multi->stacked().front().sizes());
  REQUIRE(views[1].flatten()[0].item<float>() == static_cast<float>(views[0].numel()));
}

TEST_CASE("MultiLeNet's variants compute their LeNets' outputs, grouped agrees, gradients gather flat",
          "[models][multi_lenet]") {
  const auto nets = three_nets();
  models::MultiLeNet multi(nets);
  multi->eval();
  torch::manual_seed(9);
  const auto x = torch::randn({8, 1, 28, 28});
  std::vector<torch::Tensor> inputs;
  for (int64_t k = 0; k < 3; ++k) inputs.push_back(x * (1.0 + 0.5 * static_cast<double>(k)) - 0.1 * static_cast<double>(k));
  torch::Tensor grouped;
  {
    torch::NoGradGuard no_grad;
    grouped = multi->forward(torch::cat(inputs, 1), {}, {});  // the K inputs as channels
    REQUIRE(grouped.sizes() == torch::IntArrayRef({3, 8, 10}));
    for (int64_t k = 0; k < 3; ++k) {
      auto net = nets[static_cast<std::size_t>(k)];
      net->eval();
      const auto alone = net->forward(inputs[static_cast<std::size_t>(k)]);
      REQUIRE(torch::equal(multi->forward_variant(k, inputs[static_cast<std::size_t>(k)], {}, {}), alone));
      REQUIRE(torch::allclose(grouped[k], alone, 1e-5, 1e-5));
    }
  }
  // The grouped output's gradient lands in the stacked parameters, and gathers into flat()'s layout.
  multi->clear_grads();
  multi->forward(torch::cat(inputs, 1), {}, {}).sum().backward();
  torch::Tensor flat_grad;
  multi->gather_grads(flat_grad);
  const auto views = multi->stacked_views(flat_grad);
  for (std::size_t i = 0; i < views.size(); ++i) REQUIRE(torch::equal(views[i], multi->stacked()[i].grad()));
  multi->clear_grads();
  REQUIRE_THROWS_WITH(multi->gather_grads(flat_grad), Catch::Contains("has no gradient"));
}
