#pragma once
// ReduceLROnPlateau for LibTorch, which (up to 2.x) has none. Same decisions and the same doubles as
// PyTorch 1.13's torch.optim.lr_scheduler.ReduceLROnPlateau; see docs/optim.md.

#include "normlab/detail/compiled.hpp"
#include "normlab/detail/format.hpp"
#include <torch/torch.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace normlab::schedule {


/// Whether the monitored metric should go down (a loss) or up (an accuracy).
enum class PlateauMode { min, max };

/// How an improvement is measured: relative to the best value, or as an absolute difference.
enum class ThresholdMode { rel, abs };

/**
 * Settings of ReduceLROnPlateau, with chaining setters; names and defaults are PyTorch's.
 *
 * @param mode PlateauMode::min reduces when the metric stops decreasing, max when it stops
 *        increasing (default min).
 * @param factor new_lr = lr * factor; must be < 1 (default 0.1).
 * @param patience number of epochs without improvement that are tolerated; the lr drops on the
 *        next one (default 10).
 * @param threshold size of a significant improvement (default 1e-4).
 * @param threshold_mode rel: better than best * (1 -/+ threshold); abs: better than
 *        best -/+ threshold (default rel).
 * @param cooldown epochs to wait after a reduction before counting bad epochs again (default 0).
 * @param min_lr lower bound of the lr: one value for every group, or one per group (default 0).
 * @param eps a reduction smaller than eps is skipped (default 1e-8).
 */
struct ReduceLROnPlateauOptions {
  TORCH_ARG(PlateauMode, mode) = PlateauMode::min;
  TORCH_ARG(double, factor) = 0.1;
  TORCH_ARG(int64_t, patience) = 10;
  TORCH_ARG(double, threshold) = 1e-4;
  TORCH_ARG(ThresholdMode, threshold_mode) = ThresholdMode::rel;
  TORCH_ARG(int64_t, cooldown) = 0;
  TORCH_ARG(double, eps) = 1e-8;

 public:
  /// One lower bound for every parameter group.
  ReduceLROnPlateauOptions& min_lr(double value) {
    min_lr_ = value;
    return *this;
  }
  /// One lower bound per parameter group (the count must match the optimizer's groups).
  ReduceLROnPlateauOptions& min_lr(std::vector<double> per_group) {
    min_lr_ = std::move(per_group);
    return *this;
  }
  const std::variant<double, std::vector<double>>& min_lr() const noexcept { return min_lr_; }

  bool operator==(const ReduceLROnPlateauOptions&) const = default;

 private:
  std::variant<double, std::vector<double>> min_lr_ = 0.0;
};

/**
 * Reduces the learning rate of every parameter group by `factor` once a metric has not improved
 * for more than `patience` epochs: the classic "divide the lr by 10 when validation stalls".
 *
 * A line-for-line port of PyTorch 1.13's ReduceLROnPlateau (all in double arithmetic, so the lrs
 * are bit-identical: after two reductions from 1.0, 0.010000000000000002). The first metric always
 * improves on the initial best (+inf for min, -inf for max); NaN never improves; a reduction
 * happens when the count of bad epochs is strictly greater than `patience`, bad epochs during a
 * cooldown are not counted, and a group's lr changes only when it would drop by more than `eps`
 * (the counters are reset either way). It works with any torch::optim::Optimizer whose options
 * implement get_lr()/set_lr() (SGD, Adam, normlab::optim::Adadelta, ...), and must not outlive it.
 *
 * @param optimizer the optimizer whose groups' learning rates are reduced.
 * @param options see ReduceLROnPlateauOptions (default: PyTorch's defaults).
 */
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(torch::optim::Optimizer& optimizer,
                             ReduceLROnPlateauOptions options = {});

  /// Records one epoch's metric and reduces the learning rates when it has plateaued.
  void step(double metric);

  /// The same, for a metric held in a one-element tensor (read as a double, like float(t)).
  void step(const torch::Tensor& metric) { step(metric.item<double>()); }

  /// Whether `a` is a significant improvement on `best` under the configured mode and threshold.
  bool is_better(double a, double best) const {
    const double threshold = options_.threshold();
    if (options_.mode() == PlateauMode::min) {
      if (options_.threshold_mode() == ThresholdMode::rel) {
        const double rel_epsilon = 1.0 - threshold;
        return a < best * rel_epsilon;
      }
      return a < best - threshold;
    }
    if (options_.threshold_mode() == ThresholdMode::rel) {
      const double rel_epsilon = threshold + 1.0;
      return a > best * rel_epsilon;
    }
    return a > best + threshold;
  }

  /// Every group's lr after the last step() (before any step: the optimizer's lrs at construction).
  const std::vector<double>& last_lr() const noexcept { return last_lr_; }
  double best() const noexcept { return best_; }
  int64_t num_bad_epochs() const noexcept { return num_bad_epochs_; }
  int64_t cooldown_counter() const noexcept { return cooldown_counter_; }
  bool in_cooldown() const noexcept { return cooldown_counter_ > 0; }
  int64_t last_epoch() const noexcept { return last_epoch_; }
  const std::vector<double>& min_lrs() const noexcept { return min_lrs_; }
  const ReduceLROnPlateauOptions& options() const noexcept { return options_; }

 private:
  void reduce_lr() {
    auto& groups = optimizer_.param_groups();
    for (std::size_t i = 0; i < groups.size(); ++i) {
      const double old_lr = groups[i].options().get_lr();
      double new_lr = old_lr * options_.factor();
      if (min_lrs_[i] > new_lr) new_lr = min_lrs_[i];  // Python's max(new, min_lr), NaN included
      if (old_lr - new_lr > options_.eps()) groups[i].options().set_lr(new_lr);
    }
  }

  std::vector<double> current_lrs() const {
    std::vector<double> lrs;
    for (const auto& group : optimizer_.param_groups()) lrs.push_back(group.options().get_lr());
    return lrs;
  }

  torch::optim::Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  std::vector<double> min_lrs_;
  double mode_worse_ = 0;
  double best_ = 0;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
};

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE ReduceLROnPlateau::ReduceLROnPlateau(torch::optim::Optimizer& optimizer,
                             ReduceLROnPlateauOptions options)
    : optimizer_(optimizer), options_(std::move(options)) {
  if (options_.factor() >= 1.0)  // same test as Python, so NaN passes as it does there
    throw std::invalid_argument("normlab::schedule::ReduceLROnPlateau: factor " +
                                detail::shortest_double(options_.factor()) + " must be < 1.0");
  const std::size_t groups = optimizer_.param_groups().size();
  if (const auto* per_group = std::get_if<std::vector<double>>(&options_.min_lr())) {
    if (per_group->size() != groups)
      throw std::invalid_argument("normlab::schedule::ReduceLROnPlateau: expected " +
                                  std::to_string(groups) + " min_lrs, got " +
                                  std::to_string(per_group->size()));
    min_lrs_ = *per_group;
  } else {
    min_lrs_.assign(groups, std::get<double>(options_.min_lr()));
  }
  mode_worse_ = options_.mode() == PlateauMode::min ? std::numeric_limits<double>::infinity()
                                                    : -std::numeric_limits<double>::infinity();
  best_ = mode_worse_;
  last_lr_ = current_lrs();
}

NORMLAB_INLINE void ReduceLROnPlateau::step(double metric) {
  const double current = metric;
  last_epoch_ += 1;
  if (is_better(current, best_)) {
    best_ = current;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (in_cooldown()) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // bad epochs in cooldown are ignored
  }
  if (num_bad_epochs_ > options_.patience()) {
    reduce_lr();
    cooldown_counter_ = options_.cooldown();
    num_bad_epochs_ = 0;
  }
  last_lr_ = current_lrs();
}
#endif

}  // namespace normlab::schedule
