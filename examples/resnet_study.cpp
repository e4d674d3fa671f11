// The notebook's ResNet study: a TPE search over (mean, std) — std log-uniform in [0.1, 10] as in
// the notebook — of the ImageNet protocol (pretrained ResNet, its conv1 compensation, test
// accuracy), stored in SQLite in Optuna's format and drawn as a contour plot. Each trial is the
// library's ImageProtocol Pipeline (run_images); the test images are decoded and transformed once,
// so an evaluation-only trial costs only the network's forward passes.
// `--profile notebook`: 100 trials on the whole folder.

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdio>
#include <iostream>
#include <memory>
#include <normlab/device/openmp.hpp>
#include <normlab/normalization_study.hpp>
#include <normlab/normlab.hpp>
#include <normlab/report/study_plots.hpp>
#include <normlab/report/study_summary.hpp>
#include <normlab/report/trial_progress.hpp>
#include <normlab/train/image_protocol.hpp>

#include <normlab/cli/study_flags.hpp>

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

}  // namespace

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  CLI::App app{"The notebook's (mean, std) study of a pretrained ResNet on an ImageFolder.", "resnet_study"};
  ImageRunOptions o;
  o.limit = 200, o.test_batch = 250, o.threads = device::default_threads();
  std::string profile = "quick", data, weights, arch = "resnet18", compensation = "notebook", device_name = "auto";
  cli::StudyFlags s_flags;
  s_flags.study.name = "ResNet", s_flags.study.storage_url = "sqlite:///optuna-ResNet.sqlite3", s_flags.trials = 12;
  cli::add_study_flags(app, s_flags);
  app.add_option("--profile", profile, "quick (defaults below) | notebook (100 trials, all images); flags given on "
                 "the command line win over the profile")->check(CLI::IsMember({"quick", "notebook"}));
  app.add_option("--data", data, "an ImageFolder, or a folder holding train/ and val/ ones")->required();
  app.add_option("--weights", weights, "a state_dict saved by torch.save; empty: seeded init");
  app.add_option("--arch", arch, "the ResNet")->check(CLI::IsMember(policy_name_list<ResNet18, ResNet34, ResNet50>()));
  app.add_option("--compensation", compensation, "notebook (conv1.weight /= std), exact or none")
      ->check(CLI::IsMember(policy_name_list<compensate::Notebook, compensate::Exact, compensate::None>()));
  app.add_option("--epochs", o.epochs, "fine-tuning epochs per trial (0: the notebook's evaluation only)")->check(CLI::Range(0, INT_MAX));
  app.add_option("--limit", o.limit, "test on the first K images (0: all)")->check(CLI::Range(0LL, LLONG_MAX));
  app.add_option("--test-batch", o.test_batch, "test batch size")->check(CLI::Range(int64_t{1}, int64_t{INT_MAX}));
  app.add_option("--workers", o.workers, "decoding threads")->check(CLI::Range(0, 1024));
  app.add_option("--classes", o.classes, "output classes (0: from the weights, else the folder)")->check(CLI::Range(int64_t{0}, int64_t{INT_MAX}));
  app.add_option("--threads", o.threads, "intra-op threads (default: this machine's cores)")->check(CLI::Range(0, 4096));
  app.add_option("--seed", o.seed, "sampler seed (each worker's is drawn from it and its worker number) and torch::manual_seed");
  app.add_option("--device", device_name, "cpu | cuda | cuda:N | auto (cuda:0 when a GPU is visible, else cpu)");
  if (auto exit = cli::parse(app, argc, argv)) return *exit;
  if (profile == "notebook") {  // the notebook's setting for each flag not given
    cli::preset_unless_given(app, "--limit", o.limit, int64_t{0});
    cli::preset_unless_given(app, "--trials", s_flags.trials, 100);
  }
  device::Named::use(device::parse(device_name));  // refused before any work when unusable
  const auto size = report::parse_plot_size(s_flags.plot_size, s_flags.plot_dpi);
  o.data = data, o.weights = weights;
  device::set_threads(o.threads);
  device::keep_freed_memory();

  const auto folders = ImageFolders::find(o.data);
  auto test = std::make_shared<const PreparedImages>(prepare_images(folders.val, o.limit, o.workers, false));
  const int64_t classes = image_run_classes(o, *test);

  auto& options = s_flags.study;
  cli::apply(s_flags, options);
  auto [opened, worker, existing] = open_study_worker(options, s_flags.sampler, o.seed, nullptr,
                                                      device::Named::select().str(), false,
                                                      cli::sampler_settings(s_flags));
  auto& s = *opened;
  const int trials = cli::trials_to_run(s_flags, static_cast<int>(s.trials({study::TrialState::Complete}).size()),
                                        "resnet_study");
  std::fprintf(stderr, "resnet_study: study '%s' in %s: %zu trial(s) so far; worker %lld (sampler seed %llu); running "
               "%d more (%s, %lld test images, %d epoch(s) per trial)\n",
               options.name.c_str(), study::detail::redact_url(options.storage_url).c_str(), existing,
               static_cast<long long>(worker.number), static_cast<unsigned long long>(worker.seed), trials, arch.c_str(),
               static_cast<long long>(test->set.size()), o.epochs);

  const auto f = choose<ResNet18, ResNet34, ResNet50>(arch, [&]<class Model>(std::type_identity<Model>) {
    return choose<compensate::Notebook, compensate::Exact, compensate::None>(compensation, [&]<class C>(std::type_identity<C>) {
      print_summary<Model, C>(o, *test, classes, folders.val);
      return objective<Model, C>(o, test);
    }, "--compensation");
  }, "--arch");

  study::OptimizeOptions run = cli::optimize_options(s_flags);
  run.callbacks.push_back(report::progress_line(trials));
  s.optimize(f, trials, run);

  report::summarize(s);
  if (!s_flags.csv.empty()) s.export_csv(s_flags.csv);
  if (!s_flags.plot.empty()) report::write_plots(s, s_flags.plot, "Accuracy", size);
  return 0;
} catch (const Interrupted& e) {
  std::cerr << "resnet_study: " << e.what() << ": the running trial was recorded as FAIL and queued again; "
               "run the same command to continue the study\n";
  return e.exit_code();
} catch (const std::exception& e) {
  std::cerr << "resnet_study: error: " << e.what() << "\n";
  return 1;
}
