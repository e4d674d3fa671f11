// normlab/train/policy_options.hpp: a policy's options, or NoOptions for one without.
#include <catch2/catch.hpp>
#include <normlab/normlab.hpp>

using namespace normlab;

namespace {
struct PlainOptimizer {  // a user's policy without options: made by make()
  using normlab_policy = policy::Optimizer;
  static constexpr const char* name = "plain";
  static std::unique_ptr<torch::optim::Optimizer> make(std::vector<torch::Tensor> p) {
    return std::make_unique<torch::optim::SGD>(std::move(p), torch::optim::SGDOptions(0.125));
  }
};
}  // namespace

static_assert(std::is_same_v<options_of_t<Adadelta<>>, optim::AdadeltaOptions>);
static_assert(std::is_same_v<options_of_t<StepLr<>>, schedule::StepLROptions>);
static_assert(std::is_same_v<options_of_t<PlainOptimizer>, NoOptions>);
static_assert(std::is_same_v<options_of_t<ConstantLr>, NoOptions>);
static_assert(has_options<Sgd<>> && !has_options<PlainOptimizer>);

TEST_CASE("default_options are the template constants, and make_with_options builds from given ones",
          "[train][options]") {
  const auto adadelta = default_options<Adadelta<0.5, 0.95>>();
  CHECK(adadelta.lr() == 0.5);
  CHECK(adadelta.rho() == 0.95);
  CHECK(are_default_options<Adadelta<0.5, 0.95>>(adadelta));
  CHECK_FALSE(are_default_options<Adadelta<>>(adadelta));
  const auto plateau = default_options<ReduceOnPlateau<schedule::PlateauMode::min, 0.5, 3>>();
  CHECK(plateau.mode() == schedule::PlateauMode::min);
  CHECK(plateau.patience() == 3);
  CHECK(default_options<StepLr<2, 0.25>>().step_size() == 2);

  auto w = torch::zeros({3}, torch::requires_grad());
  auto sgd = make_with_options<Sgd<>>(std::vector<torch::Tensor>{w}, torch::optim::SGDOptions(0.3).momentum(0.5));
  CHECK(sgd->param_groups()[0].options().get_lr() == 0.3);
  auto plain = make_with_options<PlainOptimizer>(std::vector<torch::Tensor>{w}, NoOptions{});
  CHECK(plain->param_groups()[0].options().get_lr() == 0.125);
  auto step = make_with_options<StepLr<>>(*sgd, schedule::StepLROptions(2).gamma(0.5));
  step.step();
  step.step();
  CHECK(sgd->param_groups()[0].options().get_lr() == 0.15);
  CHECK(are_default_options<ConstantLr>(NoOptions{}));
}
