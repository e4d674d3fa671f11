#pragma once
// Scheduler policies for the Pipeline: make(optimizer) builds the schedule, step(schedule,
// accuracy, test_loss) advances it once per epoch with the metric it watches (or step(schedule,
// accuracy, test_loss, train_loss), for a policy that watches the training loss).

#include <torch/torch.h>

#include "normlab/policy.hpp"
#include "normlab/schedule/reduce_on_plateau.hpp"
#include "normlab/schedule/step_lr.hpp"

namespace normlab {

/// ReduceLROnPlateau. Mode Max watches test accuracy (the notebook's `ReduceLROnPlateau(opt,
/// 'max')` stepped with accuracy); Mode Min watches the test loss. Other constants: PyTorch's
/// defaults.
template <schedule::PlateauMode Mode = schedule::PlateauMode::max, double Factor = 0.1,
          int Patience = 10, double Threshold = 1e-4,
          schedule::ThresholdMode Threshold_mode = schedule::ThresholdMode::rel, int Cooldown = 0,
          double MinLr = 0.0, double Eps = 1e-8>
struct ReduceOnPlateau {
  // torch.optim.lr_scheduler.ReduceLROnPlateau's own checks, and the counts it needs, at compile
  // time. Patience 0 is PyTorch's too: reduce after every epoch without improvement.
  static_assert(Factor < 1, "normlab::ReduceOnPlateau requires Factor < 1");
  static_assert(Factor >= 0, "normlab::ReduceOnPlateau requires Factor >= 0");
  static_assert(Patience >= 0, "normlab::ReduceOnPlateau requires Patience >= 0");
  static_assert(Cooldown >= 0, "normlab::ReduceOnPlateau requires Cooldown >= 0");
  static_assert(Threshold >= 0, "normlab::ReduceOnPlateau requires Threshold >= 0");
  static_assert(MinLr >= 0, "normlab::ReduceOnPlateau requires MinLr >= 0");
  static_assert(Eps >= 0, "normlab::ReduceOnPlateau requires Eps >= 0");
  using normlab_policy = policy::Scheduler;
  static constexpr const char* name = "reduce-on-plateau";
  using options_type = schedule::ReduceLROnPlateauOptions;
  /// The compile-time constants as options, to change at run time (Pipeline::scheduler_options).
  static options_type options() {
    return schedule::ReduceLROnPlateauOptions()
        .mode(Mode)
        .factor(Factor)
        .patience(Patience)
        .threshold(Threshold)
        .threshold_mode(Threshold_mode)
        .cooldown(Cooldown)
        .min_lr(MinLr)
        .eps(Eps);
  }
  static schedule::ReduceLROnPlateau make(torch::optim::Optimizer& optimizer) { return make_with(optimizer, options()); }
  static schedule::ReduceLROnPlateau make_with(torch::optim::Optimizer& optimizer, const options_type& o) {
    return schedule::ReduceLROnPlateau(optimizer, o);
  }
  /// The metric the schedule's mode watches: test accuracy for max, test loss for min.
  static void step(schedule::ReduceLROnPlateau& s, double accuracy, double test_loss) {
    s.step(s.options().mode() == schedule::PlateauMode::max ? accuracy : test_loss);
  }
};

/// ReduceLROnPlateau('min') stepped with the epoch's mean *training* loss: the notebook's ResNet
/// protocol (`ReduceLROnPlateau(optimizer, 'min')`, stepped with train()'s loss). The constants are
/// ReduceOnPlateau's (PyTorch's defaults). Its step takes the training loss, which the epoch loop
/// gives a Scheduler policy whose step has four arguments (train/epoch_loop.hpp, step_scheduler).
template <double Factor = 0.1, int Patience = 10, double Threshold = 1e-4,
          schedule::ThresholdMode Threshold_mode = schedule::ThresholdMode::rel, int Cooldown = 0,
          double MinLr = 0.0, double Eps = 1e-8>
struct ReduceOnTrainLoss {
  using plateau = ReduceOnPlateau<schedule::PlateauMode::min, Factor, Patience, Threshold, Threshold_mode, Cooldown,
                                  MinLr, Eps>;
  using normlab_policy = policy::Scheduler;
  static constexpr const char* name = "reduce-on-train-loss";
  static schedule::ReduceLROnPlateau make(torch::optim::Optimizer& optimizer) { return plateau::make(optimizer); }
  static void step(schedule::ReduceLROnPlateau& s, double, double, double train_loss) { s.step(train_loss); }
};

/// StepLR(step_size, gamma), stepped once per epoch (the notebook's commented-out alternative,
/// StepLR(optimizer, step_size=1, gamma=0.7), is StepLr<1, 0.7>).
template <int StepSize = 1, double Gamma = 0.7>
struct StepLr {
  static_assert(StepSize >= 1, "normlab::StepLr requires StepSize >= 1 (epochs between decays)");
  static_assert(Gamma > 0, "normlab::StepLr requires Gamma > 0");
  using normlab_policy = policy::Scheduler;
  static constexpr const char* name = "step-lr";
  using options_type = schedule::StepLROptions;
  static options_type options() { return schedule::StepLROptions(StepSize).gamma(Gamma); }
  static schedule::StepLR make(torch::optim::Optimizer& optimizer) { return make_with(optimizer, options()); }
  static schedule::StepLR make_with(torch::optim::Optimizer& optimizer, const options_type& o) {
    if (!(o.gamma() > 0))
      throw std::invalid_argument("normlab::StepLr: gamma must be > 0 (got " + std::to_string(o.gamma()) + ")");
    return schedule::StepLR(optimizer, o);
  }
  static void step(schedule::StepLR& s, double, double) { s.step(); }
};

/// A constant learning rate.
struct ConstantLr {
  using normlab_policy = policy::Scheduler;
  static constexpr const char* name = "constant";
  struct Nothing {};
  static Nothing make(torch::optim::Optimizer&) { return {}; }
  static void step(Nothing&, double, double) {}
};

}  // namespace normlab
