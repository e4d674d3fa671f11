// The notebook's MNIST protocol, main(mean, std), as a normlab Pipeline:
// LeNet, Adadelta(lr=1), ReduceLROnPlateau('max') on test accuracy, batch 64 / 1000, seed 1998,
// and the notebook's conv1 compensation unless --compensation says otherwise.
// Its last line is `accuracy=0.XXXX`.

#include <cstdio>
#include <iostream>
#include <normlab/device/cpu_kernels.hpp>
#include <normlab/device/openmp.hpp>
#include <normlab/cli/run_flags.hpp>
#include <normlab/choose.hpp>
#include <normlab/pipeline.hpp>

using namespace normlab;

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  CLI::App app{"Trains the notebook's LeNet protocol once and prints its accuracy.", "seed_mnist"};
  RunOptions options;
  options.epochs = 25;
  cli::RunFlags run;
  cli::add_run_flags(app, options, run);
  double mean = 0.1307, std = 0.3081;
  int show_kernels = 0, fast = 0;
  app.add_option("--mean", mean, "Normalize mean")->check(cli::finite);
  app.add_option("--std", std, "Normalize std (> 0)")->check(cli::finite);
  app.add_option("--show-kernels", show_kernels, "1: print the CPU kernels a run would use (docs/parity.md) and exit")->check(CLI::Range(0, 1));
  app.add_option("--fast", fast, "1: RunOptions::fast (bulk dropout masks, bfloat16 autocast where native; not the "
                 "notebook's numbers)")->check(CLI::Range(0, 1));
  if (auto exit = cli::parse(app, argc, argv)) return *exit;
  cli::apply(run, options);
  options.fast = fast;
  options.normalization = NormalizationValues::uniform(mean, std);
  options.normalization->validate();  // before the data is read

  // The kernels decide the last bits of the result: printed so that a run can be reproduced.
  device::set_threads(options.threads);
  std::printf("%s\n", device::kernels_line().c_str());
  std::fflush(stdout);
  if (show_kernels) return 0;

  const auto data = data::load_by_name(run.dataset, options.data_root);
  std::cerr << "seed_mnist: " << run.dataset << " (" << data.train.size() << " train / " << data.test.size()
            << " test images in " << run.data_root << "), " << options.normalization->to_string() << ", compensation "
            << run.compensation << ", " << options.epochs << " epoch(s), " << options.threads << " thread(s), device "
            << device::Named::select().str() << (options.fast ? ", fast mode" : "") << "\n";

  const auto result = choose<compensate::Notebook, compensate::Exact, compensate::None>(
      run.compensation, [&]<class C>(std::type_identity<C>) {
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
