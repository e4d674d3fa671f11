#pragma once
// LeNet's dropout masks drawn in bulk on the CPU: the same masks as torch::dropout, and the same
// generator state after them, much faster (a serial per-element bernoulli_ is a sizeable part of a
// LeNet training step on the CPU; docs/performance.md). Used by LeNet's forward and by run_variants.

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <torch/torch.h>
#include <utility>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>

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

}  // namespace detail
}  // namespace normlab
