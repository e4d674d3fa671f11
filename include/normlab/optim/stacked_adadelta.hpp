#pragma once
// Adadelta over many models' parameters held in ONE flat tensor: the update of optim::Adadelta (and
// torch.optim.Adadelta) element by element, in ~11 kernels per step whatever the number of models
// and parameters. run_variants' Grouped kernels use it for K LeNets at once, where K optimizers
// would launch ~90 small kernels per variant per step (the GPU's bottleneck for a LeNet).
//
// Each model may have its own learning rate: step() takes either one lr for every element (then the
// arithmetic is optim::Adadelta's operation for operation) or a tensor holding each element's lr
// (then the last operation is param += -(delta * lr), which may round differently from
// param += (-lr) * delta by one unit in the last place where the compiler fuses it).

#include <stdexcept>
#include <torch/torch.h>

#include "normlab/optim/adadelta.hpp"

namespace normlab::optim {

class StackedAdadelta {
 public:
  /// @param params a contiguous float tensor holding every parameter (updated in place).
  StackedAdadelta(torch::Tensor params, const AdadeltaOptions& options);

  const torch::Tensor& params() const { return params_; }
  /// The running averages of squared gradients and of squared updates (PyTorch's state names).
  torch::Tensor& square_avg() { return square_avg_; }
  torch::Tensor& acc_delta() { return acc_delta_; }
  const AdadeltaOptions& options() const { return options_; }

  /// One step with the same learning rate for every element.
  void step(const torch::Tensor& grad, double lr) { update(grad, nullptr, lr); }
  /// One step with a learning rate per element (`lr` broadcastable to the parameters).
  void step(const torch::Tensor& grad, const torch::Tensor& lr) {
    if (!lr.defined()) throw std::invalid_argument("normlab::optim::StackedAdadelta: undefined learning rates");
    update(grad, &lr, 0.0);
  }

 private:
  void update(const torch::Tensor& raw_grad, const torch::Tensor* lrs, double lr);

  torch::Tensor params_;
  AdadeltaOptions options_;
  torch::Tensor square_avg_, acc_delta_, std_, delta_, grad_, eps_;
};

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE StackedAdadelta::StackedAdadelta(torch::Tensor params, const AdadeltaOptions& options) : params_(std::move(params)), options_(options) {
  options_.validate();
  if (!params_.is_contiguous() || !params_.is_floating_point())
    throw std::invalid_argument("normlab::optim::StackedAdadelta: parameters must be one contiguous float tensor");
  square_avg_ = torch::zeros_like(params_);
  acc_delta_ = torch::zeros_like(params_);
  std_ = torch::empty_like(params_);
  delta_ = torch::empty_like(params_);
  eps_ = torch::scalar_tensor(options_.eps(), torch::kDouble);
  eps_.unsafeGetTensorImpl()->set_wrapped_number(true);  // as a Python float reaches the kernel
}

NORMLAB_INLINE void StackedAdadelta::update(const torch::Tensor& raw_grad, const torch::Tensor* lrs, double lr) {
  if (!raw_grad.defined() || raw_grad.sizes() != params_.sizes())
    throw std::invalid_argument("normlab::optim::StackedAdadelta: the gradient must have the parameters' shape");
  torch::NoGradGuard no_grad;
  const double rho = options_.rho();
  torch::Tensor grad = raw_grad;
  if (options_.maximize() || options_.weight_decay() != 0) {
    if (!grad_.defined()) grad_ = torch::empty_like(params_);
    if (options_.maximize()) {
      at::neg_out(grad_, raw_grad);
      if (options_.weight_decay() != 0) grad_.add_(params_, options_.weight_decay());
    } else {
      at::add_out(grad_, raw_grad, params_, options_.weight_decay());
    }
    grad = grad_;
  }
  square_avg_.mul_(rho).addcmul_(grad, grad, 1 - rho);
  at::add_out(std_, square_avg_, eps_).sqrt_();
  at::add_out(delta_, acc_delta_, eps_).sqrt_().div_(std_).mul_(grad);
  acc_delta_.mul_(rho).addcmul_(delta_, delta_, 1 - rho);
  if (lrs)
    params_.addcmul_(delta_, *lrs, -1);  // param + (-1) * (delta * lr): the negation is exact
  else
    params_.add_(delta_, -lr);
}
#endif

}  // namespace normlab::optim
