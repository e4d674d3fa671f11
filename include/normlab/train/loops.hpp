#pragma once
// The notebook's train() and test() over a data set held on the device: nll_loss (or the model's
// loss) averaged over a batch for training; summed test loss, argmax accuracy for testing.
// The order of every operation that draws random numbers is the notebook's, so runs agree with
// Python bit for bit on the CPU (docs/parity.md).

#include <cstdint>
#include <torch/torch.h>
#include <vector>

#include "normlab/data/batches.hpp"
#include "normlab/data/dataset.hpp"
#include "normlab/interrupt.hpp"
#include "normlab/train/progress.hpp"

namespace normlab {

/// What train_epoch reports: the mean batch loss, and the first few batch losses when asked.
struct TrainStats {
  double mean_loss = 0;
  std::vector<double> losses;  ///< the first `record_losses` batch losses
};

/// One training epoch. `normalize` turns each uint8 batch into the model's input (a normalizer of a
/// Normalization policy, normalize/normalizer.hpp). @param record_losses how many batch losses to keep exactly (each costs a
/// device sync); the mean is accumulated on the device and read once.
template <class ModelPolicy, class Module, class BatchInput>
TrainStats train_epoch(Module& model, torch::optim::Optimizer& optimizer,
                       const data::LabelledImages& train, BatchInput& normalize,
                       int64_t batch_size, bool shuffle, std::size_t record_losses,
                       Progress& progress, int epoch, int epochs) {
  model->train();
  data::EpochOrder order(train.size(), shuffle);
  TrainStats stats;
  auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(train.images.device()));
  const int64_t batches = (train.size() + batch_size - 1) / batch_size;
  int64_t done = 0;
  for (auto range : data::batch_ranges(train.size(), batch_size)) {
    interrupt::check();  // Ctrl-C under an InterruptGuard stops here, between batches
    auto [images, target] = order.take(train, range);
    optimizer.zero_grad();
    auto output = model->forward(normalize(images));
    auto loss = ModelPolicy::loss(output, target);
    loss.backward();
    optimizer.step();
    auto detached = loss.detach();
    loss_sum += detached;
    if (stats.losses.size() < record_losses) stats.losses.push_back(detached.template item<double>());
    progress.batch(epoch, epochs, ++done, batches);
  }
  stats.mean_loss = batches ? loss_sum.template item<double>() / static_cast<double>(batches) : 0.0;
  return stats;
}

/// The notebook's test(): summed loss / size, and the count of argmax hits.
struct TestStats {
  double loss = 0;
  int64_t correct = 0;
  int64_t total = 0;
  double accuracy() const { return total ? static_cast<double>(correct) / total : 0.0; }
};

template <class ModelPolicy, class Module, class BatchInput>
TestStats test_epoch(Module& model, const data::LabelledImages& test, BatchInput& normalize,
                     int64_t batch_size, bool shuffle) {
  model->eval();
  torch::NoGradGuard no_grad;
  data::EpochOrder order(test.size(), shuffle);
  TestStats stats;
  stats.total = test.size();
  auto correct = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(test.images.device()));
  for (auto range : data::batch_ranges(test.size(), batch_size)) {
    auto [images, target] = order.take(test, range);
    auto output = model->forward(normalize(images));
    // The notebook adds each batch's .item() in Python doubles; so do we, for the same sum.
    stats.loss += ModelPolicy::loss(output, target, torch::Reduction::Sum).template item<double>();
    correct += output.argmax(1).eq(target).sum();
  }
  stats.correct = correct.template item<int64_t>();
  if (stats.total) stats.loss /= static_cast<double>(stats.total);
  return stats;
}

}  // namespace normlab
