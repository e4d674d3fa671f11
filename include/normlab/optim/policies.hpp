#pragma once
// Optimizer policies for the Pipeline. The constants ride in the type (C++20 floating-point
// template arguments), so each experiment variant is its own type; make() builds the LibTorch
// optimizer over a model's parameters.

#include <memory>
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
  static std::unique_ptr<torch::optim::Optimizer> make(std::vector<torch::Tensor> parameters) {
    return std::make_unique<optim::Adadelta>(
        std::move(parameters),
        optim::AdadeltaOptions(Lr).rho(Rho).eps(Eps).weight_decay(WeightDecay));
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
  static std::unique_ptr<torch::optim::Optimizer> make(std::vector<torch::Tensor> parameters) {
    return std::make_unique<torch::optim::SGD>(
        std::move(parameters),
        torch::optim::SGDOptions(Lr).momentum(Momentum).weight_decay(WeightDecay));
  }
};

}  // namespace normlab
