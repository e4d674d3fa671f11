#pragma once
// K normalization variants of the notebook's LeNet protocol trained in ONE pass: a study's K trials
// at once, each computing what it would compute alone.
//
//   auto runs = run_variants<SeedMnist>(options, data, {NormalizationValues::uniform(0.1, 0.3), ...});
//   auto study = run_study_batched<SeedMnist>(study_options, options, data, 64, /*k=*/8);
//
// How the K networks become one:
// - conv1 and conv2 are grouped convolutions (groups = K) over a [B, K, 28, 28] input whose channel
//   k is the batch normalized with variant k's (mean, std); fc1 and fc2 are batched matrix products
//   (baddbmm) with one weight matrix per variant; log_softmax and nll_loss are taken per variant and
//   the loss is the sum of the K mean losses, so each variant receives exactly its own gradient.
// - Dropout: all K alone runs draw the same masks (same seed, same shapes, same data order), so the
//   masks are drawn once per layer, exactly as one LeNet draws them (torch::dropout on a tensor of
//   the same shape, in the same order: CPU bernoulli or CUDA's fused kernel alike), and applied to
//   every variant.
// - Initial weights: each variant is torch::manual_seed(seed) + LeNet's initialisation, then its own
//   compensation, as its alone run; the generator is left where one alone run leaves it.
// - Optimizer and scheduler: one of each per variant, made by the Pipeline's own policies, over
//   per-variant views of the stacked parameters (element-wise updates, so the same numbers as alone;
//   each variant keeps its own learning rate when its scheduler changes it).
// - The data loader's random draws (data::EpochOrder) are made once per epoch, as one run makes them.
// Differences from alone runs come only from the grouped and batched kernels summing in another
// order (float rounding), so losses agree to ~1e-6 rather than bit for bit
// (tests/train/multi_variant_test.cpp checks 1e-5 over an epoch; docs/performance.md).
//
// Costs that are paid once instead of K times: the dropout masks (a serial generator on the CPU),
// the data slicing, the loader's draws, and per-kernel overheads (the kernels are K times larger).

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <torch/torch.h>
#include <type_traits>
#include <utility>
#include <vector>

#include "normlab/compensate/compensate.hpp"
#include "normlab/data/batches.hpp"
#include "normlab/data/dataset.hpp"
#include "normlab/models/lenet.hpp"
#include "normlab/normalization_study.hpp"
#include "normlab/normalize/batch_normalizer.hpp"
#include "normlab/pipeline.hpp"
#include "normlab/study/study.hpp"

namespace normlab {
namespace models {

/**
 * K LeNets as one module. Every LeNet parameter `conv1.weight` [32, 1, 3, 3] becomes one stacked
 * parameter `conv1_weight` [K, 32, 1, 3, 3] (registered in LeNet's order); variant k's parameter is
 * its slice k (`variant_parameters(k)` are views that share the storage).
 *
 * forward(x): x is [B, K, 28, 28], channel k normalized for variant k; returns log-probabilities
 * [K, B, classes]. In training mode it draws LeNet's two dropout masks, once, and applies them to
 * every variant.
 */
class MultiLeNetImpl : public torch::nn::Module {
 public:
  /// Stacks the parameters of `nets` (at least one), which must all live on one device.
  explicit MultiLeNetImpl(const std::vector<LeNet>& nets) {
    if (nets.empty()) throw std::invalid_argument("normlab::MultiLeNet: no variants");
    variants_ = static_cast<int64_t>(nets.size());
    classes_ = nets.front()->fc2->options.out_features();
    torch::NoGradGuard no_grad;
    for (const auto& named : nets.front()->named_parameters()) {
      std::vector<torch::Tensor> slices;
      for (const auto& net : nets) slices.push_back(net->named_parameters()[named.key()].detach());
      std::string name = named.key();
      std::replace(name.begin(), name.end(), '.', '_');
      stacked_.push_back(register_parameter(name, torch::stack(slices)));
      names_.push_back(named.key());
    }
  }

  int64_t variants() const { return variants_; }

  /// The stacked parameters, in LeNet's order (conv1.weight, conv1.bias, ..., fc2.bias).
  const std::vector<torch::Tensor>& stacked() const { return stacked_; }
  /// LeNet's parameter names, in the same order.
  const std::vector<std::string>& names() const { return names_; }

  /// Variant k's parameters: views of the stacked storage, in LeNet's order, detached from the
  /// stacked parameters' autograd history (leaves an optimizer may update in place).
  std::vector<torch::Tensor> variant_parameters(int64_t k) const {
    std::vector<torch::Tensor> views;
    for (const auto& p : stacked_) views.push_back(p.detach().select(0, k).requires_grad_(true));
    return views;
  }

  /// A LeNet holding a copy of variant k's current parameters (on the same device).
  LeNet variant(int64_t k) const {
    LeNet net(classes_);
    net->to(stacked_.front().device());
    torch::NoGradGuard no_grad;
    auto params = net->named_parameters();
    for (std::size_t i = 0; i < names_.size(); ++i) params[names_[i]].copy_(stacked_[i].select(0, k));
    return net;
  }

  /// @param inputs variant k's normalized batch [B, 1, 28, 28] (contiguous, as its alone run has it)
  torch::Tensor forward(const std::vector<torch::Tensor>& inputs) {
    const int64_t k = variants_;
    const int64_t batch = inputs.at(0).size(0);
    // conv1 one variant at a time (a grouped convolution over single-channel groups takes another
    // kernel and rounds differently; conv1 is ~2% of LeNet's arithmetic), then side by side.
    std::vector<torch::Tensor> first;
    for (int64_t v = 0; v < k; ++v)
      first.push_back(torch::conv2d(inputs.at(static_cast<std::size_t>(v)), stacked_[0].select(0, v), stacked_[1].select(0, v)));
    auto h = torch::relu(k == 1 ? first.front() : torch::cat(first, 1));  // [B, K*32, 26, 26]
    h = torch::relu(grouped_conv(h, flat(2), stacked_[3].flatten()));
    h = torch::max_pool2d(h, 2);                                   // [B, K*64, 12, 12]
    h = h.view({batch, k, -1, h.size(2), h.size(3)});               // [B, K, 64, 12, 12]
    if (is_training()) h = h * dropout_mask(h.select(1, 0), 0.25).unsqueeze(1);
    h = h.flatten(2).transpose(0, 1);                              // [K, B, 9216]
    h = torch::relu(torch::baddbmm(stacked_[5].unsqueeze(1), h, stacked_[4].transpose(1, 2)));
    if (is_training()) h = h * dropout_mask(h.select(0, 0), 0.5);  // [K, B, 128]
    h = torch::baddbmm(stacked_[7].unsqueeze(1), h, stacked_[6].transpose(1, 2));
    return torch::log_softmax(h, 2);                               // [K, B, classes]
  }

 private:
  torch::Tensor flat(std::size_t i) const { return stacked_[i].flatten(0, 1); }

  // LeNet's 3x3 convolutions (stride 1, no padding), one group per variant.
  torch::Tensor grouped_conv(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) const {
    const std::array<int64_t, 2> one{1, 1}, zero{0, 0};
    return torch::conv2d(x, w, b, torch::IntArrayRef(one), torch::IntArrayRef(zero), torch::IntArrayRef(one), variants_);
  }

  // The mask one LeNet's dropout(p) draws for an input shaped like `like` (already scaled by
  // 1/(1-p)): the same call on a tensor of ones that, like LeNet's activation, requires grad, so
  // the same kernel and the same generator use on every backend.
  static torch::Tensor dropout_mask(const torch::Tensor& like, double p) {
    auto ones = torch::ones(like.sizes(), like.options().requires_grad(true));
    return torch::dropout(ones, p, /*train=*/true).detach();
  }

  int64_t variants_ = 0, classes_ = 10;
  std::vector<torch::Tensor> stacked_;
  std::vector<std::string> names_;
};
TORCH_MODULE(MultiLeNet);

}  // namespace models

/// What one variant of run_variants produced: its RunResult (as Pipeline::run returns it), and
/// why it ended early, if it did.
struct VariantRun {
  RunResult result;
  /// Non-empty when the variant's training loss became NaN or infinite: TrainingDiverged's
  /// message (Pipeline::run would have thrown it; `result` holds the epochs finished before).
  std::string diverged;
  bool stopped_early = false;  ///< on_epoch returned false
};

/// Settings of run_variants beyond RunOptions (whose on_epoch is not used: see on_epoch here).
struct VariantOptions {
  /// Called after each epoch of each variant; returning false stops that variant (pruning).
  std::function<bool(std::size_t variant, const EpochRecord&)> on_epoch;
};

namespace detail {

template <class P>
constexpr bool is_lenet_pipeline = std::is_same_v<typename P::model_t, LeNet>;

inline std::string diverged_message(int epoch, double loss, const NormalizationValues& v, double lr,
                                    std::size_t finished) {
  std::ostringstream msg;
  msg << "normlab: training diverged at epoch " << epoch << ": mean training loss is " << loss << " ("
      << v.to_string() << ", lr " << lr << "); " << finished << " finished epoch(s) are kept";
  return msg.str();
}

}  // namespace detail

/**
 * Trains and tests `variants.size()` normalization variants of PipelineType's protocol together,
 * each as PipelineType{}.run(options with normalization = variants[k]) would alone (see the top of
 * this file for how, and for the agreement to expect). PipelineType's Model must be LeNet; its
 * Compensation, Optimizer, Scheduler, Device policies are used as a run uses them.
 *
 * @param options as for Pipeline::run; `normalization` and `on_epoch` are ignored (use `variants`
 *        and `more.on_epoch`), progress is logged one line per epoch.
 * @param data    loaded once, shared by every variant.
 * @param variants one (mean, std) per variant (validated).
 */
template <class PipelineType>
std::vector<VariantRun> run_variants(const RunOptions& options, const data::TrainTest& data,
                                     const std::vector<NormalizationValues>& variants,
                                     const VariantOptions& more = {}) {
  static_assert(detail::is_lenet_pipeline<PipelineType>,
                "normlab::run_variants trains LeNet variants: the Pipeline's Model must be normlab::LeNet");
  using model_t = typename PipelineType::model_t;
  using compensation_t = typename PipelineType::compensation_t;
  using optimizer_t = typename PipelineType::optimizer_t;
  using scheduler_t = typename PipelineType::scheduler_t;
  using device_t = typename PipelineType::device_t;

  if (variants.empty()) return {};
  for (const auto& v : variants) v.validate();
  if (options.epochs <= 0 || options.train_batch <= 0 || options.test_batch <= 0)
    throw std::invalid_argument("normlab::run_variants: epochs, train_batch and test_batch must be > 0");
  const auto K = static_cast<int64_t>(variants.size());
  const auto k_count = variants.size();

  device::set_threads(options.threads);
  if (options.keep_freed_memory) device::keep_freed_memory();
  const torch::Device dev = device_t::select();
  const bool shuffle = options.shuffle.value_or(dev.is_cuda());
  const auto start = std::chrono::steady_clock::now();
  auto since = [](auto t) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count(); };

  // Each variant's initial network, exactly as its alone run makes it.
  std::vector<models::LeNet> nets;
  for (const auto& v : variants) {
    torch::manual_seed(options.seed);
    auto net = model_t::make(data.classes);
    net->to(dev);
    compensate_model<compensation_t, model_t>(net, v);
    nets.push_back(net);
  }
  models::MultiLeNet multi(nets);
  nets.clear();

  std::vector<std::vector<torch::Tensor>> params;  // per variant: views of the stacked storage
  std::vector<std::unique_ptr<torch::optim::Optimizer>> opts;
  std::vector<decltype(scheduler_t::make(std::declval<torch::optim::Optimizer&>()))> scheds;
  for (int64_t k = 0; k < K; ++k) {
    params.push_back(multi->variant_parameters(k));
    opts.push_back(optimizer_t::make(params.back()));
    scheds.push_back(scheduler_t::make(*opts.back()));
  }

  const auto train = data.train.first(options.train_limit).to(dev);
  const auto test = data.test.first(options.test_limit).to(dev);
  if (train.size() == 0 || test.size() == 0)
    throw std::invalid_argument("normlab::run_variants: empty training or test set");
  std::vector<BatchNormalizer> normalizers;  // each variant's input, as its alone run makes it
  for (const auto& v : variants) normalizers.emplace_back(v, dev);
  auto inputs = [&](const torch::Tensor& raw) {
    std::vector<torch::Tensor> x;
    for (auto& normalize : normalizers) x.push_back(normalize(raw));
    return x;
  };

  std::vector<VariantRun> runs(k_count);
  std::vector<bool> active(k_count, true);
  for (std::size_t k = 0; k < k_count; ++k) runs[k].result.normalization = variants[k];
  auto deactivate = [&](std::size_t k) {  // zeros the variant so that it costs no NaN/denormal work
    active[k] = false;
    torch::NoGradGuard no_grad;
    for (auto& p : multi->stacked()) p.select(0, static_cast<int64_t>(k)).zero_();
    runs[k].result.seconds = since(start);
  };

  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    std::vector<double> lr(k_count);
    for (std::size_t k = 0; k < k_count; ++k) lr[k] = opts[k]->param_groups().front().options().get_lr();

    // --- train: the notebook's train(), K at a time ---
    multi->train();
    data::EpochOrder order(train.size(), shuffle);
    auto loss_sum = torch::zeros({K}, torch::TensorOptions().dtype(torch::kFloat64).device(dev));
    const int64_t batches = (train.size() + options.train_batch - 1) / options.train_batch;
    for (auto range : data::batch_ranges(train.size(), options.train_batch)) {
      auto [images, target] = order.take(train, range);
      for (auto& p : multi->parameters())
        if (p.grad().defined()) p.mutable_grad().zero_();  // zero_grad(), LibTorch 1.13's way
      auto output = multi->forward(inputs(images));
      std::vector<torch::Tensor> losses;
      for (int64_t k = 0; k < K; ++k) losses.push_back(model_t::loss(output.select(0, k), target));
      auto loss = torch::stack(losses);
      loss.sum().backward();
      for (std::size_t k = 0; k < k_count; ++k) {
        if (!active[k]) continue;
        const auto& stacked = multi->stacked();
        for (std::size_t i = 0; i < stacked.size(); ++i)
          params[k][i].mutable_grad() = stacked[i].grad().select(0, static_cast<int64_t>(k));
        opts[k]->step();
      }
      auto detached = loss.detach();
      loss_sum += detached;
      if (epoch == 1 && runs.front().result.first_losses.size() < options.record_losses) {
        auto values = detached.to(torch::kCPU, torch::kFloat64);
        for (std::size_t k = 0; k < k_count; ++k) runs[k].result.first_losses.push_back(values[static_cast<int64_t>(k)].item<double>());
      }
    }
    auto mean_loss = loss_sum.cpu();

    // --- test: the notebook's test(), K at a time ---
    std::vector<EpochRecord> records(k_count);
    std::vector<bool> tested(k_count, false);
    for (std::size_t k = 0; k < k_count; ++k) {
      if (!active[k]) continue;
      auto& r = records[k];
      r.epoch = epoch;
      r.lr = lr[k];
      r.train_loss = batches ? mean_loss[static_cast<int64_t>(k)].item<double>() / static_cast<double>(batches) : 0.0;
      if (!std::isfinite(r.train_loss)) {
        runs[k].diverged = detail::diverged_message(epoch, r.train_loss, variants[k], r.lr, runs[k].result.history.size());
        deactivate(k);
      } else {
        tested[k] = true;
      }
    }
    {
      multi->eval();
      torch::NoGradGuard no_grad;
      data::EpochOrder test_order(test.size(), shuffle);
      auto correct = torch::zeros({K}, torch::TensorOptions().dtype(torch::kInt64).device(dev));
      for (auto range : data::batch_ranges(test.size(), options.test_batch)) {
        auto [images, target] = test_order.take(test, range);
        auto output = multi->forward(inputs(images));
        for (int64_t k = 0; k < K; ++k)
          if (tested[static_cast<std::size_t>(k)])
            records[static_cast<std::size_t>(k)].test_loss +=
                model_t::loss(output.select(0, k), target, torch::Reduction::Sum).template item<double>();
        correct += output.argmax(2).eq(target.unsqueeze(0)).sum(1);
      }
      auto counts = correct.cpu();
      for (std::size_t k = 0; k < k_count; ++k) {
        if (!tested[k]) continue;
        auto& r = records[k];
        r.total = test.size();
        r.correct = counts[static_cast<int64_t>(k)].item<int64_t>();
        r.test_loss /= static_cast<double>(r.total);
        r.accuracy = static_cast<double>(r.correct) / static_cast<double>(r.total);
      }
    }
    const double epoch_seconds = since(epoch_start);
    bool any = false;
    for (std::size_t k = 0; k < k_count; ++k) {
      if (!tested[k]) continue;
      auto& r = records[k];
      scheduler_t::step(scheds[k], r.accuracy, r.test_loss);
      r.seconds = epoch_seconds;
      auto& result = runs[k].result;
      result.history.push_back(r);
      result.accuracy = r.accuracy;
      result.correct = r.correct;
      result.total = r.total;
      result.seconds = since(start);
      if (options.log)
        *options.log << "variant " << k << " (" << variants[k].to_string() << ") epoch " << epoch << "/"
                     << options.epochs << "  train_loss " << r.train_loss << "  test_loss " << r.test_loss
                     << "  accuracy " << r.accuracy << " (" << r.correct << "/" << r.total << ")  lr " << r.lr
                     << "  " << epoch_seconds << " s\n";
      if (more.on_epoch && !more.on_epoch(k, r)) {
        runs[k].stopped_early = true;
        deactivate(k);
      }
      any = any || active[k];
    }
    if (!any) break;
  }
  for (std::size_t k = 0; k < k_count; ++k)
    if (active[k]) runs[k].result.seconds = since(start);
  return runs;
}

/// The loop of run_study_batched on an existing study.
template <class PipelineType, class Space = NotebookSpace>
void run_trials_batched(study::Study& s, const RunOptions& base, const data::TrainTest& data, int n_trials, int k) {
  for (int done = 0; done < n_trials;) {
    const int round = std::min(k, n_trials - done);
    std::vector<study::Trial> trials;
    std::vector<NormalizationValues> variants;
    for (int i = 0; i < round; ++i) {
      trials.push_back(s.ask());
      const auto params = Space::suggest(trials.back());
      variants.push_back(NormalizationValues::uniform(params.at("mean"), params.at("std")));
    }
    std::vector<bool> pruned(trials.size(), false);
    VariantOptions more;
    more.on_epoch = [&](std::size_t i, const EpochRecord& r) {
      trials[i].report(r.accuracy, r.epoch);
      if (trials[i].should_prune()) pruned[i] = true;
      return !pruned[i];
    };
    std::vector<VariantRun> runs;
    try {
      runs = run_variants<PipelineType>(base, data, variants, more);
    } catch (const std::exception& e) {  // the whole round failed: each trial FAILs with the reason
      for (auto& t : trials) s.tell(t, study::TrialState::Fail, e.what());
      done += round;
      continue;
    }
    for (std::size_t i = 0; i < trials.size(); ++i) {
      const auto& r = runs[i].result;
      trials[i].set_user_attr("correct", r.correct);
      trials[i].set_user_attr("total", r.total);
      trials[i].set_user_attr("seconds", r.seconds);
      trials[i].set_user_attr("batched", static_cast<int64_t>(trials.size()));
      if (!runs[i].diverged.empty())
        s.tell(trials[i], study::TrialState::Fail, runs[i].diverged);
      else if (pruned[i])
        s.tell(trials[i], study::TrialState::Pruned);
      else
        s.tell(trials[i], r.accuracy);
    }
    done += round;
  }
}


/**
 * The notebook's study, K trials at a time: asks the study for K trials (study.ask() K times),
 * suggests each trial's (mean, std) from Space, trains the K variants together (run_variants),
 * reports every epoch's accuracy to each trial (a pruned trial stops and is told PRUNED), and tells
 * the K results (a diverged trial FAILs with the reason, as in normalization_objective). Repeats
 * until `n_trials` trials are done; the last round may hold fewer than K.
 *
 * The sampler proposes K trials before it hears any of their results (as Optuna's does with
 * n_jobs = K), so a batched study explores differently from a one-at-a-time one; each trial's value
 * is what an alone run with its (mean, std) gives.
 */
template <class PipelineType, class Space = NotebookSpace>
std::unique_ptr<study::Study> run_study_batched(const study::StudyOptions& options, const RunOptions& base,
                                                std::shared_ptr<const data::TrainTest> data, int n_trials, int k,
                                                std::unique_ptr<study::Pruner> pruner = nullptr) {
  if (k <= 0) throw std::invalid_argument("normlab::run_study_batched: k must be > 0");
  auto s = std::make_unique<study::Study>(options, PipelineType::search_t::make(base.seed), std::move(pruner));
  run_trials_batched<PipelineType, Space>(*s, base, *data, n_trials, k);
  return s;
}

}  // namespace normlab
