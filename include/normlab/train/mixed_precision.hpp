#pragma once
// RunOptions::fast's mixed precision: bfloat16 autocast for forward passes, where bfloat16 is native.

#include <torch/torch.h>

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace normlab {
namespace detail {

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
}  // namespace normlab
