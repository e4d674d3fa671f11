// The notebook's MNIST protocol, main(mean, std), as a normlab Pipeline:
// LeNet, Adadelta(lr=1), ReduceLROnPlateau('max') on test accuracy, batch 64 / 1000, seed 1998,
// and the notebook's conv1 compensation unless --compensation says otherwise.
// Its last line is `accuracy=0.XXXX`.

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdio>
#include <iostream>
#include <normlab/device/cpu_kernels.hpp>
#include <normlab/device/openmp.hpp>
#include <normlab/normlab.hpp>

#include "flags.hpp"

using namespace normlab;

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  CLI::App app{"Trains the notebook's LeNet protocol once and prints its accuracy.", "seed_mnist"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: the last wins
  RunOptions options;
  options.epochs = 25;
  options.threads = device::default_threads();
  std::string data_root = "data", dataset = "mnist", compensation = "notebook", device_name = "auto";
  double mean = 0.1307, std = 0.3081;
  int show_kernels = 0, fast = 0;
  app.add_option("--data", data_root, "data root (torchvision layout: DIR/MNIST/raw, DIR/FashionMNIST/raw)");
  app.add_option("--dataset", dataset, "which data set")->check(CLI::IsMember(policy_name_list<data::Mnist, data::FashionMnist>()));
  app.add_option("--mean", mean, "Normalize mean")->check(flags::finite);
  app.add_option("--std", std, "Normalize std (> 0)")->check(flags::finite);
  app.add_option("--epochs", options.epochs, "training epochs")->check(CLI::Range(1, INT_MAX));
  app.add_option("--train-limit", options.train_limit, "train on the first K images (0: all)")->check(CLI::Range(0LL, LLONG_MAX));
  app.add_option("--test-limit", options.test_limit, "test on the first K images (0: all)")->check(CLI::Range(0LL, LLONG_MAX));
  app.add_option("--threads", options.threads, "intra-op threads (default: this machine's cores)")->check(CLI::Range(0, 4096));
  app.add_option("--seed", options.seed, "torch::manual_seed");
  app.add_option("--compensation", compensation, "how conv1 is compensated")
      ->check(CLI::IsMember(policy_name_list<compensate::Notebook, compensate::Exact, compensate::None>()));
  app.add_option("--device", device_name, "cpu | cuda | cuda:N | auto (cuda:0 when a GPU is visible, else cpu)");
  app.add_option("--batch", options.train_batch, "training batch size")->check(CLI::Range(int64_t{1}, int64_t{INT_MAX}));
  app.add_option("--test-batch", options.test_batch, "test batch size")->check(CLI::Range(int64_t{1}, int64_t{INT_MAX}));
  app.add_option("--show-kernels", show_kernels, "1: print the CPU kernels a run would use (docs/parity.md) and exit")->check(CLI::Range(0, 1));
  app.add_option("--fast", fast, "1: RunOptions::fast (bulk dropout masks, bfloat16 autocast where native; not the notebook's numbers)")->check(CLI::Range(0, 1));
  app.get_formatter()->column_width(36);
  for (auto* o : app.get_options()) o->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  }
  device::Named::use(device::parse(device_name));  // refused before any work when unusable
  options.data_root = data_root;
  options.fast = fast;
  options.normalization = NormalizationValues::uniform(mean, std);
  options.normalization->validate();  // before the data is read

  // The kernels decide the last bits of the result: printed so that a run can be reproduced.
  device::set_threads(options.threads);
  std::printf("%s\n", device::kernels_line().c_str());
  std::fflush(stdout);
  if (show_kernels) return 0;

  const auto data = data::load_by_name(dataset, options.data_root);
  std::cerr << "seed_mnist: " << dataset << " (" << data.train.size() << " train / " << data.test.size()
            << " test images in " << data_root << "), " << options.normalization->to_string() << ", compensation "
            << compensation << ", " << options.epochs << " epoch(s), " << options.threads << " thread(s), device "
            << device::Named::select().str() << (options.fast ? ", fast mode" : "") << "\n";

  const auto result = choose<compensate::Notebook, compensate::Exact, compensate::None>(
      compensation, [&]<class C>(std::type_identity<C>) {
        return Pipeline<normalize::Runtime, LeNet, C, device::Named>{}.run(options, data);
      }, "--compensation");
  std::printf("correct=%lld total=%lld seconds=%.2f\n", static_cast<long long>(result.correct),
              static_cast<long long>(result.total), result.seconds);
  std::printf("accuracy=%.4f\n", result.accuracy);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "seed_mnist: error: " << e.what() << "\n";
  return 1;
}
