#pragma once
// Which CPU kernels this process computes with. Debian's OpenBLAS picks its kernels when it is
// loaded (SkylakeX on most AVX-512 CPUs, Haswell on AVX2 ones; OPENBLAS_CORETYPE forces one), and
// ATen dispatches its vectorized loops by a CPU capability (ATEN_CPU_CAPABILITY forces one). Both
// change the order of float additions, so a training run is bit-reproducible only on the same
// kernels, thread count and LibTorch version (docs/parity.md). Studies record this and golden files
// name it, so a mismatch is reported instead of showing up as a silently different number.

#include <dlfcn.h>

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>
#include <torch/version.h>

namespace normlab::device {

struct CpuKernels {
  std::string openblas_core;    ///< openblas_get_corename(), or "none" where BLAS is not OpenBLAS
  std::string aten_capability;  ///< ATen's "CPU capability usage" (AVX2, AVX512, NO_AVX)
  int threads = 0;              ///< intra-op threads
  std::string libtorch;         ///< LibTorch's version, e.g. 1.13.0

  /// The part that decides the bits: everything above. The CPU's name is for people (cpu_model()).
  bool same_bits_as(const CpuKernels& other) const {
    return openblas_core == other.openblas_core && aten_capability == other.aten_capability &&
           threads == other.threads && libtorch == other.libtorch;
  }
  /// "OpenBLAS Haswell, ATen AVX2, 1 thread(s), LibTorch 1.13.0"
  std::string describe() const {
    return "OpenBLAS " + openblas_core + ", ATen " + aten_capability + ", " + std::to_string(threads) +
           " thread(s), LibTorch " + libtorch;
  }
  /// The environment that reproduces these kernels on another x86-64 machine.
  std::string pinning() const;
};

/// OpenBLAS's core name, asked of the BLAS library LibTorch loaded; "none" when that is not OpenBLAS
/// (a pip LibTorch links MKL statically).
inline std::string openblas_core() {
  using Fn = char* (*)();
  if (auto fn = reinterpret_cast<Fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"))) {
    if (const char* name = fn()) return name;
  }
  return "none";
}

/// ATen's CPU capability as at::show_config() reports it, spaces as underscores (AVX2, AVX512,
/// NO_AVX), or "unknown" if that line is missing.
inline std::string aten_capability() {
  static const std::string capability = [] {
    std::smatch m;
    const std::string config = at::show_config();
    if (!std::regex_search(config, m, std::regex("CPU capability usage: ([^\\n]*[^\\n ])"))) return std::string("unknown");
    std::string name = m[1].str();
    for (auto& c : name) if (c == ' ') c = '_';
    return name;
  }();
  return capability;
}

/// The ATEN_CPU_CAPABILITY value that selects `capability` (as aten_capability() names it).
inline std::string aten_capability_setting(std::string capability) {
  if (capability == "NO_AVX") return "default";
  for (auto& c : capability) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return capability;
}

inline std::string CpuKernels::pinning() const {
  return "OPENBLAS_CORETYPE=" + openblas_core + " ATEN_CPU_CAPABILITY=" + aten_capability_setting(aten_capability) +
         " and " + std::to_string(threads) + " thread(s) (--threads " + std::to_string(threads) + ")";
}

/// The kernels of this process now (the thread count is the current intra-op setting).
inline CpuKernels cpu_kernels() {
  return {openblas_core(), aten_capability(), at::get_num_threads(),
          std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
              std::to_string(TORCH_VERSION_PATCH)};
}

/// The CPU's model name from /proc/cpuinfo (for reports and figures), "unknown" elsewhere.
inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

/// What programs print before a run, so that a result can be reproduced: "kernels:
/// openblas_core=Haswell aten_capability=AVX2 threads=2 libtorch=1.13.1 cpu="..." omp_wait_policy=PASSIVE"
/// (libgomp-default where OMP_WAIT_POLICY is unset).
inline std::string kernels_line() {
  const auto k = cpu_kernels();
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  return "kernels: openblas_core=" + k.openblas_core + " aten_capability=" + k.aten_capability +
         " threads=" + std::to_string(k.threads) + " libtorch=" + k.libtorch + " cpu=\"" + cpu_model() +
         "\" omp_wait_policy=" + (wait_policy ? wait_policy : "libgomp-default");
}

}  // namespace normlab::device
