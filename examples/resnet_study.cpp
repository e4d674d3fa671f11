// The notebook's ResNet study: a TPE search over (mean, std) — std log-uniform in [0.1, 10] as in
// the notebook — of the ImageNet protocol (pretrained ResNet, its conv1 compensation, test
// accuracy), stored in SQLite in Optuna's format and drawn as a contour plot. Each trial is the
// library's ImageProtocol Pipeline (run_images); the test images are decoded and transformed once,
// so an evaluation-only trial costs only the network's forward passes.
// `--profile notebook`: 100 trials on the whole folder.

#include <cstdio>
#include <iostream>
#include <memory>
#include <normlab/device/openmp.hpp>
#include <normlab/normalization_study.hpp>
#include <normlab/normlab.hpp>
#include <normlab/train/image_protocol.hpp>

#include "cli.hpp"
#include "study_report.hpp"

using namespace normlab;

using ResNetSpace = search::Space<search::Uniform<"mean", -3.0, 3.0>, search::LogUniform<"std", 0.1, 10.0>>;

namespace {

/// One trial: the notebook's protocol as a Pipeline (ImageProtocol: the model with its weights, the
/// trial's compensation, fine-tuning epochs if any, the test accuracy) on the test images decoded
/// once for every trial; an evaluation-only trial costs only the network's forward passes.
template <class Model, class Compensation>
std::function<double(study::Trial&)> objective(const ImageRunOptions& o, std::shared_ptr<const PreparedImages> test) {
  return [o, test](study::Trial& trial) {
    const auto p = ResNetSpace::suggest(trial);
    const NormalizationValues v{{p.at("mean"), p.at("mean"), p.at("mean")}, {p.at("std"), p.at("std"), p.at("std")}};
    auto run = o;
    run.log = nullptr;
    const auto r = ImageProtocol<Model, Compensation, device::Named>{}.run_images(run, v, test.get());
    trial.set_user_attr("correct", r.correct);
    if (o.epochs == 0) trial.set_user_attr("total", r.total);
    return r.accuracy;
  };
}

/// What the trials load, in one line (mean and std are the trials'), and the class-count warning.
template <class Model, class Compensation>
void print_summary(const ImageRunOptions& o, const PreparedImages& test, int64_t classes,
                   const std::filesystem::path& folder) {
  auto net = Model::make(classes);
  if (!o.weights.empty()) load_state_dict(net, o.weights.string());  // a bad file stops the study here
  const auto summary = summarize_image_run<Model, Compensation>(net, classes, o, folder, test, std::nullopt,
                                                                device::Named::select());
  print_image_run_summary(summary, &std::cerr, "resnet_study: ");
}

template <class Model>
std::function<double(study::Trial&)> objective_for(const std::string& compensation, const ImageRunOptions& o,
                                                   std::shared_ptr<const PreparedImages> test, int64_t classes,
                                                   const std::filesystem::path& folder) {
  auto with = [&]<class Compensation>() {
    print_summary<Model, Compensation>(o, *test, classes, folder);
    return objective<Model, Compensation>(o, test);
  };
  if (compensation == "notebook") return with.template operator()<compensate::Notebook>();
  if (compensation == "exact") return with.template operator()<compensate::Exact>();
  if (compensation == "none") return with.template operator()<compensate::None>();
  throw std::invalid_argument("--compensation expects notebook, exact or none (got '" + compensation + "')");
}

}  // namespace

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  cli::Args args("resnet_study", "The notebook's (mean, std) study of a pretrained ResNet on an ImageFolder.");
  args.flag("profile", "quick", "quick (defaults below) | notebook (100 trials, all images); flags given on the command line win over the profile")
      .flag("data", "", "an ImageFolder, or a folder holding train/ and val/ ones")
      .flag("weights", "", "a state_dict saved by torch.save; empty: seeded init")
      .flag("arch", "resnet18", "resnet18 | resnet34 | resnet50")
      .flag("compensation", "notebook", "notebook (conv1.weight /= std) | exact | none")
      .flag("epochs", "0", "fine-tuning epochs per trial (0: the notebook's evaluation only)")
      .flag("trials", "12", "trials to run in this invocation")
      .flag("max-trials", "0", "stop once the study has this many complete trials (0: no cap)")
      .flag("limit", "200", "test on the first K images (0: all)")
      .flag("test-batch", "250", "test batch size")
      .flag("workers", "2", "decoding threads")
      .flag("classes", "0", "output classes (0: from the weights, else the folder)")
      .flag("threads", std::to_string(device::default_threads()), "intra-op threads (default: this machine's cores)")
      .flag("storage", "sqlite:///optuna-ResNet.sqlite3", "sqlite:///FILE, or :memory:")
      .flag("study-name", "ResNet", "study name (resumed when it exists)")
      .flag("sampler", "tpe", "tpe | random | grid | qmc")
      .flag("seed", "1998", "sampler seed and torch::manual_seed")
      .device_flag()
      .flag("plot", "", "FILE.svg: contour of accuracy over (mean, std), plus FILE.png and the history")
      .flag("plot-size", "", "--plot's size: WxH pixels (1050x788) or inches (3.5x2.625in); default 6.4x4.8in")
      .flag("plot-dpi", "100", "--plot's dots per inch: the PNG's pixels per inch (text and lines are in points)")
      .flag("csv", "", "FILE.csv: every trial");
  args.parse(argc, argv);
  device::Named::use(device::parse(args.text("device")));  // refused before any work when unusable
  if (args.text("data").empty()) throw std::invalid_argument("--data DIR is required (see --help)");
  const bool notebook = args.text("profile") == "notebook";
  if (!notebook && args.text("profile") != "quick") throw std::invalid_argument("--profile expects quick or notebook");

  ImageRunOptions o;
  o.data = args.text("data");
  o.weights = args.text("weights");
  o.epochs = args.int_flag("epochs");
  // A profile fills in only the flags not given on the command line, as in mnist_study.
  o.limit = notebook && !args.given("limit") ? 0 : args.integer("limit", 0, LLONG_MAX);
  o.test_batch = args.integer("test-batch", 1, INT_MAX);
  o.workers = args.integer("workers", 0, 1024);
  o.threads = args.int_flag("threads", 0, 4096);
  o.seed = static_cast<uint64_t>(args.integer("seed"));
  device::set_threads(o.threads);
  device::keep_freed_memory();
  const int trials = notebook && !args.given("trials") ? 100 : args.int_flag("trials");
  const int max_trials = args.int_flag("max-trials");  // checked before any work
  const int64_t classes_flag = args.integer("classes", 0, INT_MAX);

  const auto folders = ImageFolders::find(o.data);
  auto test = std::make_shared<const PreparedImages>(prepare_images(folders.val, o.limit, o.workers, false));
  o.classes = classes_flag;
  const int64_t classes = image_run_classes(o, *test);

  study::StudyOptions options;
  options.name = args.text("study-name");
  options.storage_url = args.text("storage");
  options.direction = study::StudyDirection::Maximize;
  auto s = study::Study::create(options, search::make_sampler(args.text("sampler"), o.seed));
  record_kernels(s, device::cpu_kernels(), device::Named::select().str());  // the study records the device
  std::fprintf(stderr, "resnet_study: study '%s' in %s: %zu trial(s) so far; running %d more (%s, %lld test images, %d epoch(s) per trial)\n",
               options.name.c_str(), options.storage_url.c_str(), s.trials().size(), trials, args.text("arch").c_str(),
               static_cast<long long>(test->set.size()), o.epochs);

  std::function<double(study::Trial&)> f;
  const auto& arch = args.text("arch");
  if (arch == "resnet18") f = objective_for<ResNet18>(args.text("compensation"), o, test, classes, folders.val);
  else if (arch == "resnet34") f = objective_for<ResNet34>(args.text("compensation"), o, test, classes, folders.val);
  else if (arch == "resnet50") f = objective_for<ResNet50>(args.text("compensation"), o, test, classes, folders.val);
  else throw std::invalid_argument("--arch expects resnet18, resnet34 or resnet50 (got '" + arch + "')");

  study::OptimizeOptions run;
  if (max_trials > 0) run.max_trials = max_trials;
  run.callbacks.push_back(report::progress_line(trials));
  s.optimize(f, trials, run);

  report::summarize(s);
  if (!args.text("csv").empty()) s.export_csv(args.text("csv"));
  if (!args.text("plot").empty()) report::write_plots(s, args.text("plot"), "Accuracy", report::plot_size(args.text("plot-size"), args.number("plot-dpi")));
  return 0;
} catch (const Interrupted& e) {
  std::cerr << "resnet_study: " << e.what() << ": the running trial was recorded as FAIL and queued again; "
               "run the same command to continue the study\n";
  return e.exit_code();
} catch (const std::exception& e) {
  std::cerr << "resnet_study: error: " << e.what() << "\n";
  return 1;
}
