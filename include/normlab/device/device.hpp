#pragma once
// Device policies: where the data, the model and every step live. Chosen at run time for Auto
// (CUDA when a GPU is present), never by #ifdef, so one binary serves both kinds of machine.

#include <stdexcept>
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
