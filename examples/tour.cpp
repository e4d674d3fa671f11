// A tour of normlab in one program (docs/README.md): composing a Pipeline, compile-time and
// run-time normalization, the exact conv1 compensation, folding a Normalize into a trained net, and
// the errors for an invalid (mean, std) and for run-time values that contradict a compile-time
// Normalize. Small subsets, one epoch: a few seconds on a CPU.
// Prints each check; exits 1 when one fails.

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <normlab/device/openmp.hpp>
#include <normlab/normlab.hpp>
#include <type_traits>

using namespace normlab;

// The tour stays on the CPU (device::Cpu, no --device flag): its checks compare runs bit for bit
// and take seconds there; the programs that train for real take --device (seed_mnist, mnist_study,
// resnet_eval, resnet_study; device::Named picks the device at run time).

// 1. Policies are found by kind, in any order; missing slots take their defaults.
using Seed = Pipeline<Normalize<0.1307, 0.3081>, LeNet, device::Cpu>;
using Reordered = Pipeline<device::Cpu, compensate::Exact, LeNet, StepLr<1, 0.7>, Normalize<0.1307, 0.3081>>;
using FromRunOptions = Pipeline<normalize::Runtime, LeNet, device::Cpu>;
static_assert(std::is_same_v<Seed::compensation_t, compensate::Notebook>);  // default
static_assert(std::is_same_v<Seed::optimizer_t, Adadelta<>>);                // default
static_assert(std::is_same_v<Seed::dataset_t, data::Mnist>);                 // default
static_assert(std::is_same_v<Reordered::compensation_t, compensate::Exact>);
static_assert(std::is_same_v<Reordered::normalization_t, Seed::normalization_t>);
static_assert(std::is_same_v<Reordered::scheduler_t, StepLr<1, 0.7>>);
// Pipeline<Adadelta<>> (no Model) or Normalize<0.1307, 0.0> would not compile (docs/pipeline.md).

namespace {
int failures = 0;
void check(bool ok, const std::string& what) {
  std::cout << (ok ? "  ok    " : "  FAIL  ") << what << "\n";
  failures += !ok;
}
double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}
}  // namespace

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  CLI::App app{"Walks through normlab's concepts on a small MNIST subset.", "tour"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: the last wins
  std::string data_root = "tests/data";
  app.add_option("--data", data_root, "data root holding MNIST/raw (the committed fixture works)")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  }
  std::cout << "1. Pipeline slots resolved at compile time (static_asserts above)\n";
  const auto data = data::Mnist::load(data_root);
  const torch::Device cpu(torch::kCPU);
  const auto v = Normalize<0.1307, 0.3081>::values();  // {0.1307}, {0.3081}

  RunOptions options;
  options.epochs = 1;
  options.train_limit = 512;
  options.test_limit = 500;
  options.threads = 2;
  options.log = nullptr;  // silent; &std::cerr prints one line per epoch

  std::cout << "2. compile-time Normalize vs the same values at run time (" << v.to_string() << ")\n";
  const auto fixed = Seed{}.run(options, data);
  options.normalization = v;
  const auto runtime = FromRunOptions{}.run(options, data);
  std::printf("  compile time: %lld/%lld correct, run time: %lld/%lld\n", (long long)fixed.correct,
              (long long)fixed.total, (long long)runtime.correct, (long long)runtime.total);
  check(fixed.correct == runtime.correct && fixed.history[0].train_loss == runtime.history[0].train_loss,
        "same correct count and same training loss");

  std::cout << "3. compensate::Exact keeps conv1's output; the notebook's form does not\n";
  const auto raw = data.test.images.narrow(0, 0, 64);  // uint8 [64, 1, 28, 28]
  BatchNormalizer normalize(v, cpu);
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(1998);
    auto exact = LeNet::make(), notebook = LeNet::make();
    notebook->conv1->weight.copy_(exact->conv1->weight);
    notebook->conv1->bias.copy_(exact->conv1->bias);
    const auto before = exact->conv1(raw.to(torch::kFloat32).div(255));  // conv1 on ToTensor() only
    compensate::Exact::apply(exact->conv1, v);
    compensate::Notebook::apply(notebook->conv1, v);
    const double e = max_abs_diff(before, exact->conv1(normalize(raw)));
    const double n = max_abs_diff(before, notebook->conv1(normalize(raw)));
    std::printf("  max |change| of conv1's output: Exact %.3g, Notebook %.3g\n", e, n);
    check(e < 1e-5, "Exact: conv1(normalize(x)) == conv1_before(x)");
  }

  std::cout << "4. the building blocks, then fold_normalization on the trained net\n";
  torch::manual_seed(options.seed);  // the Pipeline's order: seed, model, compensation, optimizer
  auto net = LeNet::make();
  compensate::Notebook::apply(LeNet::first_conv(net), v);
  auto opt = Adadelta<>::make(net->parameters());
  const auto train = data.train.first(options.train_limit), test = data.test.first(options.test_limit);
  Progress quiet(nullptr, false);
  train_epoch<LeNet>(net, *opt, train, normalize, options.train_batch, false, 0, quiet, 1, 1);
  const auto trained = test_epoch<LeNet>(net, test, normalize, options.test_batch, false);
  check(trained.correct == fixed.correct, "train_epoch + test_epoch reproduce Pipeline::run (" +
                                              std::to_string(trained.correct) + " correct)");
  net->eval();
  torch::NoGradGuard no_grad;
  const auto before = net->forward(normalize(test.images)).clone();  // normalize() reuses its buffer
  fold_normalization(net, v);  // conv1 now takes ToTensor()'s x / 255 directly
  BatchNormalizer only_to_tensor(normalize::Identity::values(), cpu, /*identity=*/true);
  const auto after = net->forward(only_to_tensor(test.images));
  const auto changed = before.argmax(1).ne(after.argmax(1)).sum().item<int64_t>();
  std::printf("  max |change| of the log-probabilities: %.3g; predictions changed: %lld of %lld\n",
              max_abs_diff(before, after), (long long)changed, (long long)test.size());
  check(changed == 0 && max_abs_diff(before, after) < 1e-4, "folded net on raw input == net on normalized input");

  std::cout << "5. an invalid (mean, std) is refused before any work\n";
  options.normalization = NormalizationValues::uniform(0.1307, 0.0);
  try {
    FromRunOptions{}.run(options, data);
    check(false, "std = 0 refused");
  } catch (const std::invalid_argument& e) {
    std::cout << "  caught: " << e.what() << "\n";
    check(std::string(e.what()).find("std = 0") != std::string::npos, "std = 0 refused, naming the value");
  }

  std::cout << "6. run-time values never override a compile-time Normalize (docs/pipeline.md)\n";
  options.normalization = NormalizationValues::uniform(0.0, 1.0);
  try {
    Seed{}.run(options, data);
    check(false, "different run-time values refused");
  } catch (const std::invalid_argument& e) {
    std::cout << "  caught: " << e.what() << "\n";
    check(std::string(e.what()).find("(mean=0 std=1) differs from the Pipeline's compile-time Normalize "
                                     "(mean=0.1307 std=0.3081)") != std::string::npos,
          "different run-time values refused, naming both");
  }

  std::cout << (failures ? "tour: " + std::to_string(failures) + " check(s) FAILED\n" : "tour: all checks passed\n");
  return failures ? 1 : 0;
} catch (const std::exception& e) {
  std::cerr << "tour: error: " << e.what() << "\n";
  return 1;
}
