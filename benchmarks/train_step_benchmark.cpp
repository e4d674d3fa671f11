// The seed protocol's training step (batch 64: LeNet forward + backward + Adadelta step) against the
// machine's SGEMM rate measured in the same run, and K normalization variants at once.
//
//   sgemm/2048                 torch::mm of two 2048x2048 float matrices: GFLOP/s
//   step/exact                 one step as Pipeline::run takes it (BatchNormalizer, LeNet, nll_loss,
//                              backward, optim::Adadelta): the notebook's numbers, bit for bit
//   step/bulk_masks            the same step through VariantTrainer with K = 1: LeNet's kernels,
//                              dropout masks drawn in bulk (still bit for bit)
//   step/fast                  RunOptions::fast: bulk masks + bfloat16 autocast where native (departs;
//                              its GFLOP/s are fp32-equivalent: the same FLOP count over its time)
//   step/channels_last         bulk masks + NHWC conv2/pool: tried for fast mode, slower here
//   variants/K/<how>           one step of K variants, per variant (VariantTrainer): per_variant
//                              (workers 1 or 2) and grouped; alone_xK is K alone steps, interleaved
//   trials/K/<how>             whole trials (train + test, every epoch) on the data below: K trials
//                              one at a time (Pipeline::run) or together (run_variants); trials/hour
//
// FLOP of a step: conv1 forward and weight gradient, conv2/fc1/fc2 forward and both gradients
// (2 x MACs each) = 4.580 GFLOP per batch of 64. At the end, each step's GFLOP/s is printed as a
// fraction of sgemm's from the same run.
//   build-perf5/benchmarks/train_step_benchmark --benchmark_repetitions=3 \
//       --benchmark_enable_random_interleaving=true --benchmark_filter='sgemm|step'
// NORMLAB_BENCH_THREADS (default 2) sets the intra-op threads; NORMLAB_BENCH_DATA a torchvision-style
// data root holding MNIST/raw (default: the 2,000-image test fixture); NORMLAB_BENCH_EPOCHS (1).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <torch/torch.h>
#include <vector>

#include <normlab/compensate/compensate.hpp>
#include <normlab/data/mnist.hpp>
#include <normlab/models/lenet.hpp>
#include <normlab/normalize/batch_normalizer.hpp>
#include <normlab/optim/policies.hpp>
#include <normlab/pipeline.hpp>
#include <normlab/train/variant_trainer.hpp>

namespace {

using namespace normlab;
using CpuProtocol = Pipeline<normalize::Runtime, LeNet, device::Cpu>;
using CudaProtocol = Pipeline<normalize::Runtime, LeNet, device::Cuda>;

constexpr int64_t kBatch = 64;
// Multiply-accumulates per image: conv1, conv2, fc1, fc2.
constexpr double kMacConv1 = 32.0 * 26 * 26 * 9, kMacConv2 = 64.0 * 24 * 24 * 32 * 9, kMacFc1 = 9216.0 * 128,
                 kMacFc2 = 128.0 * 10;
constexpr double kStepFlop = kBatch * (2 * 2 * kMacConv1 + 3 * 2 * (kMacConv2 + kMacFc1 + kMacFc2));

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

void sync(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

struct Batch {
  torch::Tensor images, target;
};
Batch batch(torch::Device device) {
  torch::manual_seed(1998);
  return {torch::randint(0, 256, {kBatch, 1, 28, 28}, torch::kUInt8).to(device),
          torch::randint(0, 10, {kBatch}, torch::kInt64).to(device)};
}

void set_step_counters(benchmark::State& state, double steps, double flop_per_step) {
  state.counters["GFLOP_per_s"] = benchmark::Counter(steps * flop_per_step * 1e-9, benchmark::Counter::kIsRate);
  state.counters["per_step"] = benchmark::Counter(steps, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// --- the machine's SGEMM rate -------------------------------------------------------------------
void sgemm(benchmark::State& state, torch::Device device) {
  const int64_t n = state.range(0);
  torch::manual_seed(0);
  auto a = torch::randn({n, n}, torch::TensorOptions().device(device));
  auto b = torch::randn({n, n}, torch::TensorOptions().device(device));
  auto c = torch::empty({n, n}, torch::TensorOptions().device(device));
  torch::mm_out(c, a, b);
  sync(device);
  for (auto _ : state) {
    torch::mm_out(c, a, b);
    sync(device);
  }
  state.counters["GFLOP_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 * n * n * n * 1e-9, benchmark::Counter::kIsRate);
}

// --- the seed protocol's step, as Pipeline::run / train_epoch take it ----------------------------
void step_exact(benchmark::State& state, torch::Device device) {
  const auto [images, target] = batch(device);
  const auto values = NormalizationValues::uniform(0.1307, 0.3081);
  torch::manual_seed(1998);
  auto net = LeNet::make();
  net->to(device);
  compensate::Notebook::apply(net->conv1, values);
  auto opt = Adadelta<>::make(net->parameters());
  BatchNormalizer normalize(values, device);
  net->train();
  auto one = [&] {
    opt->zero_grad();
    auto loss = LeNet::loss(net->forward(normalize(images)), target);
    loss.backward();
    opt->step();
  };
  for (int i = 0; i < 3; ++i) one();
  sync(device);
  for (auto _ : state) {
    one();
    sync(device);
  }
  set_step_counters(state, static_cast<double>(state.iterations()), kStepFlop);
}

// --- K variants per step through VariantTrainer ---------------------------------------------------
template <class Protocol>
void variants_step(benchmark::State& state, torch::Device device, VariantKernels kernels, int workers,
                   bool channels_last, bool mixed = false) {
  const int64_t k = state.range(0);
  const auto [images, target] = batch(device);
  std::vector<NormalizationValues> values;
  for (int64_t i = 0; i < k; ++i) values.push_back(NormalizationValues::uniform(0.1 * static_cast<double>(i), 0.3 + 0.1 * static_cast<double>(i)));
  VariantTrainer<Protocol> trainer(values, device, 1998, 10, kernels, workers);
  trainer.model()->set_channels_last(channels_last);
  trainer.set_mixed_precision(mixed);
  state.SetLabel(mixed ? "bf16 autocast" : "fp32");
  const std::vector<bool> active(static_cast<std::size_t>(k), true);
  for (int i = 0; i < 3; ++i) trainer.train_step(images, target, active);
  sync(device);
  for (auto _ : state) {
    benchmark::DoNotOptimize(trainer.train_step(images, target, active).data_ptr());
    sync(device);
  }
  // Counted per variant-step, so that K = 1 compares with step/exact directly.
  set_step_counters(state, static_cast<double>(state.iterations() * k), kStepFlop);
}

void alone_steps(benchmark::State& state, torch::Device device) {  // K exact steps in a row
  const int64_t k = state.range(0);
  const auto [images, target] = batch(device);
  std::vector<models::LeNet> nets;
  std::vector<std::unique_ptr<torch::optim::Optimizer>> opts;
  std::vector<BatchNormalizer> inputs;
  for (int64_t i = 0; i < k; ++i) {
    const auto v = NormalizationValues::uniform(0.1 * static_cast<double>(i), 0.3 + 0.1 * static_cast<double>(i));
    torch::manual_seed(1998);
    nets.push_back(LeNet::make());
    nets.back()->to(device);
    compensate::Notebook::apply(nets.back()->conv1, v);
    opts.push_back(Adadelta<>::make(nets.back()->parameters()));
    inputs.emplace_back(v, device);
  }
  auto all = [&] {
    for (int64_t i = 0; i < k; ++i) {
      const auto j = static_cast<std::size_t>(i);
      opts[j]->zero_grad();
      LeNet::loss(nets[j]->forward(inputs[j](images)), target).backward();
      opts[j]->step();
    }
  };
  for (int i = 0; i < 2; ++i) all();
  sync(device);
  for (auto _ : state) {
    all();
    sync(device);
  }
  set_step_counters(state, static_cast<double>(state.iterations() * k), kStepFlop);
}

// --- whole trials: K one at a time vs K together ---------------------------------------------------
const data::TrainTest& trial_data() {
  static const data::TrainTest data = [] {
    const char* root = std::getenv("NORMLAB_BENCH_DATA");
    return data::Mnist::load(root ? root : NORMLAB_TEST_DATA_DIR);
  }();
  return data;
}

RunOptions trial_options() {
  RunOptions o;
  o.epochs = env_int("NORMLAB_BENCH_EPOCHS", 1);
  o.threads = env_int("NORMLAB_BENCH_THREADS", 2);
  o.log = nullptr;
  o.progress_bar = false;
  return o;
}

std::vector<NormalizationValues> trial_values(int64_t k) {
  std::vector<NormalizationValues> values;  // spread over the notebook's search space
  for (int64_t i = 0; i < k; ++i)
    values.push_back(NormalizationValues::uniform(-2.0 + 4.0 * static_cast<double>(i) / static_cast<double>(std::max<int64_t>(k - 1, 1)),
                                                  0.15 * std::pow(10.0, static_cast<double>(i % 4) / 3.0)));
  return values;
}

void set_trial_counters(benchmark::State& state, double trials) {
  state.counters["trials_per_hour"] = benchmark::Counter(trials * 3600, benchmark::Counter::kIsRate);
}

template <class Protocol>
void trials_alone(benchmark::State& state) {
  const auto values = trial_values(state.range(0));
  auto options = trial_options();
  for (auto _ : state)
    for (const auto& v : values) {
      options.normalization = v;
      benchmark::DoNotOptimize(Protocol{}.run(options, trial_data()).correct);
    }
  set_trial_counters(state, static_cast<double>(state.iterations()) * static_cast<double>(values.size()));
}

template <class Protocol>
void trials_together(benchmark::State& state, VariantKernels kernels, int workers) {
  const auto values = trial_values(state.range(0));
  const auto options = trial_options();
  VariantOptions more;
  more.kernels = kernels;
  more.workers = workers;
  for (auto _ : state) benchmark::DoNotOptimize(run_variants<Protocol>(options, trial_data(), values, more).size());
  set_trial_counters(state, static_cast<double>(state.iterations()) * static_cast<double>(values.size()));
}

template <class Protocol>
void register_device(const std::string& prefix, torch::Device device) {
  const bool cuda = device.is_cuda();
  auto reg = [&](const std::string& name, auto fn) {
    return benchmark::RegisterBenchmark((prefix + name).c_str(), fn)->Unit(benchmark::kMillisecond)->UseRealTime();
  };
  reg("sgemm", [=](benchmark::State& s) { sgemm(s, device); })->Arg(2048);
  reg("step/exact", [=](benchmark::State& s) { step_exact(s, device); });
  reg("step/bulk_masks", [=](benchmark::State& s) {
    variants_step<Protocol>(s, device, VariantKernels::PerVariant, 1, false);
  })->Arg(1);
  reg("step/fast", [=](benchmark::State& s) {  // what RunOptions::fast runs
    variants_step<Protocol>(s, device, VariantKernels::PerVariant, 1, false, normlab::detail::native_bf16(device));
  })->Arg(1);
  reg("step/channels_last", [=](benchmark::State& s) {  // tried for fast mode: slower here, not used
    variants_step<Protocol>(s, device, VariantKernels::PerVariant, 1, true);
  })->Arg(1);
  for (int64_t k : {int64_t{8}}) {
    reg("variants/alone_xK", [=](benchmark::State& s) { alone_steps(s, device); })->Arg(k);
    reg("variants/grouped", [=](benchmark::State& s) {
      variants_step<Protocol>(s, device, VariantKernels::Grouped, 1, false);
    })->Arg(k);
    reg("variants/per_variant", [=](benchmark::State& s) {
      variants_step<Protocol>(s, device, VariantKernels::PerVariant, 1, false);
    })->Arg(k);
    if (!cuda)
      reg("variants/per_variant_2_workers", [=](benchmark::State& s) {
        variants_step<Protocol>(s, device, VariantKernels::PerVariant, 2, false);
      })->Arg(k);
    reg("trials/one_at_a_time", trials_alone<Protocol>)->Arg(k)->Iterations(1);
    reg("trials/together_grouped", [=](benchmark::State& s) {
      trials_together<Protocol>(s, VariantKernels::Grouped, 1);
    })->Arg(k)->Iterations(1);
    reg("trials/together_per_variant", [=](benchmark::State& s) {
      trials_together<Protocol>(s, VariantKernels::PerVariant, 1);
    })->Arg(k)->Iterations(1);
    if (!cuda)
      reg("trials/together_2_workers", [=](benchmark::State& s) {
        trials_together<Protocol>(s, VariantKernels::PerVariant, 2);
      })->Arg(k)->Iterations(1);
  }
}

// Prints each step's GFLOP/s as a fraction of the same run's sgemm rate, and trial ratios.
class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name != "median") continue;
      const std::string name = run.run_name.str();
      for (const char* key : {"GFLOP_per_s", "trials_per_hour"}) {
        auto it = run.counters.find(key);
        if (it != run.counters.end()) values_[name][key].push_back(it->second.value);
      }
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v.empty() ? 0.0 : v[v.size() / 2];
    };
    std::map<std::string, double> sgemm;
    for (const auto& [name, kv] : values_)
      if (name.find("sgemm") != std::string::npos && kv.count("GFLOP_per_s"))
        sgemm[name.substr(0, name.find('/'))] = median(kv.at("GFLOP_per_s"));
    std::printf("\nsummary (medians of this run)\n");
    for (const auto& [name, kv] : values_) {
      const std::string device = name.substr(0, name.find('/'));
      if (name.find("sgemm") == std::string::npos && kv.count("GFLOP_per_s") && sgemm.count(device))
        std::printf("  %-48s %7.1f GFLOP/s = %5.1f%% of %s sgemm (%.1f GFLOP/s)\n", name.c_str(),
                    median(kv.at("GFLOP_per_s")), 100 * median(kv.at("GFLOP_per_s")) / sgemm[device],
                    device.c_str(), sgemm[device]);
    }
    for (const auto& [name, kv] : values_)
      if (kv.count("trials_per_hour")) std::printf("  %-48s %9.0f trials/hour\n", name.c_str(), median(kv.at("trials_per_hour")));
  }

 private:
  std::map<std::string, std::map<std::string, std::vector<double>>> values_;
};

}  // namespace

int main(int argc, char** argv) {
  torch::set_num_threads(env_int("NORMLAB_BENCH_THREADS", 2));
  device::keep_freed_memory();  // as Pipeline::run does
  benchmark::AddCustomContext("torch_threads", std::to_string(torch::get_num_threads()));
  benchmark::AddCustomContext("libtorch", TORCH_VERSION);
  char flop[64];
  std::snprintf(flop, sizeof flop, "%.4f", kStepFlop * 1e-9);
  benchmark::AddCustomContext("step_gflop", flop);
  register_device<CpuProtocol>("cpu/", torch::kCPU);
  if (torch::cuda::is_available()) register_device<CudaProtocol>("cuda/", torch::Device(torch::kCUDA, 0));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
