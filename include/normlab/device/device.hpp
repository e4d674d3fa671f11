#pragma once
// Device policies: where the data, the model and every step live. Chosen at run time for Auto
// (CUDA when a GPU is present) and Named (the device a program was told, e.g. by `--device cuda:1`),
// never by #ifdef, so one binary serves both kinds of machine.
//
//   device::Named::use(device::parse("cuda:1"));   // once, before the runs
//   Pipeline<normalize::Runtime, LeNet, device::Named>{}.run(options);  // runs on cuda:1

#include <cstddef>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <torch/torch.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "normlab/policy.hpp"

namespace normlab::device {

/// Everything on the CPU.
struct Cpu {
  using normlab_policy = policy::Device;
  static torch::Device select() { return torch::Device(torch::kCPU); }
};

/// Everything on the first CUDA device; a clear error where there is none.
struct Cuda {
  using normlab_policy = policy::Device;
  static torch::Device select() {
    if (!torch::cuda::is_available())
      throw std::runtime_error(
          "normlab::device::Cuda: no CUDA device is available (this LibTorch was built without "
          "CUDA, or no GPU is visible); use device::Cpu or device::Auto");
    return torch::Device(torch::kCUDA, 0);
  }
};

/// CUDA when available, else the CPU: the notebook's rule (without MPS, which LibTorch lacks).
struct Auto {
  using normlab_policy = policy::Device;
  static torch::Device select() {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  }
};

/// The names parse() accepts, for help texts and error messages.
inline constexpr const char* kDeviceNames = "cpu, cuda, cuda:N or auto";

namespace detail {
/// "normlab: cuda:3 requested but only 1 CUDA device is visible (cuda:0)", or, with no CUDA device,
/// "normlab: cuda requested but this LibTorch has no CUDA or no GPU is visible (...)".
inline std::invalid_argument not_visible(const std::string& name, std::size_t cuda_devices) {
  if (cuda_devices == 0)
    return std::invalid_argument("normlab: " + name +
                                 " requested but this LibTorch has no CUDA or no GPU is visible "
                                 "(torch::cuda::device_count() is 0); use cpu or auto");
  const std::string last = std::to_string(cuda_devices - 1);
  return std::invalid_argument("normlab: " + name + " requested but only " + std::to_string(cuda_devices) +
                               (cuda_devices == 1 ? " CUDA device is visible (cuda:0)"
                                                  : " CUDA devices are visible (cuda:0 to cuda:" + last + ")"));
}
}  // namespace detail

/// Throws std::invalid_argument when `device` is a CUDA device that this process cannot use:
/// `cuda_devices` is how many CUDA devices are visible (torch::cuda::device_count(); 0 where LibTorch
/// was built without CUDA). The CPU is always usable.
inline void check_available(torch::Device device, std::size_t cuda_devices) {
  if (!device.is_cuda()) return;
  if (cuda_devices == 0) throw detail::not_visible(device.has_index() ? device.str() : "cuda", 0);
  if (device.has_index() && static_cast<std::size_t>(device.index()) >= cuda_devices)
    throw detail::not_visible(device.str(), cuda_devices);
}

/**
 * A device named as the programs' `--device` flag spells it, checked against the `cuda_devices`
 * CUDA devices this process sees:
 *  - `cpu`: the CPU;
 *  - `cuda`: the first CUDA device (cuda:0);
 *  - `cuda:N`: CUDA device N (N decimal, without sign, spaces or leading zeros);
 *  - `auto`: cuda:0 when a CUDA device is visible, else the CPU (device::Auto's rule).
 * Anything else is "normlab: unknown device 'gpu' (expected cpu, cuda, cuda:N or auto)"; a CUDA
 * device that is not visible is "normlab: cuda:3 requested but only 1 CUDA device is visible
 * (cuda:0)" (both std::invalid_argument).
 */
inline torch::Device parse(const std::string& name, std::size_t cuda_devices) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "auto") return cuda_devices > 0 ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (name == "cuda") {
    if (cuda_devices == 0) throw detail::not_visible(name, 0);
    return torch::Device(torch::kCUDA, 0);
  }
  const std::string digits = name.rfind("cuda:", 0) == 0 ? name.substr(5) : "";
  bool number = !digits.empty() && digits.size() <= 9 && (digits.size() == 1 || digits[0] != '0');
  for (const char c : digits) number = number && c >= '0' && c <= '9';
  if (!number)
    throw std::invalid_argument("normlab: unknown device '" + name + "' (expected " + kDeviceNames + ")");
  const long index = std::stol(digits);  // < 10^9: fits
  if (static_cast<std::size_t>(index) >= cuda_devices) throw detail::not_visible(name, cuda_devices);
  // A visible index fits torch's DeviceIndex (int8_t in LibTorch 1.13, int16_t in 2.x).
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

/// parse() against the CUDA devices this process sees.
inline torch::Device parse(const std::string& name) { return parse(name, torch::cuda::device_count()); }

/**
 * The device chosen at run time: a Device policy whose select() returns what use() was given,
 * so a program picks the device from its command line and every Pipeline, study and protocol that
 * names device::Named runs there. Until use() is called it is device::Auto. The choice is
 * process-wide (select() is static, as every Device policy's); use() and select() may be called
 * from any thread.
 */
struct Named {
  using normlab_policy = policy::Device;

  /// Runs everything that names device::Named on `device`; a CUDA device that this process does not
  /// see is refused (check_available) and the previous choice kept.
  static void use(torch::Device device) {
    check_available(device, device.is_cuda() ? torch::cuda::device_count() : 0);
    if (device.is_cuda() && !device.has_index()) device = torch::Device(torch::kCUDA, 0);
    std::lock_guard<std::mutex> lock(state().mutex);
    state().device = device;
  }
  /// use(parse(name)).
  static void use(const std::string& name) { use(parse(name)); }

  /// The device given to use(), else device::Auto's choice.
  static torch::Device select() {
    {
      std::lock_guard<std::mutex> lock(state().mutex);
      if (state().device) return *state().device;
    }
    return Auto::select();
  }

  /// Forgets use()'s choice: device::Auto's again.
  static void reset() {
    std::lock_guard<std::mutex> lock(state().mutex);
    state().device.reset();
  }

 private:
  struct State {
    std::mutex mutex;
    std::optional<torch::Device> device;
  };
  static State& state() {
    static State s;
    return s;
  }
};

/// Sets the intra-op thread count. Debian's LibTorch starts with one thread, so the caller says how
/// many it wants; 0 leaves the current setting. Negative counts are an error.
inline void set_threads(int threads) {
  if (threads < 0)
    throw std::invalid_argument("normlab: thread count must be >= 0 (got " +
                                std::to_string(threads) + ")");
  if (threads > 0) torch::set_num_threads(threads);
}

/// Keeps freed memory in the process instead of giving it back to the OS at once.
/// A CPU training step frees and re-allocates the same few megabytes of activations and gradients
/// every batch; with glibc's defaults each free shrinks the heap (or unmaps the block) and the next
/// step page-faults it back in, which costs more than a third of a LeNet epoch on 2 cores
/// (docs/performance.md). Raising the trim and mmap thresholds once stops that. Process-wide and
/// idempotent; a no-op where the C library is not glibc.
inline void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);  // glibc's maximum: blocks below this come from the heap
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
#endif
}

}  // namespace normlab::device
