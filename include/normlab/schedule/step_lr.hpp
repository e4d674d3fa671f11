#pragma once
// StepLR with PyTorch's epoch counting. LibTorch's own torch::optim::StepLR counts its steps from 0
// where Python's constructor has already taken step 0, so it decays one step later than Python;
// this one decays on the same step() as torch.optim.lr_scheduler.StepLR (1.13). See docs/optim.md.

#include <torch/torch.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace normlab::schedule {

/// StepLR's settings, LibTorch-style: `StepLROptions(30).gamma(0.5)`.
struct StepLROptions {
  /* implicit */ StepLROptions(int64_t step_size) : step_size_(step_size) {}
  TORCH_ARG(int64_t, step_size);
  TORCH_ARG(double, gamma) = 0.1;

 public:
  bool operator==(const StepLROptions&) const = default;
};

/**
 * Multiplies every parameter group's learning rate by `gamma` every `step_size` epochs: with
 * lr 0.05, step_size 30 and gamma 0.1, epochs 0-29 use 0.05, epochs 30-59 use 0.005, and so on.
 *
 * Matches PyTorch 1.13's chainable StepLR.get_lr: construction is epoch 0; the k-th step() moves
 * to epoch k and, when k is a multiple of step_size, sets lr = lr * gamma from the group's current
 * lr (in double), so changes made by others in between are kept (the schedule composes).
 *
 * @param optimizer the optimizer whose groups' learning rates decay; must outlive the scheduler.
 * @param step_size period of the decay in epochs; must be > 0.
 * @param gamma multiplicative factor of the decay (default 0.1).
 */
class StepLR {
 public:
  StepLR(torch::optim::Optimizer& optimizer, int64_t step_size, double gamma = 0.1)
      : optimizer_(optimizer), step_size_(step_size), gamma_(gamma) {
    if (step_size <= 0)
      throw std::invalid_argument("normlab::schedule::StepLR: step_size " +
                                  std::to_string(step_size) + " must be > 0");
    base_lrs_ = current_lrs();
    last_lr_ = base_lrs_;
  }
  StepLR(torch::optim::Optimizer& optimizer, const StepLROptions& options)
      : StepLR(optimizer, options.step_size(), options.gamma()) {}

  /// Ends one epoch: decays the learning rates when the new epoch is a multiple of step_size.
  void step() {
    last_epoch_ += 1;
    if (last_epoch_ % step_size_ == 0) {
      for (auto& group : optimizer_.param_groups())
        group.options().set_lr(group.options().get_lr() * gamma_);
    }
    last_lr_ = current_lrs();
  }

  /// Every group's lr after the last step() (like get_last_lr()).
  const std::vector<double>& last_lr() const noexcept { return last_lr_; }
  /// The groups' lrs when the scheduler was built.
  const std::vector<double>& base_lrs() const noexcept { return base_lrs_; }
  /// Epochs completed: 0 after construction, k after k calls of step().
  int64_t last_epoch() const noexcept { return last_epoch_; }
  int64_t step_size() const noexcept { return step_size_; }
  double gamma() const noexcept { return gamma_; }

 private:
  std::vector<double> current_lrs() const {
    std::vector<double> lrs;
    for (const auto& group : optimizer_.param_groups()) lrs.push_back(group.options().get_lr());
    return lrs;
  }

  torch::optim::Optimizer& optimizer_;
  int64_t step_size_;
  double gamma_;
  int64_t last_epoch_ = 0;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
};

}  // namespace normlab::schedule
