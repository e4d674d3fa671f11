// normlab/train/mixed_precision.hpp: RunOptions::fast's bfloat16 autocast. While a MixedPrecision
// that is on lives, the thread's matrix products run in bfloat16; afterwards autocast is as it was.
// Off, it touches nothing. native_bf16 says where bfloat16 is native (and so where fast uses it).
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

#include <normlab/train/mixed_precision.hpp>

using normlab::detail::MixedPrecision;

namespace {
// LibTorch's own switch for CPU autocast, read with the API of this version (as the header does).
bool cpu_autocast_on() {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  return at::autocast::is_autocast_enabled(c10::DeviceType::CPU);
#else
  return at::autocast::is_cpu_enabled();
#endif
}

torch::Tensor product() {
  torch::manual_seed(7);
  const auto a = torch::randn({16, 32}), b = torch::randn({32, 8});
  return torch::mm(a, b);
}
}  // namespace

TEST_CASE("mixed precision on makes the CPU's matrix products bfloat16 until it ends",
          "[train][mixed_precision]") {
  REQUIRE_FALSE(cpu_autocast_on());
  const auto full = product();
  REQUIRE(full.scalar_type() == torch::kFloat32);
  torch::manual_seed(7);
  const auto a = torch::randn({16, 32}), b = torch::randn({32, 8});
  const auto by_hand = torch::mm(a.to(torch::kBFloat16), b.to(torch::kBFloat16));
  {
    MixedPrecision mixed(true, torch::kCPU);
    REQUIRE(cpu_autocast_on());
    const auto half = product();
    REQUIRE(half.scalar_type() == torch::kBFloat16);
    // The same product as casting both factors to bfloat16 by hand, and near the float one
    // (bfloat16 keeps 8 bits of mantissa: a relative error of 2^-8 per rounding).
    REQUIRE(torch::equal(half, by_hand));
    REQUIRE(torch::allclose(half.to(torch::kFloat32), full, /*rtol=*/0.05, /*atol=*/0.1));
    REQUIRE_FALSE(torch::equal(half.to(torch::kFloat32), full));  // it really rounded
  }
  REQUIRE_FALSE(cpu_autocast_on());
  REQUIRE(product().scalar_type() == torch::kFloat32);
}

TEST_CASE("mixed precision off changes nothing, and nested scopes give back the outer state",
          "[train][mixed_precision]") {
  {
    MixedPrecision off(false, torch::kCPU);
    REQUIRE_FALSE(cpu_autocast_on());
    REQUIRE(product().scalar_type() == torch::kFloat32);
  }
  {
    MixedPrecision outer(true, torch::kCPU);
    {
      MixedPrecision inner(true, torch::kCPU);
      REQUIRE(product().scalar_type() == torch::kBFloat16);
    }
    REQUIRE(cpu_autocast_on());  // the inner scope restores what it found: on
    REQUIRE(product().scalar_type() == torch::kBFloat16);
    {
      MixedPrecision off(false, torch::kCPU);  // off inside on leaves it on
      REQUIRE(cpu_autocast_on());
    }
  }
  REQUIRE_FALSE(cpu_autocast_on());
}

TEST_CASE("bfloat16 counts as native on CUDA devices and on CPUs with AVX512-BF16",
          "[train][mixed_precision]") {
  REQUIRE(normlab::detail::native_bf16(torch::Device("cuda:0")));
  REQUIRE(normlab::detail::native_bf16(torch::Device("cuda:1")));
#if defined(__linux__) && defined(__x86_64__)
  // The kernel's word for it, read independently of the compiler's __builtin_cpu_supports.
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  bool flags_seen = false, bf16 = false;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    flags_seen = true;
    std::istringstream words(line);
    for (std::string w; words >> w;) bf16 = bf16 || w == "avx512_bf16";
    break;
  }
  REQUIRE(flags_seen);
  INFO("/proc/cpuinfo lists avx512_bf16: " << bf16);
  REQUIRE(normlab::detail::native_bf16(torch::kCPU) == bf16);
#elif !defined(__x86_64__)
  REQUIRE_FALSE(normlab::detail::native_bf16(torch::kCPU));  // the header's rule off x86-64
#else
  WARN("no /proc/cpuinfo to compare the CPU's answer with: only the CUDA rule is checked");
#endif
}
