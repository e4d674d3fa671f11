#include <catch2/catch.hpp>
#include <normlab/models/lenet.hpp>

using namespace normlab;

namespace {
// LeNet's eval forward written out on the whole batch at once (no slicing).
torch::Tensor whole_batch_forward(models::LeNet& net, const torch::Tensor& x) {
  auto h = torch::flatten(net->convolutions(x), 1);
  return torch::log_softmax(net->fc2(torch::relu(net->fc1(h))), 1);
}
}  // namespace

TEST_CASE("LeNet evaluates large CPU batches in slices with the same bits as the whole batch", "[models][lenet]") {
  torch::NoGradGuard no_grad;
  const int saved = torch::get_num_threads();
  for (int threads : {1, 2}) {
    torch::set_num_threads(threads);
    torch::manual_seed(1998);
    auto net = LeNet::make();
    net->eval();
    // 1,000 images (the notebook's test batch), and a size that leaves a partial last slice.
    for (int64_t n : {int64_t{1000}, int64_t{257}}) {
      const auto x = torch::randn({n, 1, 28, 28}) * 2 + 0.5;
      REQUIRE(net->evaluate_in_slices(x));
      const auto sliced = net->forward(x);
      const auto whole = whole_batch_forward(net, x);
      INFO("threads " << threads << ", batch " << n);
      REQUIRE(sliced.sizes() == whole.sizes());
      REQUIRE(torch::equal(sliced, whole));
    }
  }
  torch::set_num_threads(saved);
}

TEST_CASE("LeNet slices only evaluation batches larger than a slice", "[models][lenet]") {
  auto net = LeNet::make();
  const auto big = torch::zeros({models::LeNetImpl::kEvalSlice + 1, 1, 28, 28});
  const auto small = torch::zeros({models::LeNetImpl::kEvalSlice, 1, 28, 28});
  net->train();  // training draws dropout masks in order over the whole batch: never sliced
  REQUIRE_FALSE(net->evaluate_in_slices(big));
  net->eval();
  REQUIRE(net->evaluate_in_slices(big));
  REQUIRE_FALSE(net->evaluate_in_slices(small));
  REQUIRE(net->forward(big).sizes() == torch::IntArrayRef({models::LeNetImpl::kEvalSlice + 1, 10}));
}

