// normlab/device/cpu_kernels.hpp: the kernels this process computes with, as the goldens name them.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <normlab/device/cpu_kernels.hpp>
#include <normlab/device/device.hpp>
#include <strings.h>

using namespace normlab::device;

TEST_CASE("cpu_kernels names this process's OpenBLAS core, ATen capability and threads", "[device][kernels]") {
  set_threads(1);
  auto k = cpu_kernels();
  CHECK(k.threads == 1);
  set_threads(2);
  CHECK(cpu_kernels().threads == 2);
  CHECK(k.libtorch == std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                          std::to_string(TORCH_VERSION_PATCH));
  // Debian's LibTorch loads OpenBLAS (scripts/setup.sh installs libopenblas0-openmp): a real core name.
  CHECK(k.openblas_core != "none");
  CHECK_FALSE(k.openblas_core.empty());
  if (const char* forced = std::getenv("OPENBLAS_CORETYPE")) CHECK(strcasecmp(forced, k.openblas_core.c_str()) == 0);
  CHECK(k.aten_capability.find(' ') == std::string::npos);
  const std::string config = at::show_config();
  std::string reported = k.aten_capability;
  for (auto& c : reported) if (c == '_') c = ' ';
  CHECK(config.find("CPU capability usage: " + reported) != std::string::npos);
}

TEST_CASE("kernels compare, describe and pin themselves", "[device][kernels]") {
  const CpuKernels a{"Haswell", "AVX2", 2, "1.13.0"};
  CpuKernels b = a;
  CHECK(a.same_bits_as(b));
  b.threads = 1;
  CHECK_FALSE(a.same_bits_as(b));
  b = a;
  b.aten_capability = "AVX512";
  CHECK_FALSE(a.same_bits_as(b));
  CHECK(a.describe() == "OpenBLAS Haswell, ATen AVX2, 2 thread(s), LibTorch 1.13.0");
  CHECK(a.pinning() == "OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2 and 2 thread(s) (--threads 2)");
  CHECK(aten_capability_setting("NO_AVX") == "default");
  CHECK(aten_capability_setting("AVX512") == "avx512");
  CHECK_FALSE(cpu_model().empty());
}

TEST_CASE("kernels_line names the kernels, the CPU and OpenMP's wait policy as programs print them", "[device][kernels]") {
  set_threads(1);
  const auto k = cpu_kernels();
  const auto line = kernels_line();
  CHECK(line.rfind("kernels: openblas_core=" + k.openblas_core + " aten_capability=" + k.aten_capability +
                       " threads=1 libtorch=" + k.libtorch + " cpu=\"" + cpu_model() + "\" omp_wait_policy=",
                   0) == 0);
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const std::string expected_policy = policy ? policy : "libgomp-default";
  CHECK(line.substr(line.size() - expected_policy.size()) == expected_policy);
}
