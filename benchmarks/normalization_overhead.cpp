// What input normalization costs, per image and in GB/s, on a batch of 64 uint8 MNIST-sized images
// (1 x 28 x 28), against a plain copy of the same bytes measured in the same run:
//
//   copy/*        memcpy of the 64 images' bytes; memcpy of the float batch's bytes; the uint8 -> float
//                 tensor copy_ alone (the conversion every variant needs)
//   per_sample    (a) torchvision in the loader: per image to(float), /255, sub_(mean), div_(std) with
//                 mean/std tensors made per call (as Normalize does), then the DataLoader's stack
//   batched_aten  (b) one batched pass with the ATen ops: copy_, div_(255), sub_(mean), div_(std)
//   batch_normalizer (b/c) normlab::BatchNormalizer: on the CPU the fused one-pass kernel (c)
//   fused_kernel  (c) detail::normalize_bytes alone: bytes in, (x/255 - mean)/std floats out
//   forward/*     (d) LeNet's inference forward: the network fed normalized input, the same network
//                 with the normalization folded into conv1 (fold_normalization) fed x/255, and the
//                 unnormalized network fed x/255: the folded network does no extra work
//
// With a CUDA device, the same on the GPU (cuda/...; each iteration ends with a synchronize).
// Counters: per_image (seconds per image), bytes_per_s = (bytes read + bytes written) / time.
//   build-perf5/benchmarks/normalization_overhead --benchmark_repetitions=5 \
//       --benchmark_report_aggregates_only=true --benchmark_enable_random_interleaving=true
// NORMLAB_BENCH_THREADS sets LibTorch's intra-op threads (default 2).

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <torch/torch.h>
#include <vector>

#include <normlab/compensate/compensate.hpp>
#include <normlab/models/lenet.hpp>
#include <normlab/normalize/batch_normalizer.hpp>

namespace {

using normlab::BatchNormalizer;
using normlab::NormalizationValues;

constexpr int64_t kBatch = 64;
constexpr int64_t kPixels = 28 * 28;
const NormalizationValues kValues = NormalizationValues::uniform(0.1307, 0.3081);

torch::Tensor raw_batch(torch::Device device) {
  torch::manual_seed(1998);
  return torch::randint(0, 256, {kBatch, 1, 28, 28}, torch::kUInt8).to(device);
}

void sync(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// Time per image (printed with an SI prefix: 5.5n is 5.5 ns), and bytes read + written per second
// for `bytes_per_image` bytes per image (18.8G/s is 18.8 GB/s).
void set_counters(benchmark::State& state, double bytes_per_image) {
  const double images = static_cast<double>(state.iterations()) * kBatch;
  state.counters["per_image"] =
      benchmark::Counter(images, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  if (bytes_per_image > 0)
    state.counters["bytes_per_s"] = benchmark::Counter(images * bytes_per_image, benchmark::Counter::kIsRate);
}

constexpr double kConvertBytes = kPixels * (1 + 4);  // uint8 read, float32 written

// --- plain copies of the same bytes ---------------------------------------------------------------
void copy_memcpy_bytes(benchmark::State& state) {
  std::vector<uint8_t> in(kBatch * kPixels, 7), out(kBatch * kPixels);
  for (auto _ : state) {
    std::memcpy(out.data(), in.data(), in.size());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, kPixels * 2.0);
}

void copy_memcpy_floats(benchmark::State& state) {
  std::vector<float> in(kBatch * kPixels, 0.5f), out(kBatch * kPixels);
  for (auto _ : state) {
    std::memcpy(out.data(), in.data(), in.size() * sizeof(float));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, kPixels * 8.0);
}

void copy_tensor(benchmark::State& state, torch::Device device, bool to_float) {
  const auto raw = raw_batch(device);
  auto out = torch::empty(raw.sizes(), raw.options().dtype(to_float ? torch::kFloat32 : torch::kUInt8));
  for (auto _ : state) {
    out.copy_(raw);
    sync(device);
  }
  set_counters(state, to_float ? kConvertBytes : kPixels * 2.0);
}

// --- (a) per sample, as torchvision's ToTensor + Normalize in a DataLoader, then default_collate --
// On a CUDA machine the loader still works on the CPU; the float batch then moves to the device.
void per_sample(benchmark::State& state, torch::Device device) {
  const auto raw = raw_batch(torch::kCPU);
  for (auto _ : state) {
    std::vector<torch::Tensor> samples;
    samples.reserve(kBatch);
    for (int64_t i = 0; i < kBatch; ++i) {
      auto img = raw[i].to(torch::kFloat32).div(255);                       // ToTensor
      auto mean = torch::tensor({kValues.mean[0]}, torch::dtype(torch::kFloat32));
      auto std = torch::tensor({kValues.std[0]}, torch::dtype(torch::kFloat32));
      img.sub_(mean.view({-1, 1, 1})).div_(std.view({-1, 1, 1}));          // Normalize
      samples.push_back(img);
    }
    auto batch = torch::stack(samples).to(device);                          // default_collate
    benchmark::DoNotOptimize(batch.data_ptr());
    sync(device);
  }
  set_counters(state, kConvertBytes);
}

// --- (b) one batched pass with the ATen ops, into a reused buffer ----------------------------------
void batched_aten(benchmark::State& state, torch::Device device) {
  const auto raw = raw_batch(device);
  auto mean = torch::tensor({static_cast<float>(kValues.mean[0])}, torch::dtype(torch::kFloat32).device(device)).view({1, 1, 1, 1});
  auto std = torch::tensor({static_cast<float>(kValues.std[0])}, torch::dtype(torch::kFloat32).device(device)).view({1, 1, 1, 1});
  auto out = torch::empty(raw.sizes(), raw.options().dtype(torch::kFloat32));
  for (auto _ : state) {
    out.copy_(raw);
    out.div_(255).sub_(mean).div_(std);
    sync(device);
  }
  set_counters(state, kConvertBytes);
}

// --- (b/c) normlab::BatchNormalizer: fused on the CPU ---------------------------------------------
void batch_normalizer(benchmark::State& state, torch::Device device) {
  const auto raw = raw_batch(device);
  BatchNormalizer normalize(kValues, device);
  state.SetLabel(normalize.path());
  for (auto _ : state) {
    auto out = normalize(raw);
    benchmark::DoNotOptimize(out.data_ptr());
    sync(device);
  }
  set_counters(state, kConvertBytes);
}

// --- (c) the fused kernel alone -------------------------------------------------------------------
void fused_kernel(benchmark::State& state, normlab::detail::FusedKind kind) {
  const auto raw = raw_batch(torch::kCPU);
  std::vector<float> out(kBatch * kPixels);
  const normlab::detail::ByteAffine affine(kValues.mean[0], kValues.std[0]);
  for (auto _ : state) {
    normlab::detail::normalize_bytes<false>(raw.data_ptr<uint8_t>(), out.data(), raw.numel(), affine, kind);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, kConvertBytes);
}

// --- (d) folded into conv1: forward time of the normalized, folded and unnormalized networks ------
enum class Net { Normalized, Folded, Unnormalized };

void forward(benchmark::State& state, torch::Device device, Net which, bool include_input) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1998);
  normlab::models::LeNet net;
  if (which == Net::Folded) normlab::fold_normalization(net, kValues);
  net->to(device);
  net->eval();
  const auto raw = raw_batch(device);
  BatchNormalizer input(kValues, device, /*identity=*/which != Net::Normalized);
  auto x = input(raw).clone();
  for (int i = 0; i < 3; ++i) net->forward(x);  // warm up (allocator, oneDNN primitives)
  for (auto _ : state) {
    auto out = net->forward(include_input ? input(raw) : x);
    benchmark::DoNotOptimize(out.data_ptr());
    sync(device);
  }
  set_counters(state, 0);
}

void register_all(const std::string& prefix, torch::Device device) {
  const bool cuda = device.is_cuda();
  auto reg = [&](const std::string& name, auto fn) {
    return benchmark::RegisterBenchmark((prefix + name).c_str(), fn)->Unit(benchmark::kMicrosecond)->UseRealTime();
  };
  if (!cuda) {
    reg("copy/memcpy_uint8_bytes", copy_memcpy_bytes);
    reg("copy/memcpy_float_bytes", copy_memcpy_floats);
  }
  reg("copy/tensor_copy_uint8", [=](benchmark::State& s) { copy_tensor(s, device, false); });
  reg("copy/tensor_copy_uint8_to_float", [=](benchmark::State& s) { copy_tensor(s, device, true); });
  reg("a_per_sample_torchvision", [=](benchmark::State& s) { per_sample(s, device); });
  reg("b_batched_aten_ops", [=](benchmark::State& s) { batched_aten(s, device); });
  reg("bc_batch_normalizer", [=](benchmark::State& s) { batch_normalizer(s, device); });
  if (!cuda) {
    using normlab::detail::FusedKind;
    reg("c_fused_kernel/division", [](benchmark::State& s) { fused_kernel(s, FusedKind::Division); });
    if (normlab::detail::fused_reciprocal_available())
      reg("c_fused_kernel/reciprocal", [](benchmark::State& s) { fused_kernel(s, FusedKind::Reciprocal); });
  }
  for (bool with_input : {false, true}) {
    const std::string suffix = with_input ? "_with_input" : "";
    reg("d_forward/normalized" + suffix, [=](benchmark::State& s) { forward(s, device, Net::Normalized, with_input); });
    reg("d_forward/folded" + suffix, [=](benchmark::State& s) { forward(s, device, Net::Folded, with_input); });
    reg("d_forward/unnormalized" + suffix, [=](benchmark::State& s) { forward(s, device, Net::Unnormalized, with_input); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* threads = std::getenv("NORMLAB_BENCH_THREADS");
  torch::set_num_threads(threads ? std::atoi(threads) : 2);
  benchmark::AddCustomContext("torch_threads", std::to_string(torch::get_num_threads()));
  benchmark::AddCustomContext("libtorch", TORCH_VERSION);
  register_all("cpu/", torch::kCPU);
  if (torch::cuda::is_available()) register_all("cuda/", torch::Device(torch::kCUDA, 0));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
