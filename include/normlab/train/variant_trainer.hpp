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
#include "normlab/models/lenet.hpp"
#include "normlab/normalize/batch_normalizer.hpp"
#include "normlab/pipeline.hpp"
#include "normlab/train/progress.hpp"

namespace normlab {
namespace detail {

/**
 * The scaled mask torch::dropout(x, p, true) multiplies x by, drawn for a tensor of `sizes`:
 * {0, 1/(1-p)} per element. On the CPU with the default generator it is drawn in bulk: LibTorch
 * (without MKL) draws one bernoulli_distribution<double>(1-p) per element, each from random64() =
 * two mt19937 outputs, through a serial per-element kernel; here the generator's mt19937 state is
 * advanced a block of 624 words at a time and the comparisons run over arrays, giving the same
 * mask and leaving the generator in the same state. Whether that holds for this LibTorch is
 * checked once per process (and per p) against torch::dropout on a copy of the generator state;
 * where it does not (another build, another version), torch::dropout on a tensor of ones is used.
 */
class DropoutMasks {
 public:
  static torch::Tensor draw(at::IntArrayRef sizes, double p, const torch::TensorOptions& options) {
    if (options.device().is_cpu() && bulk_available(p)) return bulk(sizes, p);
    return reference(sizes, p, options);
  }

  /// Whether draw() takes the bulk path for this p on the CPU (checked once per process and p).
  static bool bulk_available(double p) { return p > 0 && p < 1 && bulk_matches(p); }

  /// torch::dropout's own mask: dropout of a tensor of ones that requires grad (as an activation
  /// does, so the same kernel runs on every backend).
  static torch::Tensor reference(at::IntArrayRef sizes, double p, const torch::TensorOptions& options) {
    auto ones = torch::ones(sizes, options.dtype(torch::kFloat32).requires_grad(true));
    return torch::dropout(ones, p, /*train=*/true).detach();
  }

 private:
  static constexpr int N = 624, M = 397;

  // next_state() of at::mt19937 (ATen/core/MT19937RNGEngine.h), on a copy of the state array.
  static void twist(std::array<uint32_t, N>& s) {
    auto tw = [](uint32_t u, uint32_t v) {
      return (((u & 0x80000000u) | (v & 0x7fffffffu)) >> 1) ^ ((v & 1u) ? 0x9908b0dfu : 0u);
    };
    int j = 0;
    for (; j < N - M; ++j) s[j] = s[j + M] ^ tw(s[j], s[j + 1]);
    for (; j < N - 1; ++j) s[j] = s[j + M - N] ^ tw(s[j], s[j + 1]);
    s[N - 1] = s[M - 1] ^ tw(s[N - 1], s[0]);
  }

  static uint32_t temper(uint32_t y) {
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
  }

  static void temper_all(const uint32_t* __restrict in, uint32_t* __restrict out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = temper(in[i]);
  }

  // `count` consecutive outputs of the default CPU generator's engine (as engine_() calls), which
  // is advanced past them.
  static void outputs(uint32_t* out, int64_t count) {
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    auto* impl = gen.get<at::CPUGeneratorImpl>();
    at::mt19937 engine = impl->engine();
    auto data = engine.data();
    int64_t done = 0;
    while (done < count) {
      if (data.left_ == 1) {  // operator(): --left == 0 -> next_state(), then state[0]
        twist(data.state_);
        data.left_ = N + 1;   // so that the block below hands out state[0..] and leaves left = N
        data.next_ = 0;
      }
      const int64_t take = std::min<int64_t>(data.left_ - 1, count - done);
      temper_all(data.state_.data() + data.next_, out + done, take);
      done += take;
      data.next_ += static_cast<uint32_t>(take);
      data.left_ -= static_cast<int>(take);
    }
    engine.set_data(data);
    impl->set_engine(engine);
  }

  // One element per pair of outputs (hi, lo): uniform_real_distribution<double>(0, 1) of
  // random64() = (hi << 32 | lo) & (2^53 - 1), times 2^-53, compared with keep: as integers,
  // m < T with T = ceil(keep * 2^53) (keep * 2^53 is exact), i.e. (hi & 0x1fffff, lo) < (T_hi, T_lo).
  static void compare_all(const uint32_t* __restrict w, float* __restrict out, int64_t n, uint32_t t_hi,
                          uint32_t t_lo, float scale) {
    for (int64_t i = 0; i < n; ++i) {
      const uint32_t hi = w[2 * i] & 0x1fffffu, lo = w[2 * i + 1];
      const bool keep = (hi < t_hi) | ((hi == t_hi) & (lo < t_lo));
      out[i] = keep ? scale : 0.0f;
    }
  }

  static torch::Tensor bulk(at::IntArrayRef sizes, double p) {
    auto mask = torch::empty(sizes, torch::kFloat32);
    const int64_t n = mask.numel();
    const double keep = 1 - p;
    const auto threshold = static_cast<uint64_t>(std::ceil(keep * 0x1p53));
    const float scale = torch::ones({1}).div_(keep).item<float>();  // noise.div_(1 - p), as dropout
    thread_local std::vector<uint32_t> words;
    words.resize(static_cast<std::size_t>(2 * n));
    outputs(words.data(), 2 * n);
    compare_all(words.data(), mask.data_ptr<float>(), n, static_cast<uint32_t>(threshold >> 32),
                static_cast<uint32_t>(threshold & 0xffffffffu), scale);
    return mask;
  }

  // Once per process and p: the bulk mask and the generator state after it equal torch::dropout's,
  // drawn from the same state (the generator is put back as it was).
  static bool bulk_matches(double p) {
    static std::mutex mutex;
    static std::vector<std::pair<double, bool>> known;
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& [q, ok] : known)
      if (q == p) return ok;
    auto gen = at::detail::getDefaultCPUGenerator();
    auto* impl = gen.get<at::CPUGeneratorImpl>();
    auto engine_of = [&] {
      std::lock_guard<std::mutex> g(gen.mutex());
      return impl->engine();
    };
    auto set_engine = [&](const at::mt19937& e) {
      std::lock_guard<std::mutex> g(gen.mutex());
      impl->set_engine(e);
    };
    auto same_state = [](const at::mt19937& a, const at::mt19937& b) {
      const auto x = a.data(), y = b.data();
      return x.left_ == y.left_ && x.next_ == y.next_ && x.state_ == y.state_;
    };
    const at::mt19937 saved = engine_of();
    bool ok = true;
    // Sizes that cross a 624-word block, odd counts, and LeNet's own.
    for (int64_t n : {int64_t{1}, int64_t{313}, int64_t{1249}, int64_t{64 * 128}}) {
      const at::mt19937 before = engine_of();
      auto expected = reference({n}, p, torch::kCPU);
      const at::mt19937 after_reference = engine_of();
      set_engine(before);
      auto got = bulk({n}, p);
      ok = ok && same_state(engine_of(), after_reference) &&
           std::memcmp(got.data_ptr<float>(), expected.data_ptr<float>(), n * sizeof(float)) == 0;

      set_engine(after_reference);
    }
    set_engine(saved);
    known.emplace_back(p, ok);
    return ok;
  }
};

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
    for (const auto& named : nets.front()->named_parameters()) {
      std::vector<torch::Tensor> slices;
      for (const auto& net : nets) slices.push_back(net->named_parameters()[named.key()].detach());
      std::string name = named.key();
      std::replace(name.begin(), name.end(), '.', '_');
      stacked_.push_back(register_parameter(name, torch::stack(slices)));
      names_.push_back(named.key());
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
    auto h = torch::relu(torch::conv2d(x, p[0], p[1]));
    if (channels_last_) h = h.contiguous(at::MemoryFormat::ChannelsLast);  // conv2, pool: NHWC kernels
    h = torch::relu(torch::conv2d(h, p[2], p[3]));
    h = torch::max_pool2d(h, 2);
    if (mask1.defined()) h = h * mask1;
    h = torch::flatten(h, 1);
    h = torch::relu(torch::linear(h, p[4], p[5]));
    if (mask2.defined()) h = h * mask2;
    h = torch::linear(h, p[6], p[7]);
    return torch::log_softmax(h.to(torch::kFloat32), 1);  // .to: a no-op but under mixed precision
  }

  /// All K at once (VariantKernels::Grouped). @param inputs variant k's normalized batch
  /// [B, 1, 28, 28]; returns log-probabilities [K, B, classes].
  torch::Tensor forward(const std::vector<torch::Tensor>& inputs, const torch::Tensor& mask1,
                        const torch::Tensor& mask2) {
    const int64_t k = variants_;
    const int64_t batch = inputs.at(0).size(0);
    // conv1 one variant at a time: a grouped convolution over one-channel groups takes a slower
    // kernel, and conv1 is ~2% of LeNet's arithmetic.
    std::vector<torch::Tensor> first;
    for (int64_t v = 0; v < k; ++v)
      first.push_back(torch::conv2d(inputs.at(static_cast<std::size_t>(v)), stacked_[0].select(0, v),
                                    stacked_[1].select(0, v)));
    auto h = torch::relu(k == 1 ? first.front() : torch::cat(first, 1));  // [B, K*32, 26, 26]
    const std::array<int64_t, 2> one{1, 1}, zero{0, 0};
    h = torch::relu(torch::conv2d(h, stacked_[2].flatten(0, 1), stacked_[3].flatten(), torch::IntArrayRef(one),
                                  torch::IntArrayRef(zero), torch::IntArrayRef(one), k));
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
  std::vector<torch::Tensor> stacked_;
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
  /// PerVariant only: threads that run variants side by side, each with one intra-op thread
  /// (0: RunOptions::threads, or LibTorch's thread count). 1: variants run one after the other
  /// with LibTorch's intra-op threads. Results are those of alone runs with threads = 1 when > 1.
  int workers = 1;
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
    multi_->zero_all_grads();
    auto [mask1, mask2] = multi_->draw_masks(images.size(0), torch::TensorOptions().device(device_));
    if (kernels_ == VariantKernels::Grouped) {
      torch::Tensor output;
      {
        detail::MixedPrecision mixed(mixed_, device_);
        output = multi_->forward(inputs(images), mask1, mask2);
      }
      std::vector<torch::Tensor> losses;
      for (int64_t k = 0; k < variants(); ++k) losses.push_back(model_t::loss(output.select(0, k), target));
      auto loss = torch::stack(losses);
      loss.sum().backward();
      multi_->point_grads_at_stacked();
      for (int64_t k = 0; k < variants(); ++k)
        if (active[static_cast<std::size_t>(k)]) opts_[static_cast<std::size_t>(k)]->step();
      return loss.detach();
    }
    std::vector<torch::Tensor> losses(variants_.size());
    workers_.run(variants(), [&](int64_t k) {
      const auto i = static_cast<std::size_t>(k);
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
    for (auto range : data::batch_ranges(test.size(), batch_size)) {
      auto [images, target] = order.take(test, range);
      if (kernels_ == VariantKernels::Grouped) {
        detail::MixedPrecision mixed(mixed_, device_);
        auto output = multi_->forward(inputs(images), {}, {});
        for (int64_t k = 0; k < K; ++k) {
          const auto i = static_cast<std::size_t>(k);
          loss[i] += model_t::loss(output.select(0, k), target, torch::Reduction::Sum).template item<double>();
          add(correct[i], output.select(0, k).argmax(1).eq(target).sum());
        }
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
    for (auto& c : correct) counts.push_back(c.defined() ? c.template item<int64_t>() : 0);
    return {loss, counts};
  }

  /// Zeros variant k's parameters (a variant that stopped costs no NaN or denormal work).
  void retire(int64_t k) {
    torch::NoGradGuard no_grad;
    for (auto& p : multi_->stacked()) p.select(0, k).zero_();
  }

 private:
  static void add(torch::Tensor& sum, const torch::Tensor& value) { sum = sum.defined() ? sum + value : value; }

  std::vector<torch::Tensor> inputs(const torch::Tensor& images) {
    std::vector<torch::Tensor> x;
    for (auto& normalize : normalizers_) x.push_back(normalize(images));
    return x;
  }

  std::vector<NormalizationValues> variants_;
  torch::Device device_;
  VariantKernels kernels_;
  bool mixed_ = false;
  models::MultiLeNet multi_{nullptr};
  std::vector<std::unique_ptr<torch::optim::Optimizer>> opts_;
  std::vector<std::unique_ptr<scheduler_type>> scheds_;
  std::vector<BatchNormalizer> normalizers_;  // each variant's input, as its alone run makes it
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
