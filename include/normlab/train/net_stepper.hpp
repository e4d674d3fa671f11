#pragma once
// The epoch loop's stepper for one net on data held on the device (Pipeline::run): an epoch is the
// notebook's train() and test() (train_epoch, test_epoch in train/loops.hpp), the scheduler is the
// Pipeline's Scheduler policy. One lane; a stopped run simply ends (retire does nothing).

#include <cstddef>
#include <cstdint>
#include <torch/torch.h>
#include <vector>

#include "normlab/data/dataset.hpp"
#include "normlab/train/epoch_loop.hpp"
#include "normlab/train/loops.hpp"
#include "normlab/train/progress.hpp"

namespace normlab {

/**
 * One net, its optimizer and scheduler state, and the training and test sets, as an EpochStepper
 * (train/epoch_loop.hpp). Holds references only: the caller owns everything and keeps it alive.
 *
 * @tparam ModelPolicy     the Model policy (its loss)
 * @tparam SchedulerPolicy the Scheduler policy (step_scheduler calls its step)
 * @tparam Module          the model's module holder
 * @tparam BatchInput      the normalizer that turns a uint8 batch into the model's input
 * @tparam SchedulerState  what SchedulerPolicy::make returned
 */
template <class ModelPolicy, class SchedulerPolicy, class Module, class BatchInput, class SchedulerState>
struct NetStepper {
  Module& net;
  torch::optim::Optimizer& optimizer;
  SchedulerState& scheduler;
  BatchInput& input;
  const data::LabelledImages& train_set;  ///< on the device, uint8
  const data::LabelledImages& test_set;
  int64_t train_batch = 64;
  int64_t test_batch = 1000;
  bool shuffle = false;

  std::size_t lanes() const { return 1; }
  double lr(std::size_t) const { return optimizer.param_groups().front().options().get_lr(); }
  std::vector<TrainStats> train(int epoch, int epochs, std::size_t record_losses, Progress& progress,
                                const std::vector<bool>&) {
    return {train_epoch<ModelPolicy>(net, optimizer, train_set, input, train_batch, shuffle, record_losses, progress,
                                     epoch, epochs)};
  }
  std::vector<TestStats> test(const std::vector<bool>&) {
    return {test_epoch<ModelPolicy>(net, test_set, input, test_batch, shuffle)};
  }
  void step_scheduler(std::size_t, const EpochRecord& record) { normlab::step_scheduler<SchedulerPolicy>(scheduler, record); }
  void retire(std::size_t) {}
};

}  // namespace normlab
