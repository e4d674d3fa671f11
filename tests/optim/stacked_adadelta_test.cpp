#include <catch2/catch.hpp>
#include <normlab/optim/stacked_adadelta.hpp>

#include <vector>

using namespace normlab;

namespace {
// K models of two parameters each ([3, 4] and [5]), laid out as run_variants lays them out: each
// parameter's K copies together, one parameter after the other.
constexpr int64_t K = 3;
const std::vector<std::vector<int64_t>> kShapes = {{3, 4}, {5}};

struct Flat {
  torch::Tensor all;
  std::vector<torch::Tensor> stacks;  // [K, ...] views of `all`
};
Flat make_flat(const torch::Tensor& values) {
  Flat f{values.clone(), {}};
  int64_t offset = 0;
  for (const auto& shape : kShapes) {
    std::vector<int64_t> stacked{K};
    stacked.insert(stacked.end(), shape.begin(), shape.end());
    const auto n = K * c10::multiply_integers(shape);
    f.stacks.push_back(f.all.narrow(0, offset, n).view(stacked));
    offset += n;
  }
  return f;
}
int64_t flat_size() {
  int64_t n = 0;
  for (const auto& s : kShapes) n += K * c10::multiply_integers(s);
  return n;
}

// Runs `steps` steps of K separate optim::Adadelta and of one StackedAdadelta on the same
// gradients, and returns the largest relative difference of the parameters (and whether bitwise equal).
std::pair<double, bool> compare(const optim::AdadeltaOptions& options, const std::vector<double>& lrs, int steps) {
  torch::manual_seed(7);
  const auto start = torch::randn({flat_size()});
  auto stacked = make_flat(start);
  optim::StackedAdadelta together(stacked.all, options);
  // The separate models: model k's parameter i is a copy of stacked.stacks[i][k].
  std::vector<std::vector<torch::Tensor>> params(K);
  std::vector<std::unique_ptr<optim::Adadelta>> alone;
  for (int64_t k = 0; k < K; ++k) {
    for (const auto& s : stacked.stacks) params[k].push_back(s.select(0, k).clone().requires_grad_(true));
    auto o = options;
    o.lr(lrs[static_cast<std::size_t>(k)]);
    alone.push_back(std::make_unique<optim::Adadelta>(params[k], o));
  }
  const bool uniform = std::all_of(lrs.begin(), lrs.end(), [&](double v) { return v == lrs.front(); });
  auto element_lrs = make_flat(torch::zeros({flat_size()}));
  for (auto& s : element_lrs.stacks)
    for (int64_t k = 0; k < K; ++k) s.select(0, k).fill_(lrs[static_cast<std::size_t>(k)]);
  for (int step = 0; step < steps; ++step) {
    auto grads = make_flat(torch::randn({flat_size()}) * (1.0 + step));
    for (int64_t k = 0; k < K; ++k)
      for (std::size_t i = 0; i < kShapes.size(); ++i)
        params[k][i].mutable_grad() = grads.stacks[i].select(0, k).clone();
    for (auto& o : alone) o->step();
    if (uniform)
      together.step(grads.all, lrs.front());
    else
      together.step(grads.all, element_lrs.all);
  }
  double worst = 0;
  bool equal = true;
  for (int64_t k = 0; k < K; ++k)
    for (std::size_t i = 0; i < kShapes.size(); ++i) {
      const auto a = params[k][i].detach(), b = stacked.stacks[i].select(0, k);
      worst = std::max(worst, ((a - b).abs() / a.abs().clamp_min(1e-3)).max().item<double>());
      equal = equal && torch::equal(a, b);
    }
  return {worst, equal};
}
}  // namespace

TEST_CASE("StackedAdadelta with one learning rate is K optim::Adadelta, bit for bit", "[optim][stacked_adadelta]") {
  const auto [worst, equal] = compare(optim::AdadeltaOptions(1.0), {1.0, 1.0, 1.0}, 40);
  INFO("largest relative difference " << worst);
  REQUIRE(equal);
}

TEST_CASE("StackedAdadelta with a learning rate per model agrees with K optim::Adadelta", "[optim][stacked_adadelta]") {
  for (const auto& options : {optim::AdadeltaOptions(1.0), optim::AdadeltaOptions(1.0).rho(0.8).eps(1e-4).weight_decay(0.01),
                              optim::AdadeltaOptions(1.0).maximize(true)}) {
    const auto [worst, equal] = compare(options, {1.0, 0.1, 0.0123}, 40);
    INFO("largest relative difference " << worst);
    REQUIRE(worst < 1e-6);
  }
}

TEST_CASE("StackedAdadelta refuses what it cannot update", "[optim][stacked_adadelta]") {
  REQUIRE_THROWS_WITH(optim::StackedAdadelta(torch::zeros({4, 4}).t(), optim::AdadeltaOptions(1.0)),
                      Catch::Contains("one contiguous float tensor"));
  optim::StackedAdadelta o(torch::zeros({6}), optim::AdadeltaOptions(1.0));
  REQUIRE_THROWS_WITH(o.step(torch::zeros({5}), 1.0), Catch::Contains("the parameters' shape"));
  REQUIRE_THROWS_WITH(o.step(torch::zeros({6}), torch::Tensor()), Catch::Contains("undefined learning rates"));
}
