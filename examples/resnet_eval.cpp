// The notebook's ImageNet protocol: a ResNet with pretrained weights (a torch.save'd state_dict)
// evaluated on an ImageFolder after Resize(256) -> ToTensor -> CenterCrop(224) -> Normalize((m,m,m),
// (s,s,s)), with the chosen conv1 compensation; optionally fine-tuned for N epochs first.
// Last line: `accuracy=0.XXXX`.

#include <cstdio>
#include <iostream>
#include <normlab/device/openmp.hpp>
#include <normlab/normlab.hpp>
#include <normlab/train/image_protocol.hpp>

#include "cli.hpp"

using namespace normlab;

// The device is chosen at run time (--device): device::Named runs where device::Named::use() says.
// run_image_protocol writes one line of what it loaded (model, parameters, classes, folder,
// normalization, device) and, when the weights' classes differ from the folder's, a warning.
template <class Model>
ImageRunResult run_with(const std::string& compensation, const ImageRunOptions& o, const NormalizationValues& v) {
  if (compensation == "notebook") return run_image_protocol<Model, compensate::Notebook, device::Named>(o, v);
  if (compensation == "exact") return run_image_protocol<Model, compensate::Exact, device::Named>(o, v);
  if (compensation == "none") return run_image_protocol<Model, compensate::None, device::Named>(o, v);
  throw std::invalid_argument("--compensation expects notebook, exact or none (got '" + compensation + "')");
}

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  cli::Args args("resnet_eval", "The notebook's ResNet protocol on an ImageFolder: accuracy for one (mean, std).");
  args.flag("data", "", "an ImageFolder (one sub-folder per class), or a folder holding train/ and val/ ones")
      .flag("weights", "", "a state_dict saved by torch.save (scripts/convert_legacy_checkpoint.py for old files); empty: seeded init")
      .flag("arch", "resnet18", "resnet18 | resnet34 | resnet50")
      .flag("mean", "0", "Normalize mean, on all three channels")
      .flag("std", "1", "Normalize std, on all three channels (> 0)")
      .flag("compensation", "notebook", "notebook (conv1.weight /= std) | exact | none")
      .flag("epochs", "0", "fine-tuning epochs on DATA/train before the test (0: the notebook's evaluation only)")
      .flag("batch", "64", "training batch size")
      .flag("test-batch", "1000", "test batch size")
      .flag("workers", "2", "decoding threads")
      .flag("limit", "0", "test on the first K images (0: all)")
      .flag("classes", "0", "output classes (0: from the weights, else the folder)")
      .flag("skip-corrupt", "0", "1: skip unreadable images (counted) instead of stopping")
      .flag("threads", std::to_string(device::default_threads()), "intra-op threads (default: this machine's cores)")
      .flag("seed", "1998", "torch::manual_seed")
      .device_flag()
      .flag("predictions", "", "FILE.csv: one row per image: path, true class, predicted class, logits");
  args.parse(argc, argv);
  device::Named::use(device::parse(args.text("device")));  // refused before any work when unusable
  if (args.text("data").empty()) throw std::invalid_argument("--data DIR is required (see --help)");

  ImageRunOptions o;
  o.data = args.text("data");
  o.weights = args.text("weights");
  o.epochs = args.int_flag("epochs");
  o.train_batch = args.integer("batch", 1, INT_MAX);
  o.test_batch = args.integer("test-batch", 1, INT_MAX);
  o.workers = args.integer("workers", 0, 1024);
  o.limit = args.integer("limit", 0, LLONG_MAX);
  o.classes = args.integer("classes", 0, INT_MAX);
  o.skip_corrupt = args.boolean("skip-corrupt");
  o.threads = args.int_flag("threads", 0, 4096);
  o.seed = static_cast<uint64_t>(args.integer("seed"));
  o.predictions = args.text("predictions");
  const auto v = NormalizationValues{{args.number("mean"), args.number("mean"), args.number("mean")},
                                     {args.number("std"), args.number("std"), args.number("std")}};
  v.validate();

  const auto& arch = args.text("arch");
  ImageRunResult r;
  if (arch == "resnet18") r = run_with<ResNet18>(args.text("compensation"), o, v);
  else if (arch == "resnet34") r = run_with<ResNet34>(args.text("compensation"), o, v);
  else if (arch == "resnet50") r = run_with<ResNet50>(args.text("compensation"), o, v);
  else throw std::invalid_argument("--arch expects resnet18, resnet34 or resnet50 (got '" + arch + "')");

  if (r.skipped) std::fprintf(stderr, "resnet_eval: skipped %lld unreadable image(s)\n", static_cast<long long>(r.skipped));
  std::printf("correct=%lld total=%lld seconds=%.2f\n", static_cast<long long>(r.correct),
              static_cast<long long>(r.total), r.seconds);
  std::printf("accuracy=%.4f\n", r.accuracy);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "resnet_eval: error: " << e.what() << "\n";
  return 1;
}
