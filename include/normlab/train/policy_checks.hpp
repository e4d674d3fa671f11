#pragma once
// What the Pipeline asks of each kind of policy, checked up front with one normlab sentence per
// missing member (instead of a GCC error from deep inside a run). The Normalization's own check is
// beside its normalizers (normalize/normalizer.hpp); the compensation's fit to the normalization is
// in compensate/compensate.hpp.

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <type_traits>
#include <torch/torch.h>
#include <vector>

#include "normlab/data/dataset.hpp"
#include "normlab/normalize/values.hpp"

namespace normlab::detail {

/// A Model policy: make(classes) -> a module holder; loss(output, target[, reduction]);
/// first_conv(net) -> the conv1 that compensations adjust.
template <class M>
constexpr bool check_model_policy() {
  if constexpr (std::is_void_v<M>) return true;  // no Model: check_model_count says so
  else {
    static_assert(requires { M::make(int64_t{10}); },
                  "normlab: a Model policy needs `static module_type make(int64_t classes)` (models/lenet.hpp's "
                  "LeNet is an example; docs/pipeline.md)");
    if constexpr (requires { M::make(int64_t{10}); }) {
      using Net = decltype(M::make(int64_t{10}));
      static_assert(requires(Net& net, torch::Tensor x) {
        { net->forward(x) } -> std::convertible_to<torch::Tensor>;
        net->parameters();
      }, "normlab: a Model policy's make() must return a module holder (TORCH_MODULE) with forward(x) and parameters()");
      static_assert(requires(torch::Tensor out, torch::Tensor target) {
        { M::loss(out, target) } -> std::convertible_to<torch::Tensor>;
        { M::loss(out, target, torch::Reduction::Sum) } -> std::convertible_to<torch::Tensor>;
      }, "normlab: a Model policy needs `static torch::Tensor loss(output, target, torch::Reduction::Reduction = "
         "Mean)` (the test loss is summed)");
      static_assert(requires(Net& net) { { M::first_conv(net) } -> std::convertible_to<torch::nn::Conv2d&>; },
                    "normlab: a Model policy needs `static torch::nn::Conv2d& first_conv(module&)`, the layer that "
                    "sees the normalized input (compensations adjust it)");
    }
    return true;
  }
}

/// An Optimizer policy: make(parameters) -> std::unique_ptr<torch::optim::Optimizer>.
template <class O>
constexpr bool check_optimizer_policy() {
  static_assert(requires(std::vector<torch::Tensor> p) {
    { O::make(p) } -> std::convertible_to<std::unique_ptr<torch::optim::Optimizer>>;
  }, "normlab: an Optimizer policy needs `static std::unique_ptr<torch::optim::Optimizer> make(std::vector<"
     "torch::Tensor> parameters)` (optim/policies.hpp; docs/pipeline.md)");
  return true;
}

/// A Scheduler policy: make(optimizer) -> a state; step(state, test accuracy, test loss) once per
/// epoch, or step(state, test accuracy, test loss, training loss) (train/epoch_loop.hpp). (LibTorch's schedulers step themselves, `step()` or `step(metric)`: the policy says
/// which metric its scheduler reads, as ReduceOnPlateau's mode does.)
template <class S>
constexpr bool check_scheduler_policy() {
  static_assert(requires(torch::optim::Optimizer& o) { S::make(o); },
                "normlab: a Scheduler policy needs `static auto make(torch::optim::Optimizer&)` (schedule/"
                "policies.hpp; docs/pipeline.md)");
  if constexpr (requires(torch::optim::Optimizer& o) { S::make(o); }) {
    using State = decltype(S::make(std::declval<torch::optim::Optimizer&>()));
    static_assert(requires(State& s) { S::step(s, 0.5, 0.5); } || requires(State& s) { S::step(s, 0.5, 0.5, 0.5); },
                  "normlab: a Scheduler policy needs `static void step(state&, double test_accuracy, double "
                  "test_loss)`, called once per epoch after the test (not LibTorch's `step(metric)`: the policy "
                  "picks the metric), or `static void step(state&, double test_accuracy, double test_loss, double "
                  "train_loss)` to watch the training loss");
  }
  return true;
}

/// A Compensation policy: apply(conv1, values).
template <class C>
constexpr bool check_compensation_policy() {
  static_assert(requires(torch::nn::Conv2d& conv, const NormalizationValues& v) { C::apply(conv, v); },
                "normlab: a Compensation policy needs `static void apply(torch::nn::Conv2d& conv1, const "
                "NormalizationValues&)` (compensate/compensate.hpp)");
  return true;
}

/// A Device policy: select() -> torch::Device.
template <class D>
constexpr bool check_device_policy() {
  static_assert(requires { { D::select() } -> std::convertible_to<torch::Device>; },
                "normlab: a Device policy needs `static torch::Device select()` (device/device.hpp)");
  return true;
}

/// A Dataset policy: load(root) -> data::TrainTest.
template <class D>
constexpr bool check_dataset_policy() {
  static_assert(requires(std::filesystem::path root) { { D::load(root) } -> std::convertible_to<data::TrainTest>; },
                "normlab: a Dataset policy needs `static data::TrainTest load(const std::filesystem::path& root)` "
                "(data/mnist.hpp)");
  return true;
}

}  // namespace normlab::detail
