// train/policy_checks.hpp: what each kind of policy must have. The policies here are docs/pipeline.md's
// worked examples ("Writing your own model, optimizer or scheduler"), compiled and run.
#include <catch2/catch.hpp>
#include <normlab/normlab.hpp>

#include "../fixture_run.hpp"
#include "../golden.hpp"

using namespace normlab;

namespace {

struct WideNetImpl : torch::nn::Module {
  torch::nn::Conv2d conv1{torch::nn::Conv2dOptions(1, 64, 3)};
  torch::nn::Linear fc{64 * 26 * 26, 10};
  WideNetImpl() { register_module("conv1", conv1); register_module("fc", fc); }
  torch::Tensor forward(torch::Tensor x) {
    return torch::log_softmax(fc(torch::relu(conv1(x)).flatten(1)), 1);
  }
};
TORCH_MODULE(WideNet);

struct Wide {
  using normlab_policy = policy::Model;
  static constexpr const char* name = "wide";
  static WideNet make(int64_t) { return WideNet(); }
  static torch::nn::Conv2d& first_conv(WideNet& net) { return net->conv1; }
  static torch::Tensor loss(const torch::Tensor& out, const torch::Tensor& target,
                            torch::Reduction::Reduction r = torch::Reduction::Mean) {
    return torch::nll_loss(out, target, {}, r);
  }
};

template <double Lr = 1e-3>
struct Adam {
  using normlab_policy = policy::Optimizer;
  static constexpr const char* name = "adam";
  static std::unique_ptr<torch::optim::Optimizer> make(std::vector<torch::Tensor> parameters) {
    return std::make_unique<torch::optim::Adam>(std::move(parameters), torch::optim::AdamOptions(Lr));
  }
};

struct HalveEveryOther {
  using normlab_policy = policy::Scheduler;
  static constexpr const char* name = "halve-every-other";
  static torch::optim::StepLR make(torch::optim::Optimizer& o) { return torch::optim::StepLR(o, 2, 0.5); }
  static void step(torch::optim::StepLR& s, double, double) { s.step(); }
};

using Mine = Pipeline<normalize::Runtime, Wide, Adam<>, HalveEveryOther, compensate::Exact, device::Cpu>;

static_assert(normlab::detail::check_model_policy<Wide>());
static_assert(normlab::detail::check_model_policy<LeNet>());
static_assert(normlab::detail::check_model_policy<ResNet18>());
static_assert(normlab::detail::check_optimizer_policy<Adam<>>());
static_assert(normlab::detail::check_scheduler_policy<HalveEveryOther>());
static_assert(normlab::detail::check_scheduler_policy<ReduceOnPlateau<>>());
static_assert(normlab::detail::check_scheduler_policy<StepLr<1, 0.7>>());

}  // namespace

TEST_CASE("docs/pipeline.md's own model, optimizer and scheduler train in a Pipeline", "[train][pipeline]") {
  RunOptions o = testing::fixture_run(4, 256, 200);
  o.normalization = NormalizationValues::uniform(0.1307, 0.3081);
  const auto r = Mine{}.run(o);
  REQUIRE(r.history.size() == 4);
  // LibTorch's StepLR counts the step it is taking, so it halves one epoch later than PyTorch's
  // (normlab's StepLr<> follows PyTorch): 1e-3 for three epochs, then 5e-4.
  REQUIRE(r.history[0].lr == 1e-3);
  REQUIRE(r.history[1].lr == 1e-3);
  REQUIRE(r.history[2].lr == 1e-3);
  REQUIRE(r.history[3].lr == 5e-4);
  // It learns: after four epochs on 256 images, well above chance on 200 test images.
  REQUIRE(r.accuracy > 0.5);
}
