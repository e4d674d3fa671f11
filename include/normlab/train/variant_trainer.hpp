#pragma once
// The machinery of train/multi_variant.hpp (read its header comment): K LeNet variants stepped
// together (VariantTrainer, run_variants) and RunOptions::fast (detail::run_fast, which
// pipeline.hpp includes this file for). No study code here, so that pipeline.hpp stays free of it.

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <torch/torch.h>
#include <type_traits>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "normlab/compensate/compensate.hpp"
#include "normlab/data/batches.hpp"
#include "normlab/data/dataset.hpp"
#include "normlab/models/dropout_masks.hpp"
#include "normlab/models/lenet.hpp"
#include "normlab/normalize/batch_normalizer.hpp"
#include "normlab/optim/adadelta.hpp"
#include "normlab/optim/stacked_adadelta.hpp"
#include "normlab/pipeline.hpp"
#include "normlab/train/progress.hpp"

namespace normlab {
namespace detail {

/**
 * K linear layers as batched matrix products: y[k] = x[k] W[k]^T + b[k], x [K, B, in], W [K, out, in],
 * b [K, out]. Forward is baddbmm (on the CPU a loop of the addmm a Linear runs); the backward is
 * written out so that each product has the operand order and the result layout of torch::linear's
 * own backward (grad W = grad^T x, grad x = grad W, grad b = sum over the batch), hence the same
 * BLAS calls and, on the CPU, the same bits as K Linear layers.
 */
struct BatchedLinear : public torch::autograd::Function<BatchedLinear> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& b) {
    ctx->save_for_backward({x, w});
    return torch::baddbmm(b.unsqueeze(1), x, w.transpose(1, 2));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const auto& g = grads[0];
    return {g.bmm(w), g.transpose(1, 2).bmm(x), g.sum(1)};
  }
};

/// Runs f(k) for k in [0, K): with one worker in the calling thread, one variant after the other;
/// with W > 1 workers on W threads of their own, each with one intra-op thread, variant k always on
/// worker k % W. Exceptions are rethrown in the caller.
class VariantWorkers {
 public:
  explicit VariantWorkers(int workers) : count_(std::max(1, workers)) {
    if (count_ == 1) return;
    const int threads = at::get_num_threads();
    for (int w = 0; w < count_; ++w) threads_.emplace_back([this, w] { loop(w); });
    std::unique_lock<std::mutex> lock(mutex_);
    ready_cv_.wait(lock, [&] { return ready_ == count_; });
    lock.unlock();
    at::set_num_threads(threads);  // the workers' set_num_threads(1) also set the process default
  }
  ~VariantWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  VariantWorkers(const VariantWorkers&) = delete;
  VariantWorkers& operator=(const VariantWorkers&) = delete;

  int count() const { return count_; }

  void run(int64_t variants, const std::function<void(int64_t)>& f) {
    if (count_ == 1) {
      for (int64_t k = 0; k < variants; ++k) f(k);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &f;
      variants_ = variants;
      pending_ = count_;
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void loop(int w) {
    uint64_t seen = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // LibTorch initialises each thread's OpenMP team lazily, on its first parallel_for, from the
      // process-wide count (which the constructor restores): trigger that first, or every worker
      // would later run teams of that many threads, nested and oversubscribed.
      at::get_num_threads();
      at::set_num_threads(1);  // this thread's OpenMP team: one thread (oneDNN and OpenBLAS follow it)
      ++ready_;
    }
    ready_cv_.notify_all();
    for (;;) {
      const std::function<void(int64_t)>* task;
      int64_t variants;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        task = task_;
        variants = variants_;
      }
      std::exception_ptr error;
      try {
        for (int64_t k = w; k < variants; k += count_) (*task)(k);
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (error && !error_) error_ = error;
        --pending_;
      }
      done_cv_.notify_all();
    }
  }

  int count_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable cv_, done_cv_, ready_cv_;
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t variants_ = 0;
  int pending_ = 0, ready_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

/// Whether bfloat16 arithmetic is native here (AVX512-BF16 on x86 CPUs; CUDA devices): where it
/// is not, oneDNN emulates it and RunOptions::fast's mixed precision would be slower, so it is off.
inline bool native_bf16(torch::Device device) {
  if (device.is_cuda()) return true;
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
  static const bool yes = __builtin_cpu_supports("avx512bf16");
  return yes;
#else
  return false;
#endif
}

/// While alive, this thread's convolutions and matrix products run in bfloat16 (LibTorch's
/// autocast, CPU or CUDA); on exit the cache of cast weights is dropped, so that the next step
/// casts the updated weights. A no-op when `on` is false.
class MixedPrecision {
 public:
  MixedPrecision(bool on, torch::Device device) : on_(on), type_(device.type()) {
    if (!on_) return;
    enabled_ = enabled(type_);
    dtype_ = dtype(type_);
    set(type_, true, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~MixedPrecision() {
    if (!on_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set(type_, enabled_, dtype_);
  }
  MixedPrecision(const MixedPrecision&) = delete;
  MixedPrecision& operator=(const MixedPrecision&) = delete;

 private:
  // LibTorch 2.4 made autocast's switches per device type; the older per-backend functions are
  // deprecated there.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  static bool enabled(c10::DeviceType t) { return at::autocast::is_autocast_enabled(t); }
  static at::ScalarType dtype(c10::DeviceType t) { return at::autocast::get_autocast_dtype(t); }
  static void set(c10::DeviceType t, bool on, at::ScalarType d) {
    at::autocast::set_autocast_dtype(t, d);
    at::autocast::set_autocast_enabled(t, on);
  }
#else
  static bool enabled(c10::DeviceType t) {
    return t == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
  }
  static at::ScalarType dtype(c10::DeviceType t) {
    return t == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
  }
  static void set(c10::DeviceType t, bool on, at::ScalarType d) {
    if (t == c10::DeviceType::CUDA) {
      at::autocast::set_autocast_gpu_dtype(d);
      at::autocast::set_enabled(on);
    } else {
      at::autocast::set_autocast_cpu_dtype(d);
      at::autocast::set_cpu_enabled(on);
    }
  }
#endif

  bool on_;
  c10::DeviceType type_;
  bool enabled_ = false;
  at::ScalarType dtype_ = at::kFloat;
};

}  // namespace detail

/// How run_variants computes the K networks: see the top of multi_variant.hpp.
enum class VariantKernels { PerVariant, Grouped };

namespace models {

/**
 * K LeNets as one module. Every LeNet parameter `conv1.weight` [32, 1, 3, 3] becomes one stacked
 * parameter `conv1_weight` [K, 32, 1, 3, 3] (registered in LeNet's order); variant k's parameters
 * are views of slice k (variant_parameters(k)), leaves an optimizer updates in place.
 *
 * With VariantKernels::PerVariant, forward_variant(k, ...) runs variant k alone (LeNet's forward,
 * op for op) and gradients land in the views; with Grouped, forward(...) runs all K at once through
 * the stacked parameters (gradients land in the stacked parameters; point_grads_at_stacked() makes
 * the views' gradients slices of them).
 */
class MultiLeNetImpl : public torch::nn::Module {
 public:
  /// Stacks the parameters of `nets` (at least one), which must all live on one device.
  explicit MultiLeNetImpl(const std::vector<LeNet>& nets) {
    if (nets.empty()) throw std::invalid_argument("normlab::MultiLeNet: no variants");
    variants_ = static_cast<int64_t>(nets.size());
    classes_ = nets.front()->fc2->options.out_features();
    torch::NoGradGuard no_grad;
    // One flat buffer holds every stacked parameter, one after the other ([K, ...] each), so that an
    // optimizer can update all K variants' parameters with one kernel per operation.
    std::vector<torch::Tensor> stacks;
    int64_t total = 0;
    for (const auto& named : nets.front()->named_parameters()) {
      std::vector<torch::Tensor> slices;
      for (const auto& net : nets) slices.push_back(net->named_parameters()[named.key()].detach());
      stacks.push_back(torch::stack(slices));
      total += stacks.back().numel();
      shapes_.push_back(stacks.back().sizes().vec());
      names_.push_back(named.key());
    }
    flat_ = torch::empty({total}, stacks.front().options());
    auto views = stacked_views(flat_);
    for (std::size_t i = 0; i < stacks.size(); ++i) {
      views[i].copy_(stacks[i]);
      std::string name = names_[i];
      std::replace(name.begin(), name.end(), '.', '_');
      stacked_.push_back(register_parameter(name, views[i]));
    }
    // Views made with set_(): they alias slice k of the storage but keep their own version counter,
    // so one variant's in-place update does not invalidate another variant's saved tensors.
    for (int64_t k = 0; k < variants_; ++k) {
      std::vector<torch::Tensor> views;
      for (const auto& p : stacked_) {
        const auto slice = p.select(0, k);
        views.push_back(torch::empty({0}, p.options())
                            .set_(p.storage(), slice.storage_offset(), slice.sizes(), slice.strides())
                            .requires_grad_(true));
      }
      views_.push_back(std::move(views));
    }
  }

  int64_t variants() const { return variants_; }
  /// Every stacked parameter, one after the other, in one contiguous tensor.
  const torch::Tensor& flat() const { return flat_; }
  /// Tensors of the stacked parameters' shapes ([K, ...] each, in LeNet's order) over the storage of
  /// `flat`, a tensor laid out as flat(): parameters, gradients, optimizer state, learning rates.
  /// They alias `flat` through set_(), so each keeps a version counter of its own.
  std::vector<torch::Tensor> stacked_views(const torch::Tensor& flat) const {
    std::vector<torch::Tensor> views;
    int64_t offset = flat.storage_offset();
    for (const auto& shape : shapes_) {
      std::vector<int64_t> strides(shape.size(), 1);
      for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
      auto v = torch::empty({0}, flat.options()).set_(flat.storage(), offset, shape, strides);
      offset += v.numel();
      views.push_back(v);
    }
    return views;
  }
  /// The stacked parameters' gradients, concatenated in flat()'s layout into `out` (one copy).
  void gather_grads(torch::Tensor& out) const {
    std::vector<torch::Tensor> grads;
    for (const auto& p : stacked_) {
      if (!p.grad().defined()) throw std::logic_error("normlab::MultiLeNet: a stacked parameter has no gradient");
      grads.push_back(p.grad().reshape({-1}));
    }
    if (!out.defined()) out = torch::empty_like(flat_);
    at::cat_out(out, grads);
  }
  /// Drops the stacked parameters' gradients, so that the next backward writes them afresh.
  void clear_grads() {
    for (auto& p : stacked_) p.mutable_grad() = torch::Tensor();
  }
  /// The stacked parameters, in LeNet's order (conv1.weight, conv1.bias, ..., fc2.bias).
  const std::vector<torch::Tensor>& stacked() const { return stacked_; }
  /// LeNet's parameter names, in the same order.
  const std::vector<std::string>& names() const { return names_; }
  /// Variant k's parameters: views of the stacked storage, in LeNet's order.
  const std::vector<torch::Tensor>& variant_parameters(int64_t k) const { return views_.at(static_cast<std::size_t>(k)); }

  /// A LeNet holding a copy of variant k's current parameters (on the same device).
  LeNet variant(int64_t k) const {
    LeNet net(classes_);
    net->to(stacked_.front().device());
    torch::NoGradGuard no_grad;
    auto params = net->named_parameters();
    for (std::size_t i = 0; i < names_.size(); ++i) params[names_[i]].copy_(stacked_[i].select(0, k));
    return net;
  }

  /// LeNet's two dropout masks for a batch of `batch` (drawn in LeNet's order; none in eval mode).
  std::pair<torch::Tensor, torch::Tensor> draw_masks(int64_t batch, const torch::TensorOptions& options) const {
    if (!is_training()) return {};
    auto first = detail::DropoutMasks::draw({batch, 64, 12, 12}, 0.25, options);
    auto second = detail::DropoutMasks::draw({batch, 128}, 0.5, options);
    return {first, second};
  }

  /// Variant k alone: LeNet's forward with its parameters, masks applied as dropout applies them.
  /// @param x variant k's normalized batch [B, 1, 28, 28]; returns log-probabilities [B, classes].
  torch::Tensor forward_variant(int64_t k, const torch::Tensor& x, const torch::Tensor& mask1,
                                const torch::Tensor& mask2) const {
    const auto& p = views_.at(static_cast<std::size_t>(k));
    auto convolutions = [&](const torch::Tensor& in) {
      auto h = torch::relu(torch::conv2d(in, p[0], p[1]));
      if (channels_last_) h = h.contiguous(at::MemoryFormat::ChannelsLast);  // conv2, pool: NHWC kernels
      return relu_max_pool2x2(torch::conv2d(h, p[2], p[3]));  // as LeNet's forward
    };
    // Evaluation as LeNet's forward does it (sliced on the CPU, the same bits).
    const bool sliced = !is_training() && x.is_cpu() && x.size(0) > LeNetImpl::kEvalSlice;
    auto h = sliced ? LeNetImpl::convolutions_in_slices(x, convolutions) : convolutions(x);
    if (mask1.defined()) h = h * mask1;
    h = torch::flatten(h, 1);
    h = torch::relu(torch::linear(h, p[4], p[5]));
    if (mask2.defined()) h = h * mask2;
    h = torch::linear(h, p[6], p[7]);
    return torch::log_softmax(h.to(torch::kFloat32), 1);  // .to: a no-op but under mixed precision
  }

  /// All K at once (VariantKernels::Grouped). @param x the K variants' normalized batches as the
  /// channels of one [B, K, 28, 28] tensor; returns log-probabilities [K, B, classes].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask1, const torch::Tensor& mask2) {
    const int64_t k = variants_;
    const int64_t batch = x.size(0);
    const std::array<int64_t, 2> one{1, 1}, zero{0, 0};
    auto grouped = [&](const torch::Tensor& in, const torch::Tensor& w, const torch::Tensor& b) {
      return torch::conv2d(in, w.flatten(0, 1), b.flatten(), torch::IntArrayRef(one), torch::IntArrayRef(zero),
                           torch::IntArrayRef(one), k);
    };
    torch::Tensor h;  // [B, K*32, 26, 26]
    if (x.is_cuda()) {
      h = grouped(x, stacked_[0], stacked_[1]);
    } else {
      // On the CPU conv1 runs one variant at a time: oneDNN's kernel for one-channel groups sums
      // conv1's weight gradient in another order, and Adadelta's first steps (an update of about
      // sqrt(eps / (1 - rho)) whatever the gradient's size) turn that rounding into 1e-4 within
      // ten batches; variant by variant, each gets its alone run's bits.
      std::vector<torch::Tensor> first;
      for (int64_t v = 0; v < k; ++v)
        first.push_back(torch::conv2d(x.narrow(1, v, 1), stacked_[0].select(0, v), stacked_[1].select(0, v)));
      h = k == 1 ? first.front() : torch::cat(first, 1);
    }
    h = torch::relu(h);
    h = torch::relu(grouped(h, stacked_[2], stacked_[3]));
    h = torch::max_pool2d(h, 2);                                  // [B, K*64, 12, 12]
    h = h.view({batch, k, -1, h.size(2), h.size(3)});              // [B, K, 64, 12, 12]
    if (mask1.defined()) h = h * mask1.unsqueeze(1);
    h = h.flatten(2).transpose(0, 1);                             // [K, B, 9216]
    h = torch::relu(detail::BatchedLinear::apply(h, stacked_[4], stacked_[5]));
    if (mask2.defined()) h = h * mask2;                           // [K, B, 128]
    h = detail::BatchedLinear::apply(h, stacked_[6], stacked_[7]);
    return torch::log_softmax(h.to(torch::kFloat32), 2);                              // [K, B, classes]
  }

  /// Fast mode (not bit-identical to LeNet): conv2, its relu and the pooling run on channels-last
  /// (NHWC) activations, which oneDNN convolves without reordering and max_pool2d vectorizes.
  void set_channels_last(bool on) { channels_last_ = on; }
  bool channels_last() const { return channels_last_; }

  /// After a Grouped backward: each view's gradient becomes the slice of its stacked gradient.
  void point_grads_at_stacked() {
    for (int64_t k = 0; k < variants_; ++k)
      for (std::size_t i = 0; i < stacked_.size(); ++i)
        if (stacked_[i].grad().defined())
          views_[static_cast<std::size_t>(k)][i].mutable_grad() = stacked_[i].grad().select(0, k);
  }

  /// zero_grad() of LibTorch 1.13 (in place) for variant k's parameters.
  void zero_grads(int64_t k) {
    for (auto& p : views_.at(static_cast<std::size_t>(k)))
      if (p.grad().defined()) p.mutable_grad().zero_();
  }

  /// zero_grad() of LibTorch 1.13 (in place; 2.x sets to none, with the same numbers) for the
  /// stacked parameters and the views.
  void zero_all_grads() {
    for (auto& p : stacked_)
      if (p.grad().defined()) p.mutable_grad().zero_();
    for (auto& views : views_)
      for (auto& p : views)
        if (p.grad().defined()) p.mutable_grad().zero_();
  }

 private:
  int64_t variants_ = 0, classes_ = 10;
  bool channels_last_ = false;
  torch::Tensor flat_;
  std::vector<torch::Tensor> stacked_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<std::string> names_;
  std::vector<std::vector<torch::Tensor>> views_;
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

/// Settings of run_variants beyond RunOptions (whose `normalization` and `on_epoch` are not used).
struct VariantOptions {
  /// Called after each epoch of each variant; returning false stops that variant (pruning).
  std::function<bool(std::size_t variant, const EpochRecord&)> on_epoch;
  /// How the K networks are computed; default: PerVariant on the CPU, Grouped on CUDA.
  std::optional<VariantKernels> kernels;
  /// PerVariant only: threads that run variants side by side, each with one intra-op thread.
  /// 0 (default): one per intra-op thread (RunOptions::threads, or LibTorch's thread count).
  /// 1: variants run one after the other with LibTorch's intra-op threads. With more than one
  /// worker each variant's numbers are those of its alone run with threads = 1, bit for bit; on
  /// this project's 2-core CPU two workers train K = 8 variants 1.3x faster than one at a time
  /// (two intra-op threads split LeNet's small kernels less well than two variants split the cores).
  int workers = 0;
};

namespace detail {

inline std::string diverged_message(int epoch, double loss, const NormalizationValues& v, double lr,
                                    std::size_t finished) {
  std::ostringstream msg;
  msg << "normlab: training diverged at epoch " << epoch << ": mean training loss is " << loss << " ("
      << v.to_string() << ", lr " << lr << "); " << finished << " finished epoch(s) are kept";
  return msg.str();
}

}  // namespace detail

/**
 * The K variants' training state and one step / one test pass of it; run_variants drives it epoch
 * by epoch (benchmarks/train_step_benchmark.cpp times its steps). PipelineType's Model must be LeNet.
 */
template <class PipelineType>
class VariantTrainer {
  static_assert(std::is_same_v<typename PipelineType::model_t, LeNet>,
                "normlab::run_variants trains LeNet variants: the Pipeline's Model must be normlab::LeNet");
  using model_t = typename PipelineType::model_t;
  using compensation_t = typename PipelineType::compensation_t;
  using optimizer_t = typename PipelineType::optimizer_t;
  using scheduler_t = typename PipelineType::scheduler_t;
  using scheduler_type = decltype(scheduler_t::make(std::declval<torch::optim::Optimizer&>()));

 public:
  /// Makes each variant's network, optimizer and scheduler as its alone run does (seed, LeNet,
  /// to(device), compensation; optimizer; scheduler).
  VariantTrainer(const std::vector<NormalizationValues>& values, torch::Device device, uint64_t seed,
                 int64_t classes, VariantKernels kernels, int workers)
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
      compensate_model<compensation_t, model_t>(net, v);
      nets.push_back(net);
    }
    multi_ = models::MultiLeNet(nets);
    for (int64_t k = 0; k < variants(); ++k) {
      opts_.push_back(optimizer_t::make(multi_->variant_parameters(k)));
      scheds_.push_back(std::make_unique<scheduler_type>(scheduler_t::make(*opts_.back())));
      normalizers_.emplace_back(variants_[static_cast<std::size_t>(k)], device_);
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

  int64_t variants() const { return static_cast<int64_t>(variants_.size()); }
  models::MultiLeNet& model() { return multi_; }
  /// RunOptions::fast's mixed precision: forward passes in bfloat16 autocast (detail::MixedPrecision).
  void set_mixed_precision(bool on) { mixed_ = on; }
  torch::optim::Optimizer& optimizer(int64_t k) { return *opts_.at(static_cast<std::size_t>(k)); }
  scheduler_type& scheduler(int64_t k) { return *scheds_.at(static_cast<std::size_t>(k)); }
  double lr(int64_t k) { return optimizer(k).param_groups().front().options().get_lr(); }

  /// One training step of every active variant on one batch: zero_grad, forward, nll_loss,
  /// backward, optimizer step. Returns the K batch losses ([K], detached; inactive ones included).
  torch::Tensor train_step(const torch::Tensor& images, const torch::Tensor& target, const std::vector<bool>& active) {
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

  /// The notebook's test() for every variant: per variant the summed loss (added batch by batch
  /// in double, as the notebook's .item() sum) and the count of correct answers.
  std::pair<std::vector<double>, std::vector<int64_t>> test(const data::LabelledImages& test, int64_t batch_size,
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

  /// Zeros variant k's parameters (a variant that stopped costs no NaN or denormal work).
  void retire(int64_t k) {
    torch::NoGradGuard no_grad;
    for (auto& p : multi_->stacked()) p.select(0, k).zero_();
    if (stacked_optimizer_)  // and its Adadelta state (its learning rate is 0 from now on)
      for (auto* state : {&stacked_optimizer_->square_avg(), &stacked_optimizer_->acc_delta()})
        for (auto& v : multi_->stacked_views(*state)) v.select(0, k).zero_();
  }

 private:
  static void add(torch::Tensor& sum, const torch::Tensor& value) { sum = sum.defined() ? sum + value : value; }

  /// The K variants' inputs as the channels of one [B, K, 28, 28] batch.
  torch::Tensor grouped_input(const torch::Tensor& images) {
    auto x = at::sub(at::div(images, k255_), means_);
    return x.div_(stds_);
  }

  /// nll_loss of every variant and image, [K, B], from log-probabilities [K, B, classes].
  torch::Tensor nll_per_variant(const torch::Tensor& output, const torch::Tensor& target) const {
    const auto K = output.size(0), B = output.size(1);
    return torch::nll_loss(output.flatten(0, 1), target.repeat({K}), {}, torch::Reduction::None).view({K, B});
  }

  /// The stacked Adadelta step: each active variant with its optimizer's learning rate (as its
  /// scheduler left it), a retired one with 0.
  void stacked_step(const std::vector<bool>& active) {
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

  std::vector<NormalizationValues> variants_;
  torch::Device device_;
  VariantKernels kernels_;
  bool mixed_ = false;
  models::MultiLeNet multi_{nullptr};
  std::vector<std::unique_ptr<torch::optim::Optimizer>> opts_;
  std::vector<std::unique_ptr<scheduler_type>> scheds_;
  std::vector<BatchNormalizer> normalizers_;  // each variant's input, as its alone run makes it
  // Grouped: the K (mean, std) as [1, K, 1, 1] tensors, 255 on the device, the stacked Adadelta
  // (when the Pipeline's optimizer is optim::Adadelta) with its gradient buffer and learning rates.
  torch::Tensor means_, stds_, k255_, flat_grad_, element_lrs_;
  std::vector<double> element_lrs_of_;
  std::unique_ptr<optim::StackedAdadelta> stacked_optimizer_;
  detail::VariantWorkers workers_;
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
 * @param variants one (mean, std) per variant (validated).
 * @param more    pruning callback, kernels, workers.
 */
template <class PipelineType>
std::vector<VariantRun> run_variants(const RunOptions& options, const data::TrainTest& data,
                                     const std::vector<NormalizationValues>& variants,
                                     const VariantOptions& more = {}) {
  using scheduler_t = typename PipelineType::scheduler_t;
  using device_t = typename PipelineType::device_t;
  if (variants.empty()) return {};
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
  auto since = [](auto t) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count(); };

  VariantTrainer<PipelineType> trainer(variants, dev, options.seed, data.classes, kernels, dev.is_cuda() ? 1 : workers);
  const auto train = data.train.first(options.train_limit).to(dev);
  const auto test = data.test.first(options.test_limit).to(dev);
  if (train.size() == 0 || test.size() == 0)
    throw std::invalid_argument("normlab::run_variants: empty training or test set");

  std::vector<VariantRun> runs(count);
  std::vector<bool> active(count, true);
  for (std::size_t k = 0; k < count; ++k) runs[k].result.normalization = variants[k];
  auto retire = [&](std::size_t k) {
    active[k] = false;
    trainer.retire(static_cast<int64_t>(k));
    runs[k].result.seconds = since(start);
  };

  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    std::vector<EpochRecord> records(count);
    for (std::size_t k = 0; k < count; ++k) {
      records[k].epoch = epoch;
      records[k].lr = trainer.lr(static_cast<int64_t>(k));
    }
    // The notebook's train(), K at a time; losses summed on the device, read once.
    data::EpochOrder order(train.size(), shuffle);
    auto loss_sum = torch::zeros({static_cast<int64_t>(count)}, torch::TensorOptions().dtype(torch::kFloat64).device(dev));
    const int64_t batches = (train.size() + options.train_batch - 1) / options.train_batch;
    for (auto range : data::batch_ranges(train.size(), options.train_batch)) {
      auto [images, target] = order.take(train, range);
      auto losses = trainer.train_step(images, target, active);
      loss_sum += losses;
      if (epoch == 1 && runs.front().result.first_losses.size() < options.record_losses) {
        auto values = losses.to(torch::kCPU, torch::kFloat64);
        for (std::size_t k = 0; k < count; ++k)
          runs[k].result.first_losses.push_back(values[static_cast<int64_t>(k)].template item<double>());
      }
    }
    const auto sums = loss_sum.cpu();
    for (std::size_t k = 0; k < count; ++k) {
      if (!active[k]) continue;
      auto& r = records[k];
      r.train_loss = sums[static_cast<int64_t>(k)].template item<double>() / static_cast<double>(batches);
      if (!std::isfinite(r.train_loss)) {  // Pipeline::run throws TrainingDiverged here
        runs[k].diverged = detail::diverged_message(epoch, r.train_loss, variants[k], r.lr, runs[k].result.history.size());
        retire(k);
      }
    }
    auto [test_loss, correct] = trainer.test(test, options.test_batch, shuffle);
    const double epoch_seconds = since(epoch_start);
    bool any = false;
    for (std::size_t k = 0; k < count; ++k) {
      if (!active[k]) continue;
      auto& r = records[k];
      r.total = test.size();
      r.correct = correct[k];
      r.test_loss = test_loss[k] / static_cast<double>(r.total);
      r.accuracy = static_cast<double>(r.correct) / static_cast<double>(r.total);
      r.seconds = epoch_seconds;
      scheduler_t::step(trainer.scheduler(static_cast<int64_t>(k)), r.accuracy, r.test_loss);
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
        retire(k);
      }
      any = any || active[k];
    }
    if (!any) break;
  }
  for (std::size_t k = 0; k < count; ++k)
    if (active[k]) runs[k].result.seconds = since(start);
  return runs;
}

namespace detail {

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
  using normalization_t = typename PipelineType::normalization_t;
  RunResult result;
  result.normalization = options.normalization ? *options.normalization : normalization_t::values();
  result.normalization.validate();
  device::set_threads(options.threads);
  if (options.keep_freed_memory) device::keep_freed_memory();
  const torch::Device dev = device_t::select();
  if (dev.is_cuda()) {
    // On a GPU neither half pays for LeNet (an H100 step: 2.16 ms exact, 2.36 ms with the
    // dropout-of-ones masks, 2.77 ms with bf16 casts; docs/performance.md): the exact path.
    RunOptions exact = options;
    exact.fast = false;
    return PipelineType{}.run(exact, data);
  }
  const bool shuffle = options.shuffle.value_or(dev.is_cuda());
  const auto start = std::chrono::steady_clock::now();
  auto since = [](auto t) { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count(); };

  VariantTrainer<PipelineType> trainer({result.normalization}, dev, options.seed, data.classes,
                                       VariantKernels::PerVariant, 1);
  trainer.set_mixed_precision(native_bf16(dev));
  const auto train = data.train.first(options.train_limit).to(dev);
  const auto test = data.test.first(options.test_limit).to(dev);
  if (train.size() == 0 || test.size() == 0)
    throw std::invalid_argument("normlab::Pipeline: empty training or test set");
  Progress progress(options.log, options.progress_bar);
  const std::vector<bool> active{true};
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    EpochRecord record;
    record.epoch = epoch;
    record.lr = trainer.lr(0);
    data::EpochOrder order(train.size(), shuffle);
    auto loss_sum = torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat64).device(dev));
    const int64_t batches = (train.size() + options.train_batch - 1) / options.train_batch;
    int64_t done = 0;
    for (auto range : data::batch_ranges(train.size(), options.train_batch)) {
      auto [images, target] = order.take(train, range);
      auto loss = trainer.train_step(images, target, active);
      loss_sum += loss;
      if (epoch == 1 && result.first_losses.size() < options.record_losses)
        result.first_losses.push_back(loss[0].template item<double>());
      progress.batch(epoch, options.epochs, ++done, batches);
    }
    record.train_loss = loss_sum[0].template item<double>() / static_cast<double>(batches);
    if (!std::isfinite(record.train_loss)) {
      result.seconds = since(start);
      const auto message = diverged_message(epoch, record.train_loss, result.normalization, record.lr,
                                            result.history.size());
      throw TrainingDiverged(message, std::move(result));
    }
    auto [test_loss, correct] = trainer.test(test, options.test_batch, shuffle);
    record.total = test.size();
    record.correct = correct[0];
    record.test_loss = test_loss[0] / static_cast<double>(record.total);
    record.accuracy = static_cast<double>(record.correct) / static_cast<double>(record.total);
    scheduler_t::step(trainer.scheduler(0), record.accuracy, record.test_loss);
    record.seconds = since(epoch_start);
    progress.epoch_done(record, options.epochs);
    result.history.push_back(record);
    result.accuracy = record.accuracy;
    result.correct = record.correct;
    result.total = record.total;
    if (options.on_epoch && !options.on_epoch(record)) break;
  }
  result.seconds = since(start);
  return result;
}

}  // namespace detail

}  // namespace normlab
