#pragma once
// Adadelta for LibTorch, which (up to 2.x) ships no C++ Adadelta. Bit-compatible with PyTorch 1.13's
// torch.optim.Adadelta on the CPU (foreach=None, i.e. _single_tensor_adadelta); see docs/optim.md.

#include "normlab/detail/compiled.hpp"
#include "normlab/detail/format.hpp"
#include <torch/torch.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace normlab::optim {


/**
 * Hyper-parameters of Adadelta, with LibTorch's chaining setters:
 * `AdadeltaOptions(1.0).rho(0.95).weight_decay(1e-4)`. The names and defaults are PyTorch's.
 *
 * @param lr coefficient that scales each update before it is applied (default 1.0).
 * @param rho decay of the running averages of squared gradients and updates (default 0.9).
 * @param eps term added inside both square roots for numerical stability (default 1e-6).
 * @param weight_decay L2 penalty added to the gradient, grad + weight_decay * param (default 0).
 * @param maximize ascend the objective instead of descending it (default false).
 */
struct AdadeltaOptions : public torch::optim::OptimizerCloneableOptions<AdadeltaOptions> {
  AdadeltaOptions(double lr = 1.0) : lr_(lr) {}  // NOLINT: implicit like torch::optim::*Options
  TORCH_ARG(double, lr) = 1.0;
  TORCH_ARG(double, rho) = 0.9;
  TORCH_ARG(double, eps) = 1e-6;
  TORCH_ARG(double, weight_decay) = 0.0;
  TORCH_ARG(bool, maximize) = false;

 public:
  // Generic schedulers (ReduceLROnPlateau, StepLR) read and write the lr through these.
  double get_lr() const override { return lr(); }
  void set_lr(const double new_lr) override { lr(new_lr); }

  /// Throws std::invalid_argument naming the first option out of PyTorch's accepted range.
  /// Written as !(in range) so that NaN is rejected too, as `not 0.0 <= lr` does in Python.
  void validate() const {
    auto fail = [](const char* name, double value, const char* range) {
      throw std::invalid_argument("normlab::optim::Adadelta: invalid " + std::string(name) + " " +
                                  detail::shortest_double(value) + " (must be " + range + ")");
    };
    if (!(lr() >= 0.0)) fail("lr", lr(), ">= 0");
    if (!(rho() >= 0.0 && rho() <= 1.0)) fail("rho", rho(), "in [0, 1]");
    if (!(eps() >= 0.0)) fail("eps", eps(), ">= 0");
    if (!(weight_decay() >= 0.0)) fail("weight_decay", weight_decay(), ">= 0");
  }

  void serialize(torch::serialize::OutputArchive& archive) const override {
    archive.write("lr", c10::IValue(lr()));
    archive.write("rho", c10::IValue(rho()));
    archive.write("eps", c10::IValue(eps()));
    archive.write("weight_decay", c10::IValue(weight_decay()));
    archive.write("maximize", c10::IValue(maximize()));
  }
  void serialize(torch::serialize::InputArchive& archive) override {
    c10::IValue value;
    archive.read("lr", value);
    lr(value.toDouble());
    archive.read("rho", value);
    rho(value.toDouble());
    archive.read("eps", value);
    eps(value.toDouble());
    archive.read("weight_decay", value);
    weight_decay(value.toDouble());
    archive.read("maximize", value);
    maximize(value.toBool());
  }

  friend bool operator==(const AdadeltaOptions& lhs, const AdadeltaOptions& rhs) {
    return lhs.lr() == rhs.lr() && lhs.rho() == rhs.rho() && lhs.eps() == rhs.eps() &&
           lhs.weight_decay() == rhs.weight_decay() && lhs.maximize() == rhs.maximize();
  }
};

/// Adadelta's state for one parameter, created at the first step in which it has a gradient.
struct AdadeltaParamState {
  torch::Tensor square_avg;  ///< running average of squared gradients, v
  torch::Tensor acc_delta;   ///< running average of squared updates, u
  int64_t step = 0;          ///< steps taken with a gradient (bookkeeping only, as in PyTorch)
};

/**
 * Adadelta: per-coordinate step sizes from running averages of squared gradients and of squared
 * updates, so that no global learning rate needs tuning (lr only rescales the update):
 *
 *   v = rho v + (1 - rho) g^2;  delta = sqrt(u + eps) / sqrt(v + eps) * g;
 *   u = rho u + (1 - rho) delta^2;  param -= lr * delta.
 *
 * Paper: M. D. Zeiler, "ADADELTA: An Adaptive Learning Rate Method", arXiv:1212.5701, 2012.
 *
 * Reproduces torch.optim.Adadelta (PyTorch 1.13, foreach=None) op for op: the same ATen kernels in
 * the same order with the same double scalars, so CPU results are bit-identical to Python. The
 * gradient is negated first when maximizing, then weight decay is added to a copy (p.grad is never
 * modified). Parameters whose gradient is undefined are skipped and get no state. The lr is read
 * from each parameter group at every step, so schedulers may change it between steps. Per
 * parameter it keeps two state tensors and two (three with maximize or weight decay) scratch
 * buffers, so a step allocates no tensor-sized memory.
 *
 * @param param_groups parameters, optionally grouped, each group with its own AdadeltaOptions.
 * @param defaults options for groups that carry none (default AdadeltaOptions{}: lr 1.0,
 *        rho 0.9, eps 1e-6, weight_decay 0, maximize false); validated like PyTorch, throwing
 *        std::invalid_argument.
 */
class Adadelta : public torch::optim::Optimizer {
 public:
  explicit Adadelta(std::vector<torch::optim::OptimizerParamGroup> param_groups,
                    AdadeltaOptions defaults = {})
      : torch::optim::Optimizer(std::move(param_groups), validated(defaults)) {
    for (const auto& group : param_groups_) options_of(group).validate();
  }

  explicit Adadelta(std::vector<torch::Tensor> params, AdadeltaOptions defaults = {})
      : Adadelta(std::vector<torch::optim::OptimizerParamGroup>{
                     torch::optim::OptimizerParamGroup(std::move(params))},
                 std::move(defaults)) {}

  /// One Adadelta update of every parameter that has a gradient. @param closure re-evaluates the
  /// model and returns the loss (run with gradients enabled); its result is returned.
  torch::Tensor step(LossClosure closure = nullptr) override;

  /// The state of `param`, or std::nullopt before its first step with a gradient. The tensors
  /// alias the live state (no copy).
  std::optional<AdadeltaParamState> state_of(const torch::Tensor& param) const {
    auto found = slots_.find(param.unsafeGetTensorImpl());
    if (found == slots_.end() || !found->second.state.square_avg.defined()) return std::nullopt;
    return found->second.state;
  }

  /// Writes every group's options and every parameter's state, keyed by position, so that an
  /// optimizer built over the same parameter layout can load them (like load_state_dict).
  void save(torch::serialize::OutputArchive& archive) const override;

  /// Restores what save() wrote. The parameter groups must have the same sizes; state tensors are
  /// copied into tensors shaped, typed and placed like the current parameters.
  void load(torch::serialize::InputArchive& archive) override;

 private:
  /// State plus scratch buffers reused at every step (allocated at the first step).
  struct Slot {
    AdadeltaParamState state;
    torch::Tensor std_buffer;    // sqrt(v + eps)
    torch::Tensor delta_buffer;  // the update
    torch::Tensor grad_buffer;   // -grad and/or grad + weight_decay * param
  };

  static std::unique_ptr<AdadeltaOptions> validated(const AdadeltaOptions& options) {
    options.validate();
    return std::make_unique<AdadeltaOptions>(options);
  }

  static const AdadeltaOptions& options_of(const torch::optim::OptimizerParamGroup& group) {
    const auto* options = dynamic_cast<const AdadeltaOptions*>(&group.options());
    if (options == nullptr)
      throw std::invalid_argument(
          "normlab::optim::Adadelta: a parameter group carries options that are not AdadeltaOptions");
    return *options;
  }
  static AdadeltaOptions& options_of(torch::optim::OptimizerParamGroup& group) {
    return const_cast<AdadeltaOptions&>(
        options_of(static_cast<const torch::optim::OptimizerParamGroup&>(group)));
  }

  static torch::Tensor read_state_tensor(torch::serialize::InputArchive& archive,
                                         const std::string& key, const torch::Tensor& param) {
    c10::IValue value;
    archive.read(key, value);
    const torch::Tensor saved = value.toTensor();
    if (saved.sizes() != param.sizes())
      throw std::runtime_error("normlab::optim::Adadelta::load: " + key + " has shape " +
                               c10::str(saved.sizes()) + ", the parameter has " +
                               c10::str(param.sizes()));
    return torch::empty_like(param, at::MemoryFormat::Preserve).copy_(saved);
  }

  // A Python float as ATen passes it to a kernel: t.add(eps) runs add(t, <0-dim double tensor
  // marked as a wrapped number>). Passing that same tensor to add_out runs the same kernel on the
  // same values, with the result written into a scratch buffer instead of a new tensor.
  static torch::Tensor wrapped_number(double value) {
    torch::Tensor scalar = torch::scalar_tensor(value, torch::kDouble);
    scalar.unsafeGetTensorImpl()->set_wrapped_number(true);
    return scalar;
  }

  // _single_tensor_adadelta with its out-of-place results written into scratch buffers: the same
  // kernels on the same values, so the same bits, and no tensor-sized allocation per step.
  static void update(torch::Tensor& param, Slot& slot, const AdadeltaOptions& options,
                     const torch::Tensor& eps) {
    const double rho = options.rho();
    const double weight_decay = options.weight_decay();
    const torch::Tensor& raw_grad = param.grad();

    torch::Tensor grad = raw_grad;
    if (options.maximize() || weight_decay != 0) {
      if (!slot.grad_buffer.defined())
        slot.grad_buffer = torch::empty_like(param, at::MemoryFormat::Preserve);
      if (options.maximize()) {
        at::neg_out(slot.grad_buffer, raw_grad);                        // grad = -grad
        if (weight_decay != 0) slot.grad_buffer.add_(param, weight_decay);  // grad.add(param, alpha=wd)
      } else {
        at::add_out(slot.grad_buffer, raw_grad, param, weight_decay);  // grad.add(param, alpha=wd)
      }
      grad = slot.grad_buffer;
    }

    torch::Tensor square_avg = slot.state.square_avg;
    torch::Tensor acc_delta = slot.state.acc_delta;
    if (param.is_complex()) {  // complex numbers are updated as pairs of reals, as in PyTorch
      square_avg = torch::view_as_real(square_avg);
      acc_delta = torch::view_as_real(acc_delta);
      grad = torch::view_as_real(grad);
    }
    if (!slot.std_buffer.defined()) {
      slot.std_buffer = torch::empty_like(square_avg, at::MemoryFormat::Preserve);
      slot.delta_buffer = torch::empty_like(acc_delta, at::MemoryFormat::Preserve);
    }
    torch::Tensor& root_square_avg = slot.std_buffer;
    torch::Tensor& delta = slot.delta_buffer;

    square_avg.mul_(rho).addcmul_(grad, grad, 1 - rho);
    at::add_out(root_square_avg, square_avg, eps).sqrt_();  // std = square_avg.add(eps).sqrt_()
    at::add_out(delta, acc_delta, eps).sqrt_().div_(root_square_avg).mul_(grad);
    acc_delta.mul_(rho).addcmul_(delta, delta, 1 - rho);
    param.add_(param.is_complex() ? torch::view_as_complex(delta) : delta, -options.lr());
  }

  // Keyed by TensorImpl*, not by Optimizer::state_, whose key type changed in LibTorch 2.x.
  std::unordered_map<const c10::TensorImpl*, Slot> slots_;
};

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE torch::Tensor Adadelta::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  std::vector<std::pair<torch::Tensor, Slot*>> with_grad;
  for (auto& group : param_groups_) {
    const AdadeltaOptions& options = options_of(group);
    // Like PyTorch: gather (and check) the whole group before updating any of its parameters.
    with_grad.clear();
    for (auto& param : group.params()) {
      if (!param.grad().defined()) continue;
      if (param.grad().is_sparse())
        throw std::runtime_error("normlab::optim::Adadelta does not support sparse gradients");
      Slot& slot = slots_[param.unsafeGetTensorImpl()];
      if (!slot.state.square_avg.defined()) {
        slot.state.square_avg = torch::zeros_like(param, at::MemoryFormat::Preserve);
        slot.state.acc_delta = torch::zeros_like(param, at::MemoryFormat::Preserve);
      }
      slot.state.step += 1;
      with_grad.emplace_back(param, &slot);
    }
    const torch::Tensor eps = wrapped_number(options.eps());
    for (auto& [param, slot] : with_grad) update(param, *slot, options, eps);
  }
  return loss;
}

NORMLAB_INLINE void Adadelta::save(torch::serialize::OutputArchive& archive) const {
  archive.write("normlab_adadelta/version", c10::IValue(int64_t{1}));
  archive.write("param_groups/size", c10::IValue(static_cast<int64_t>(param_groups_.size())));
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    const auto& group = param_groups_[g];
    const std::string prefix = "param_groups/" + std::to_string(g) + "/";
    torch::serialize::OutputArchive options_archive(archive.compilation_unit());
    options_of(group).serialize(options_archive);
    archive.write(prefix + "options", options_archive);
    archive.write(prefix + "params/size", c10::IValue(static_cast<int64_t>(group.params().size())));
    for (std::size_t i = 0; i < group.params().size(); ++i) {
      auto found = slots_.find(group.params()[i].unsafeGetTensorImpl());
      if (found == slots_.end() || !found->second.state.square_avg.defined()) continue;
      const std::string key = prefix + "state/" + std::to_string(i) + "/";
      archive.write(key + "step", c10::IValue(found->second.state.step));
      archive.write(key + "square_avg", c10::IValue(found->second.state.square_avg));
      archive.write(key + "acc_delta", c10::IValue(found->second.state.acc_delta));
    }
  }
}

NORMLAB_INLINE void Adadelta::load(torch::serialize::InputArchive& archive) {
  c10::IValue value;
  if (!archive.try_read("normlab_adadelta/version", value))
    throw std::runtime_error("normlab::optim::Adadelta::load: not an Adadelta archive");
  archive.read("param_groups/size", value);
  if (value.toInt() != static_cast<int64_t>(param_groups_.size()))
    throw std::runtime_error("normlab::optim::Adadelta::load: archive has " +
                             std::to_string(value.toInt()) + " parameter groups, optimizer has " +
                             std::to_string(param_groups_.size()));
  std::unordered_map<const c10::TensorImpl*, Slot> loaded;
  std::vector<AdadeltaOptions> loaded_options;
  for (std::size_t g = 0; g < param_groups_.size(); ++g) {
    const auto& group = param_groups_[g];
    const std::string prefix = "param_groups/" + std::to_string(g) + "/";
    torch::serialize::InputArchive options_archive;
    archive.read(prefix + "options", options_archive);
    loaded_options.emplace_back().serialize(options_archive);
    archive.read(prefix + "params/size", value);
    if (value.toInt() != static_cast<int64_t>(group.params().size()))
      throw std::runtime_error("normlab::optim::Adadelta::load: group " + std::to_string(g) +
                               " has " + std::to_string(value.toInt()) +
                               " parameters in the archive, " +
                               std::to_string(group.params().size()) + " in the optimizer");
    for (std::size_t i = 0; i < group.params().size(); ++i) {
      const torch::Tensor& param = group.params()[i];
      const std::string key = prefix + "state/" + std::to_string(i) + "/";
      if (!archive.try_read(key + "step", value)) continue;  // no state saved for this one
      AdadeltaParamState state;
      state.step = value.toInt();
      state.square_avg = read_state_tensor(archive, key + "square_avg", param);
      state.acc_delta = read_state_tensor(archive, key + "acc_delta", param);
      loaded[param.unsafeGetTensorImpl()].state = std::move(state);
    }
  }
  // Commit only once everything was read, so that a failed load leaves the optimizer unchanged.
  for (std::size_t g = 0; g < param_groups_.size(); ++g)
    options_of(param_groups_[g]) = loaded_options[g];
  slots_ = std::move(loaded);
}
#endif

}  // namespace normlab::optim
