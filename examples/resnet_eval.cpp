// The notebook's ImageNet protocol: a ResNet with pretrained weights (a torch.save'd state_dict)
// evaluated on an ImageFolder after Resize(256) -> ToTensor -> CenterCrop(224) -> Normalize((m,m,m),
// (s,s,s)), with the chosen conv1 compensation; optionally fine-tuned for N epochs first.
// Last line: `accuracy=0.XXXX`.

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdio>
#include <iostream>
#include <normlab/device/openmp.hpp>
#include <normlab/normlab.hpp>
#include <normlab/train/image_protocol.hpp>

#include <normlab/cli/run_flags.hpp>

using namespace normlab;

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  CLI::App app{"The notebook's ResNet protocol on an ImageFolder: accuracy for one (mean, std).", "resnet_eval"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: the last wins
  ImageRunOptions o;
  o.threads = device::default_threads();
  std::string data, weights, arch = "resnet18", compensation = "notebook", device_name = "auto", predictions;
  double mean = 0, std = 1;
  int skip_corrupt = 0;
  app.add_option("--data", data, "an ImageFolder (one sub-folder per class), or a folder holding train/ and val/ ones")->required();
  app.add_option("--weights", weights, "a state_dict saved by torch.save (scripts/convert_legacy_checkpoint.py for old files); empty: seeded init");
  app.add_option("--arch", arch, "the ResNet")->check(CLI::IsMember(policy_name_list<ResNet18, ResNet34, ResNet50>()));
  app.add_option("--mean", mean, "Normalize mean, on all three channels")->check(cli::finite);
  app.add_option("--std", std, "Normalize std, on all three channels (> 0)")->check(cli::finite);
  app.add_option("--compensation", compensation, "notebook (conv1.weight /= std), exact or none")
      ->check(CLI::IsMember(policy_name_list<compensate::Notebook, compensate::Exact, compensate::None>()));
  app.add_option("--epochs", o.epochs, "fine-tuning epochs on DATA/train before the test (0: the notebook's evaluation only)")->check(CLI::Range(0, INT_MAX));
  app.add_option("--batch", o.train_batch, "training batch size")->check(CLI::Range(int64_t{1}, int64_t{INT_MAX}));
  app.add_option("--test-batch", o.test_batch, "test batch size")->check(CLI::Range(int64_t{1}, int64_t{INT_MAX}));
  app.add_option("--workers", o.workers, "decoding threads")->check(CLI::Range(0, 1024));
  app.add_option("--limit", o.limit, "test on the first K images (0: all)")->check(CLI::Range(0LL, LLONG_MAX));
  app.add_option("--classes", o.classes, "output classes (0: from the weights, else the folder)")->check(CLI::Range(int64_t{0}, int64_t{INT_MAX}));
  app.add_option("--skip-corrupt", skip_corrupt, "1: skip unreadable images (counted) instead of stopping")->check(CLI::Range(0, 1));
  app.add_option("--threads", o.threads, "intra-op threads (default: this machine's cores)")->check(CLI::Range(0, 4096));
  app.add_option("--seed", o.seed, "torch::manual_seed");
  app.add_option("--device", device_name, "cpu | cuda | cuda:N | auto (cuda:0 when a GPU is visible, else cpu)");
  app.add_option("--predictions", predictions, "FILE.csv: one row per image: path, true class, predicted class, logits");
  for (auto* opt : app.get_options()) opt->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  }
  device::Named::use(device::parse(device_name));  // refused before any work when unusable
  o.data = data, o.weights = weights, o.predictions = predictions, o.skip_corrupt = skip_corrupt;
  const auto v = NormalizationValues{{mean, mean, mean}, {std, std, std}};
  v.validate();

  // run_image_protocol writes one line of what it loaded (model, parameters, classes, folder,
  // normalization, device) and, when the weights' classes differ from the folder's, a warning.
  const auto r = choose<ResNet18, ResNet34, ResNet50>(arch, [&]<class Model>(std::type_identity<Model>) {
    return choose<compensate::Notebook, compensate::Exact, compensate::None>(compensation, [&]<class C>(std::type_identity<C>) {
      return run_image_protocol<Model, C, device::Named>(o, v);
    }, "--compensation");
  }, "--arch");

  if (r.skipped) std::fprintf(stderr, "resnet_eval: skipped %lld unreadable image(s)\n", static_cast<long long>(r.skipped));
  std::printf("correct=%lld total=%lld seconds=%.2f\n", static_cast<long long>(r.correct),
              static_cast<long long>(r.total), r.seconds);
  std::printf("accuracy=%.4f\n", r.accuracy);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "resnet_eval: error: " << e.what() << "\n";
  return 1;
}
