#pragma once
// Optimizer policies for the Pipeline. The constants ride in the type (C++20 floating-point
// template arguments), so each experiment variant is its own type; make() builds the LibTorch
// optimizer over a model's parameters. Hyper-parameters searched at run time go through the
// policy's LibTorch-style options instead (Pipeline::optimizer_options, docs/pipeline.md):
// options() starts from the compile-time constants, make_with() builds from any options and
// checks them as PyTorch does, with a normlab sentence.

#include <memory>
#include <stdexcept>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "normlab/optim/adadelta.hpp"
#include "normlab/policy.hpp"

namespace normlab {

/// torch.optim.Adadelta(lr, rho, eps, weight_decay): the notebook's optimizer (lr = 1.0).
template <double Lr = 1.0, double Rho = 0.9, double Eps = 1e-6, double WeightDecay = 0.0>
struct Adadelta {
  // torch.optim.Adadelta's own checks, at compile time.
  static_assert(Lr >= 0, "normlab::Adadelta requires Lr >= 0");
  static_assert(Rho >= 0 && Rho <= 1, "normlab::Adadelta requires 0 <= Rho <= 1");
  static_assert(Eps >= 0, "normlab::Adadelta requires Eps >= 0");
  static_assert(WeightDecay >= 0, "normlab::Adadelta requires WeightDecay >= 0");
  using normlab_policy = policy::Optimizer;
  static constexpr const char* name = "adadelta";
  using options_type = optim::AdadeltaOptions;
  /// The compile-time constants as options: `auto o = Adadelta<>::options(); o.lr(0.5);`.
  static options_type options() { return optim::AdadeltaOptions(Lr).rho(Rho).eps(Eps).weight_decay(WeightDecay); }
  static std::unique_ptr<torch::optim::Optimizer> make(std::vector<torch::Tensor> parameters) {
    return make_with(std::move(parameters), options());
  }
  /// torch.optim.Adadelta's checks at run time: lr >= 0, 0 <= rho <= 1, eps >= 0, weight_decay >= 0.
  static std::unique_ptr<torch::optim::Optimizer> make_with(std::vector<torch::Tensor> parameters,
                                                            const options_type& o) {
    if (!(o.lr() >= 0) || !(o.rho() >= 0 && o.rho() <= 1) || !(o.eps() >= 0) || !(o.weight_decay() >= 0))
      throw std::invalid_argument("normlab::Adadelta: lr >= 0, 0 <= rho <= 1, eps >= 0 and weight_decay >= 0 (got lr " +
                                  std::to_string(o.lr()) + ", rho " + std::to_string(o.rho()) + ", eps " +
                                  std::to_string(o.eps()) + ", weight_decay " + std::to_string(o.weight_decay()) + ")");
    return std::make_unique<optim::Adadelta>(std::move(parameters), o);
  }
};

/// torch.optim.SGD(lr, momentum, weight_decay): the notebook's ResNet optimizer (0.01, 0.9).
template <double Lr = 0.01, double Momentum = 0.9, double WeightDecay = 0.0>
struct Sgd {
  // torch.optim.SGD's own checks, at compile time.
  static_assert(Lr >= 0, "normlab::Sgd requires Lr >= 0");
  static_assert(Momentum >= 0, "normlab::Sgd requires Momentum >= 0");
  static_assert(WeightDecay >= 0, "normlab::Sgd requires WeightDecay >= 0");
  using normlab_policy = policy::Optimizer;
  static constexpr const char* name = "sgd";
  using options_type = torch::optim::SGDOptions;
  /// The compile-time constants as options: `auto o = Sgd<>::options(); o.lr(0.1);`.
  static options_type options() { return torch::optim::SGDOptions(Lr).momentum(Momentum).weight_decay(WeightDecay); }
  static std::unique_ptr<torch::optim::Optimizer> make(std::vector<torch::Tensor> parameters) {
    return make_with(std::move(parameters), options());
  }
  /// torch.optim.SGD's checks at run time, as a sentence instead of a LibTorch backtrace.
  static std::unique_ptr<torch::optim::Optimizer> make_with(std::vector<torch::Tensor> parameters,
                                                            const options_type& o) {
    if (!(o.lr() >= 0) || !(o.momentum() >= 0) || !(o.weight_decay() >= 0))
      throw std::invalid_argument("normlab::Sgd: lr, momentum and weight_decay must be >= 0 (got lr " +
                                  std::to_string(o.lr()) + ", momentum " + std::to_string(o.momentum()) +
                                  ", weight_decay " + std::to_string(o.weight_decay()) + ")");
    if (o.nesterov() && (o.momentum() <= 0 || o.dampening() != 0))
      throw std::invalid_argument("normlab::Sgd: Nesterov momentum requires a momentum and zero dampening");
    return std::make_unique<torch::optim::SGD>(std::move(parameters), o);
  }
};

}  // namespace normlab
