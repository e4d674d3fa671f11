// The notebook's MNIST protocol, main(mean, std), as a normlab Pipeline:
// LeNet, Adadelta(lr=1), ReduceLROnPlateau('max') on test accuracy, batch 64 / 1000, seed 1998,
// and the notebook's conv1 compensation unless --compensation says otherwise.
// Its last line is `accuracy=0.XXXX`.

#include <cstdio>
#include <iostream>
#include <normlab/device/openmp.hpp>
#include <normlab/device/cpu_kernels.hpp>
#include <normlab/normlab.hpp>

#include "cli.hpp"

using namespace normlab;

// The device is chosen at run time (--device): device::Named runs where device::Named::use() says.
template <class Compensation>
using SeedProtocol = Pipeline<normalize::Runtime, LeNet, Adadelta<>, ReduceOnPlateau<>, Compensation, device::Named>;

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  cli::Args args("seed_mnist", "Trains the notebook's LeNet protocol once and prints its accuracy.");
  args.flag("data", "data", "data root (torchvision layout: DIR/MNIST/raw, DIR/FashionMNIST/raw)")
      .flag("dataset", "mnist", "mnist | fashion-mnist")
      .flag("mean", "0.1307", "Normalize mean")
      .flag("std", "0.3081", "Normalize std (> 0)")
      .flag("epochs", "25", "training epochs")
      .flag("train-limit", "0", "train on the first K images (0: all)")
      .flag("test-limit", "0", "test on the first K images (0: all)")
      .flag("threads", std::to_string(device::default_threads()), "intra-op threads (default: this machine's cores)")
      .flag("seed", "1998", "torch::manual_seed")
      .flag("compensation", "notebook", "notebook | exact | none")
      .device_flag()
      .flag("batch", "64", "training batch size")
      .flag("test-batch", "1000", "test batch size")
      .flag("show-kernels", "0", "1: print the CPU kernels a run would use (docs/parity.md) and exit")
      .flag("fast", "0", "1: RunOptions::fast (bulk dropout masks, bfloat16 autocast where native; not the notebook's numbers)");
  args.parse(argc, argv);
  device::Named::use(device::parse(args.text("device")));  // refused before any work when unusable

  RunOptions options;
  options.data_root = args.text("data");
  options.epochs = args.int_flag("epochs", 1);
  options.train_limit = args.integer("train-limit", 0, LLONG_MAX);
  options.test_limit = args.integer("test-limit", 0, LLONG_MAX);
  options.threads = args.int_flag("threads", 0, 4096);
  options.seed = static_cast<uint64_t>(args.integer("seed"));
  options.train_batch = args.integer("batch", 1, INT_MAX);
  options.test_batch = args.integer("test-batch", 1, INT_MAX);
  options.fast = args.boolean("fast");
  options.normalization = NormalizationValues::uniform(args.number("mean"), args.number("std"));
  options.normalization->validate();

  // The kernels decide the last bits of the result: printed so that a run can be reproduced.
  device::set_threads(options.threads);
  const auto kernels = device::cpu_kernels();
  const char* wait_policy = std::getenv("OMP_WAIT_POLICY");
  std::printf("kernels: openblas_core=%s aten_capability=%s threads=%d libtorch=%s cpu=\"%s\" omp_wait_policy=%s\n",
              kernels.openblas_core.c_str(), kernels.aten_capability.c_str(), kernels.threads,
              kernels.libtorch.c_str(), device::cpu_model().c_str(), wait_policy ? wait_policy : "libgomp-default");
  std::fflush(stdout);
  if (args.text("show-kernels") != "0") return 0;

  const auto data = data::load_by_name(args.text("dataset"), options.data_root);
  std::cerr << "seed_mnist: " << args.text("dataset") << " (" << data.train.size() << " train / "
            << data.test.size() << " test images in " << options.data_root.string() << "), "
            << options.normalization->to_string() << ", compensation "
            << args.text("compensation") << ", " << options.epochs << " epoch(s), "
            << options.threads << " thread(s), device " << device::Named::select().str()
            << (options.fast ? ", fast mode" : "") << "\n";

  const auto& compensation = args.text("compensation");
  RunResult result;
  if (compensation == "notebook") result = SeedProtocol<compensate::Notebook>{}.run(options, data);
  else if (compensation == "exact") result = SeedProtocol<compensate::Exact>{}.run(options, data);
  else if (compensation == "none") result = SeedProtocol<compensate::None>{}.run(options, data);
  else throw std::invalid_argument("--compensation expects notebook, exact or none (got '" + compensation + "')");

  std::printf("correct=%lld total=%lld seconds=%.2f\n", static_cast<long long>(result.correct),
              static_cast<long long>(result.total), result.seconds);
  std::printf("accuracy=%.4f\n", result.accuracy);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "seed_mnist: error: " << e.what() << "\n";
  return 1;
}
