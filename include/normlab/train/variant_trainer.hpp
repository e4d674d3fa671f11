#pragma once
// The machinery of batched_study.hpp (read its header comment): K LeNet variants stepped together
// (VariantTrainer, run_variants) and RunOptions::fast (detail::run_fast, which Pipeline::run calls).
// Their epochs are the one epoch loop's (train/epoch_loop.hpp), with a VariantStepper: one lane per
// variant.
// Templates over the Pipeline type, so it needs only the run vocabulary (train/run.hpp), not
// pipeline.hpp; no study code here, so that pipeline.hpp stays free of it.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <torch/torch.h>
#include <type_traits>
#include <utility>
#include <vector>

#include "normlab/compensate/compensate.hpp"
#include "normlab/detail/compiled.hpp"
#include "normlab/data/batches.hpp"
#include "normlab/data/dataset.hpp"
#include "normlab/interrupt.hpp"
#include "normlab/models/lenet.hpp"
#include "normlab/models/multi_lenet.hpp"
#include "normlab/normalize/batch_normalizer.hpp"
#include "normlab/optim/adadelta.hpp"
#include "normlab/optim/stacked_adadelta.hpp"
#include "normlab/normalize/normalizer.hpp"
#include "normlab/train/epoch_loop.hpp"
#include "normlab/train/loops.hpp"
#include "normlab/train/mixed_precision.hpp"
#include "normlab/train/progress.hpp"
#include "normlab/train/run.hpp"
#include "normlab/train/variant_workers.hpp"

namespace normlab {

/// How run_variants computes the K networks: see the top of batched_study.hpp.
enum class VariantKernels { PerVariant, Grouped };


/// Settings of run_variants beyond RunOptions (whose `normalization` and `on_epoch` are not used).
struct VariantOptions {
  /// Called after each epoch of each variant; returning false stops that variant (pruning).
  std::function<bool(std::size_t variant, const EpochRecord&)> on_epoch;
  /// How the K networks are computed; default: PerVariant on the CPU, Grouped on CUDA.
  std::optional<VariantKernels> kernels;
  /// PerVariant only: threads that run variants side by side, each with one intra-op thread.
  /// 0 (default): one per intra-op thread (RunOptions::threads, or LibTorch's thread count).
  /// 1: variants run one after the other with LibTorch's intra-op threads. With more than one
  /// worker each variant's numbers are those of its alone run with threads = 1, bit for bit, and
  /// on a small CPU two workers train K variants faster than one at a time (two intra-op threads
  /// split LeNet's small kernels less well than two variants split the cores; docs/performance.md).
  int workers = 0;
};

/// What VariantTrainerCore needs of a Pipeline besides its LeNet: how to compensate a new network
/// and how to make its optimizer (the scheduler stays in VariantTrainer, whose type it is).
struct VariantPolicies {
  void (*compensate)(models::LeNet&, const NormalizationValues&);
  std::unique_ptr<torch::optim::Optimizer> (*make_optimizer)(std::vector<torch::Tensor>);
};

/**
 * The K variants' training state and one step / one test pass of it, for any LeNet Pipeline
 * (VariantPolicies carries what depends on its policies); VariantTrainer adds the schedulers.
 * Not a template, so normlab::compiled compiles it once (detail/compiled.hpp).
 */
class VariantTrainerCore {
  using model_t = LeNet;

 public:
  /// Makes each variant's network and optimizer as its alone run does (seed, LeNet, to(device),
  /// compensation; optimizer).
  VariantTrainerCore(const std::vector<NormalizationValues>& values, torch::Device device, uint64_t seed,
                     int64_t classes, VariantKernels kernels, int workers, VariantPolicies policies);

  int64_t variants() const { return static_cast<int64_t>(variants_.size()); }
  models::MultiLeNet& model() { return multi_; }
  /// RunOptions::fast's mixed precision: forward passes in bfloat16 autocast (detail::MixedPrecision).
  void set_mixed_precision(bool on) { mixed_ = on; }
  torch::optim::Optimizer& optimizer(int64_t k) { return *opts_.at(static_cast<std::size_t>(k)); }
  double lr(int64_t k) { return optimizer(k).param_groups().front().options().get_lr(); }

  /// One training step of every active variant on one batch: zero_grad, forward, nll_loss,
  /// backward, optimizer step. Returns the K batch losses ([K], detached; inactive ones included).
  torch::Tensor train_step(const torch::Tensor& images, const torch::Tensor& target, const std::vector<bool>& active);

  /// The notebook's test() for every variant: per variant the summed loss (added batch by batch
  /// in double, as the notebook's .item() sum) and the count of correct answers.
  std::pair<std::vector<double>, std::vector<int64_t>> test(const data::LabelledImages& test, int64_t batch_size,
                                                            bool shuffle);

  /// Zeros variant k's parameters (a variant that stopped costs no NaN or denormal work).
  void retire(int64_t k);

 private:
  static void add(torch::Tensor& sum, const torch::Tensor& value) { sum = sum.defined() ? sum + value : value; }

  /// The K variants' inputs as the channels of one [B, K, 28, 28] batch.
  torch::Tensor grouped_input(const torch::Tensor& images);

  /// nll_loss of every variant and image, [K, B], from log-probabilities [K, B, classes].
  torch::Tensor nll_per_variant(const torch::Tensor& output, const torch::Tensor& target) const;

  /// The stacked Adadelta step: each active variant with its optimizer's learning rate (as its
  /// scheduler left it), a retired one with 0.
  void stacked_step(const std::vector<bool>& active);

  std::vector<NormalizationValues> variants_;
  torch::Device device_;
  VariantKernels kernels_;
  bool mixed_ = false;
  models::MultiLeNet multi_{nullptr};
  std::vector<std::unique_ptr<torch::optim::Optimizer>> opts_;
  std::vector<BatchNormalizer> normalizers_;  // PerVariant: each variant's input, as its alone run makes it
  // Grouped: the K (mean, std) as [1, K, 1, 1] tensors, 255 on the device, the stacked Adadelta
  // (when the Pipeline's optimizer is optim::Adadelta) with its gradient buffer and learning rates.
  torch::Tensor means_, stds_, k255_, flat_grad_, element_lrs_;
  std::vector<double> element_lrs_of_;
  std::unique_ptr<optim::StackedAdadelta> stacked_optimizer_;
  detail::VariantWorkers workers_;
};

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE VariantTrainerCore::VariantTrainerCore(const std::vector<NormalizationValues>& values, torch::Device device, uint64_t seed,
                     int64_t classes, VariantKernels kernels, int workers, VariantPolicies policies)
    : variants_(values), device_(device), kernels_(kernels),
      workers_(kernels == VariantKernels::PerVariant ? workers : 1) {
  if (variants_.empty()) throw std::invalid_argument("normlab::run_variants: no variants");
  for (const auto& v : variants_) {
    v.validate();
    if (v.channels() != 1 && !v.is_uniform())
      throw std::invalid_argument("normlab::run_variants: LeNet takes one channel; give one (mean, std) per variant");
  }
  std::vector<models::LeNet> nets;
  for (const auto& v : variants_) {
    torch::manual_seed(seed);
    auto net = model_t::make(classes);
    net->to(device_);
    policies.compensate(net, v);
    nets.push_back(net);
  }
  multi_ = models::MultiLeNet(nets);
  for (int64_t k = 0; k < variants(); ++k) {
    opts_.push_back(policies.make_optimizer(multi_->variant_parameters(k)));
    if (kernels_ == VariantKernels::PerVariant) normalizers_.emplace_back(variants_[static_cast<std::size_t>(k)], device_);
  }
  if (kernels_ == VariantKernels::Grouped) {
    // The K inputs are made together: x / 255 once, then - mean_k and / std_k as broadcasts over
    // a [B, K, 28, 28] tensor (ATen's float32 operations, as BatchNormalizer's).
    std::vector<float> means, stds;
    for (const auto& v : variants_) {
      means.push_back(static_cast<float>(v.mean.front()));
      stds.push_back(static_cast<float>(v.std.front()));
    }
    const auto on_device = torch::TensorOptions().dtype(torch::kFloat32).device(device_);
    means_ = torch::tensor(means).view({1, variants(), 1, 1}).to(on_device);
    stds_ = torch::tensor(stds).view({1, variants(), 1, 1}).to(on_device);
    k255_ = torch::full({}, 255.0f, on_device);  // a tensor divisor: CUDA divides (see BatchNormalizer)
    // Adadelta (the notebook's optimizer): one update of all K variants' parameters at once, with
    // each variant's learning rate as its scheduler sets it in its own optimizer.
    if (auto* adadelta = dynamic_cast<optim::Adadelta*>(opts_.front().get())) {
      const auto& o = static_cast<const optim::AdadeltaOptions&>(adadelta->param_groups().front().options());
      stacked_optimizer_ = std::make_unique<optim::StackedAdadelta>(multi_->flat(), o);
    }
  }
}

NORMLAB_INLINE torch::Tensor VariantTrainerCore::train_step(const torch::Tensor& images, const torch::Tensor& target, const std::vector<bool>& active) {
  multi_->train();
  auto [mask1, mask2] = multi_->draw_masks(images.size(0), torch::TensorOptions().device(device_));
  if (kernels_ == VariantKernels::Grouped) {
    multi_->clear_grads();
    torch::Tensor output;
    {
      detail::MixedPrecision mixed(mixed_, device_);
      output = multi_->forward(grouped_input(images), mask1, mask2);
    }
    auto loss = nll_per_variant(output, target).mean(1);  // [K]: each variant's mean batch loss
    loss.sum().backward();  // each variant receives exactly the gradient of its own loss
    if (stacked_optimizer_) {
      stacked_step(active);
    } else {
      multi_->point_grads_at_stacked();
      for (int64_t k = 0; k < variants(); ++k)
        if (active[static_cast<std::size_t>(k)]) opts_[static_cast<std::size_t>(k)]->step();
    }
    return loss.detach();
  }
  std::vector<torch::Tensor> losses(variants_.size());
  workers_.run(variants(), [&](int64_t k) {
    const auto i = static_cast<std::size_t>(k);
    multi_->zero_grads(k);  // in the worker: in parallel, and into its cache
    torch::Tensor output;
    {
      detail::MixedPrecision mixed(mixed_, device_);
      output = multi_->forward_variant(k, normalizers_[i](images), mask1, mask2);
    }
    auto loss = model_t::loss(output, target);
    loss.backward();
    if (active[i]) opts_[i]->step();
    losses[i] = loss.detach();
  });
  return torch::stack(losses);
}

NORMLAB_INLINE std::pair<std::vector<double>, std::vector<int64_t>> VariantTrainerCore::test(const data::LabelledImages& test, int64_t batch_size,
                                                            bool shuffle) {
  multi_->eval();
  torch::NoGradGuard no_grad;
  data::EpochOrder order(test.size(), shuffle);
  const auto K = variants();
  std::vector<double> loss(variants_.size(), 0.0);
  std::vector<torch::Tensor> correct(variants_.size());
  torch::Tensor grouped_loss, grouped_correct;  // [K] sums on the device, read once
  for (auto range : data::batch_ranges(test.size(), batch_size)) {
    auto [images, target] = order.take(test, range);
    if (kernels_ == VariantKernels::Grouped) {
      detail::MixedPrecision mixed(mixed_, device_);
      auto output = multi_->forward(grouped_input(images), {}, {});
      // Each batch's summed loss in float, added in double: as the notebook's .item() sum.
      add(grouped_loss, nll_per_variant(output, target).sum(1).to(torch::kFloat64));
      add(grouped_correct, output.argmax(2).eq(target.unsqueeze(0)).sum(1));
      continue;
    }
    workers_.run(K, [&](int64_t k) {
      torch::NoGradGuard no_grad_here;  // grad mode and autocast are per thread
      detail::MixedPrecision mixed(mixed_, device_);
      const auto i = static_cast<std::size_t>(k);
      auto output = multi_->forward_variant(k, normalizers_[i](images), {}, {});
      loss[i] += model_t::loss(output, target, torch::Reduction::Sum).template item<double>();
      add(correct[i], output.argmax(1).eq(target).sum());
    });
  }
  std::vector<int64_t> counts;
  if (grouped_loss.defined()) {
    const auto sums = grouped_loss.cpu();
    const auto hits = grouped_correct.cpu();
    for (int64_t k = 0; k < K; ++k) {
      loss[static_cast<std::size_t>(k)] = sums[k].template item<double>();
      counts.push_back(hits[k].template item<int64_t>());
    }
    return {loss, counts};
  }
  for (auto& c : correct) counts.push_back(c.defined() ? c.template item<int64_t>() : 0);
  return {loss, counts};
}

NORMLAB_INLINE void VariantTrainerCore::retire(int64_t k) {
  torch::NoGradGuard no_grad;
  for (auto& p : multi_->stacked()) p.select(0, k).zero_();
  if (stacked_optimizer_)  // and its Adadelta state (its learning rate is 0 from now on)
    for (auto* state : {&stacked_optimizer_->square_avg(), &stacked_optimizer_->acc_delta()})
      for (auto& v : multi_->stacked_views(*state)) v.select(0, k).zero_();
}

NORMLAB_INLINE torch::Tensor VariantTrainerCore::grouped_input(const torch::Tensor& images) {
  auto x = at::sub(at::div(images, k255_), means_);
  return x.div_(stds_);
}

NORMLAB_INLINE torch::Tensor VariantTrainerCore::nll_per_variant(const torch::Tensor& output, const torch::Tensor& target) const {
  const auto K = output.size(0), B = output.size(1);
  return torch::nll_loss(output.flatten(0, 1), target.repeat({K}), {}, torch::Reduction::None).view({K, B});
}

NORMLAB_INLINE void VariantTrainerCore::stacked_step(const std::vector<bool>& active) {
  std::vector<double> lrs;
  for (int64_t k = 0; k < variants(); ++k) lrs.push_back(active[static_cast<std::size_t>(k)] ? lr(k) : 0.0);
  multi_->gather_grads(flat_grad_);
  if (std::all_of(lrs.begin(), lrs.end(), [&](double v) { return v == lrs.front(); })) {
    stacked_optimizer_->step(flat_grad_, lrs.front());  // optim::Adadelta's operations exactly
    return;
  }
  if (lrs != element_lrs_of_) {  // the schedulers moved: rebuild each element's learning rate
    if (!element_lrs_.defined()) element_lrs_ = torch::empty_like(multi_->flat());
    const auto per_variant = torch::tensor(lrs, torch::kFloat64).to(element_lrs_.options());
    for (auto& v : multi_->stacked_views(element_lrs_)) {
      std::vector<int64_t> shape(static_cast<std::size_t>(v.dim()), 1);
      shape.front() = variants();
      v.copy_(per_variant.view(shape).expand_as(v));
    }
    element_lrs_of_ = lrs;
  }
  stacked_optimizer_->step(flat_grad_, element_lrs_);
}
#endif

/**
 * The epoch loop's stepper (train/epoch_loop.hpp) for the K variants of a VariantTrainerCore on data
 * held on the device: one lane per variant. An epoch trains every active variant on each batch
 * (VariantTrainerCore::train_step; the K losses summed on the device, read once) and tests them all
 * (VariantTrainerCore::test). run_variants and RunOptions::fast (run_fast_epochs) drive it. Not a
 * template, so normlab::compiled compiles its epochs once (detail/compiled.hpp).
 */
class VariantStepper {
 public:
  /// @param step_scheduler steps lane k's scheduler with its epoch's record (VariantTrainer's
  ///        schedulers are of the Pipeline's type, which this class does not know).
  VariantStepper(VariantTrainerCore& trainer, const data::LabelledImages& train, const data::LabelledImages& test,
                 int64_t train_batch, int64_t test_batch, bool shuffle,
                 std::function<void(std::size_t, const EpochRecord&)> step_scheduler)
      : trainer_(trainer), train_(train), test_(test), train_batch_(train_batch), test_batch_(test_batch),
        shuffle_(shuffle), step_scheduler_(std::move(step_scheduler)) {}

  std::size_t lanes() const { return static_cast<std::size_t>(trainer_.variants()); }
  double lr(std::size_t k) { return trainer_.lr(static_cast<int64_t>(k)); }
  /// The notebook's train(), K at a time: per lane the mean batch loss and the first
  /// `record_losses` batch losses.
  std::vector<TrainStats> train(int epoch, int epochs, std::size_t record_losses, Progress& progress,
                                const std::vector<bool>& active);
  /// The notebook's test() of every lane: summed loss / size, count of argmax hits.
  std::vector<TestStats> test(const std::vector<bool>& active);
  void step_scheduler(std::size_t k, const EpochRecord& record) { step_scheduler_(k, record); }
  void retire(std::size_t k) { trainer_.retire(static_cast<int64_t>(k)); }

 private:
  VariantTrainerCore& trainer_;
  const data::LabelledImages& train_;
  const data::LabelledImages& test_;
  int64_t train_batch_, test_batch_;
  bool shuffle_;
  std::function<void(std::size_t, const EpochRecord&)> step_scheduler_;
};

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE std::vector<TrainStats> VariantStepper::train(int epoch, int epochs, std::size_t record_losses,
                                                             Progress& progress, const std::vector<bool>& active) {
  const auto count = lanes();
  std::vector<TrainStats> stats(count);
  data::EpochOrder order(train_.size(), shuffle_);
  auto loss_sum = torch::zeros({static_cast<int64_t>(count)},
                               torch::TensorOptions().dtype(torch::kFloat64).device(train_.images.device()));
  const int64_t batches = (train_.size() + train_batch_ - 1) / train_batch_;
  int64_t done = 0;
  for (auto range : data::batch_ranges(train_.size(), train_batch_)) {
    interrupt::check();  // Ctrl-C under an InterruptGuard stops here, between batches
    auto [images, target] = order.take(train_, range);
    auto losses = trainer_.train_step(images, target, active);
    loss_sum += losses;
    if (stats.front().losses.size() < record_losses) {
      auto values = losses.to(torch::kCPU, torch::kFloat64);
      for (std::size_t k = 0; k < count; ++k)
        stats[k].losses.push_back(values[static_cast<int64_t>(k)].template item<double>());
    }
    progress.batch(epoch, epochs, ++done, batches);
  }
  const auto sums = loss_sum.cpu();
  for (std::size_t k = 0; k < count; ++k)
    stats[k].mean_loss = sums[static_cast<int64_t>(k)].template item<double>() / static_cast<double>(batches);
  return stats;
}

NORMLAB_INLINE std::vector<TestStats> VariantStepper::test(const std::vector<bool>&) {
  auto [loss, correct] = trainer_.test(test_, test_batch_, shuffle_);
  std::vector<TestStats> stats(lanes());
  for (std::size_t k = 0; k < stats.size(); ++k) {
    stats[k].total = test_.size();
    stats[k].correct = correct[k];
    stats[k].loss = loss[k] / static_cast<double>(stats[k].total);
  }
  return stats;
}
#endif

/**
 * The K variants' training state and one step / one test pass of it; run_variants drives it epoch
 * by epoch (benchmarks/train_step_benchmark.cpp times its steps). PipelineType's Model must be LeNet.
 */
template <class PipelineType>
class VariantTrainer : public VariantTrainerCore {
  static_assert(std::is_same_v<typename PipelineType::model_t, LeNet>,
                "normlab::run_variants trains LeNet variants: the Pipeline's Model must be normlab::LeNet");
  using compensation_t = typename PipelineType::compensation_t;
  using optimizer_t = typename PipelineType::optimizer_t;
  using scheduler_t = typename PipelineType::scheduler_t;
  using scheduler_type = decltype(scheduler_t::make(std::declval<torch::optim::Optimizer&>()));

  static void compensate(models::LeNet& net, const NormalizationValues& v) {
    compensate_model<compensation_t, LeNet>(net, v);
  }

 public:
  /// Makes each variant's network, optimizer and scheduler as its alone run does (seed, LeNet,
  /// to(device), compensation; optimizer; scheduler).
  VariantTrainer(const std::vector<NormalizationValues>& values, torch::Device device, uint64_t seed,
                 int64_t classes, VariantKernels kernels, int workers)
      : VariantTrainerCore(values, device, seed, classes, kernels, workers, {&compensate, &optimizer_t::make}) {
    for (int64_t k = 0; k < variants(); ++k)
      scheds_.push_back(std::make_unique<scheduler_type>(scheduler_t::make(optimizer(k))));
  }

  scheduler_type& scheduler(int64_t k) { return *scheds_.at(static_cast<std::size_t>(k)); }

 private:
  std::vector<std::unique_ptr<scheduler_type>> scheds_;
};

/**
 * Trains and tests `variants.size()` normalization variants of PipelineType's protocol together,
 * each as PipelineType{}.run(options with normalization = variants[k]) would alone (see the top of
 * this file for how, and for the agreement to expect). PipelineType's Model must be LeNet; its
 * Compensation, Optimizer, Scheduler and Device policies are used as a run uses them.
 *
 * @param options as for Pipeline::run; `normalization` and `on_epoch` are not used (see `variants`
 *        and `more.on_epoch`); with a `log`, one line per variant and epoch.
 * @param data    loaded once, shared by every variant.
 * @param variants one (mean, std) per variant (validated). With a compile-time Normalization
 *        (Pipeline::takes_runtime_normalization false) each must equal it, as Pipeline::run refuses
 *        run-time values that differ from it (std::invalid_argument naming both).
 * @param more    pruning callback, kernels, workers.
 */
template <class PipelineType>
std::vector<VariantRun> run_variants(const RunOptions& options, const data::TrainTest& data,
                                     const std::vector<NormalizationValues>& variants,
                                     const VariantOptions& more = {}) {
  using scheduler_t = typename PipelineType::scheduler_t;
  using device_t = typename PipelineType::device_t;
  static_assert(std::is_base_of_v<BatchNormalizer, typename PipelineType::normalizer_t>,
                "normlab::run_variants stacks K LeNets fed torchvision's Normalize (BatchNormalizer); a "
                "Normalization with a normalizer of its own (PerImageStandardize, LearnedAffine, yours) runs "
                "one variant at a time: Pipeline::run, or run_study without batching");
  if (variants.empty()) return {};
  for (const auto& v : variants) PipelineType::resolve_normalization(v, "a run_variants variant");
  if (options.epochs <= 0 || options.train_batch <= 0 || options.test_batch <= 0)
    throw std::invalid_argument("normlab::run_variants: epochs, train_batch and test_batch must be > 0");
  const auto count = variants.size();

  device::set_threads(options.threads);
  if (options.keep_freed_memory) device::keep_freed_memory();
  const torch::Device dev = device_t::select();
  const bool shuffle = options.shuffle.value_or(dev.is_cuda());
  const auto kernels = more.kernels.value_or(dev.is_cuda() ? VariantKernels::Grouped : VariantKernels::PerVariant);
  const int workers = more.workers > 0 ? more.workers : (options.threads > 0 ? options.threads : at::get_num_threads());
  const auto start = std::chrono::steady_clock::now();

  VariantTrainer<PipelineType> trainer(variants, dev, options.seed, data.classes, kernels, dev.is_cuda() ? 1 : workers);
  const auto train = data.train.first(options.train_limit).to(dev);
  const auto test = data.test.first(options.test_limit).to(dev);
  if (train.size() == 0 || test.size() == 0)
    throw std::invalid_argument("normlab::run_variants: empty training or test set");

  std::vector<VariantRun> runs(count);
  for (std::size_t k = 0; k < count; ++k) runs[k].result.normalization = variants[k];
  VariantStepper stepper(trainer, train, test, options.train_batch, options.test_batch, shuffle,
                         [&trainer](std::size_t k, const EpochRecord& r) {
                           step_scheduler<scheduler_t>(trainer.scheduler(static_cast<int64_t>(k)), r);
                         });
  EpochLoopOptions loop;
  loop.epochs = options.epochs;
  loop.record_losses = options.record_losses;
  loop.log = options.log;
  loop.progress_bar = false;
  loop.on_divergence = OnDivergence::Retire;  // Pipeline::run would throw TrainingDiverged
  loop.lane_lines = true;
  loop.on_epoch = more.on_epoch;
  return run_epochs(stepper, std::move(runs), loop, start);
}

namespace detail {

/// run_fast's epochs, once its VariantTrainer is made (not a template: normlab::compiled holds it):
/// the epoch loop with a VariantStepper of one lane, as Pipeline::run's (its lines, its bar, its
/// TrainingDiverged). `step_scheduler` steps the one scheduler with the epoch's record.
NORMLAB_INLINE RunResult run_fast_epochs(const RunOptions& options, const data::TrainTest& data, RunResult result,
                                         VariantTrainerCore& trainer, torch::Device dev, bool shuffle,
                                         std::chrono::steady_clock::time_point start,
                                         const std::function<void(const EpochRecord&)>& step_scheduler);
#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE RunResult run_fast_epochs(const RunOptions& options, const data::TrainTest& data, RunResult result,
                                         VariantTrainerCore& trainer, torch::Device dev, bool shuffle,
                                         std::chrono::steady_clock::time_point start,
                                         const std::function<void(const EpochRecord&)>& step_scheduler) {
  trainer.set_mixed_precision(native_bf16(dev));
  const auto train = data.train.first(options.train_limit).to(dev);
  const auto test = data.test.first(options.test_limit).to(dev);
  if (train.size() == 0 || test.size() == 0)
    throw std::invalid_argument("normlab::Pipeline: empty training or test set");
  VariantStepper stepper(trainer, train, test, options.train_batch, options.test_batch, shuffle,
                         [&step_scheduler](std::size_t, const EpochRecord& r) { step_scheduler(r); });
  std::vector<VariantRun> runs(1);
  runs.front().result = std::move(result);
  return std::move(run_epochs(stepper, std::move(runs), run_loop_options(options), start).front().result);
}
#endif

/**
 * Pipeline::run with RunOptions::fast (LeNet models): on the CPU, the same protocol through
 * VariantTrainer with one variant, so with the dropout masks drawn in bulk (the same bits) and,
 * where bfloat16 is native (detail::native_bf16), forward passes in bfloat16 autocast (this is where
 * the numbers depart from the notebook's). Same RunResult, same progress lines, same
 * TrainingDiverged. On CUDA: the exact path (neither half is faster there for LeNet).
 */
template <class PipelineType>
RunResult run_fast(const RunOptions& options, const data::TrainTest& data) {
  using scheduler_t = typename PipelineType::scheduler_t;
  using device_t = typename PipelineType::device_t;
  RunResult result;
  result.normalization = PipelineType::resolve_normalization(options.normalization);
  result.normalization.validate();
  device::set_threads(options.threads);
  if (options.keep_freed_memory) device::keep_freed_memory();
  const torch::Device dev = device_t::select();
  if (dev.is_cuda()) {
    // On a GPU neither half pays for LeNet (measured on an H100: docs/performance.md, the GPU
    // check): the exact path.
    RunOptions exact = options;
    exact.fast = false;
    return PipelineType{}.run(exact, data);
  }
  const bool shuffle = options.shuffle.value_or(dev.is_cuda());
  const auto start = std::chrono::steady_clock::now();

  VariantTrainer<PipelineType> trainer({result.normalization}, dev, options.seed, data.classes,
                                       VariantKernels::PerVariant, 1);
  return run_fast_epochs(options, data, std::move(result), trainer, dev, shuffle, start,
                         [&trainer](const EpochRecord& r) { step_scheduler<scheduler_t>(trainer.scheduler(0), r); });
}

}  // namespace detail

}  // namespace normlab
