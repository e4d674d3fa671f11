// The notebook's normalization study: an Optuna-compatible study over (mean, std) of the MNIST
// protocol, stored in SQLite, drawn as a contour plot. `--trials N` runs N more trials in this
// invocation (Optuna's optimize(n_trials=N)); `--max-trials N` caps the study's completed trials
// across every process (Optuna's MaxTrialsCallback). A profile fills in the flags not given:
// `quick` finishes in minutes on 2 cores (2 epochs, 4,000 / 1,000 images, 24 trials);
// `notebook` is the notebook's full setting (25 epochs, all data, 200 trials). Ctrl-C records the
// running trial and queues it again; rerunning the command continues the study.

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdio>
#include <iostream>
#include <normlab/batched_study.hpp>
#include <normlab/device/openmp.hpp>
#include <normlab/normalization_study.hpp>
#include <normlab/normlab.hpp>
#include <normlab/report/study_plots.hpp>
#include <normlab/report/study_summary.hpp>
#include <normlab/report/trial_progress.hpp>
#include <normlab/study/pruners.hpp>

#include "flags.hpp"

using namespace normlab;

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  CLI::App app{"The notebook's (mean, std) study of the MNIST protocol.", "mnist_study"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: the last wins
  RunOptions base;
  base.epochs = 2, base.train_limit = 4000, base.test_limit = 1000, base.threads = device::default_threads();
  std::string profile = "quick", data_root = "data", dataset = "mnist", sampler = "tpe", pruner = "none",
              compensation = "notebook", device_name = "auto", plot, plot_size, csv;
  int trials = 24, max_trials = 24, jobs = 1, together = 1, resume_only = 0, enqueue_notebook = 1;
  double heartbeat = 5, plot_dpi = 100;
  study::StudyOptions options{.name = "MNIST", .direction = study::StudyDirection::Maximize,
                              .storage_url = "sqlite:///optuna-MNIST.sqlite3"};
  app.add_option("--profile", profile, "quick (the defaults below) | notebook (25 epochs, all data, 200 trials); "
                 "flags given on the command line win over the profile")->check(CLI::IsMember({"quick", "notebook"}));
  app.add_option("--data", data_root, "data root (DIR/MNIST/raw, DIR/FashionMNIST/raw)");
  app.add_option("--dataset", dataset, "which data set")->check(CLI::IsMember(policy_name_list<data::Mnist, data::FashionMnist>()));
  app.add_option("--trials", trials, "trials to run in this invocation")->check(CLI::Range(0, INT_MAX));
  app.add_option("--max-trials", max_trials, "stop once the study has this many complete trials (0: no cap); "
                 "raise it to extend a finished study")->check(CLI::Range(0, INT_MAX));
  app.add_option("--epochs", base.epochs, "epochs per trial")->check(CLI::Range(1, INT_MAX));
  app.add_option("--train-limit", base.train_limit, "first K training images (0: all)")->check(CLI::Range(0LL, LLONG_MAX));
  app.add_option("--test-limit", base.test_limit, "first K test images (0: all)")->check(CLI::Range(0LL, LLONG_MAX));
  app.add_option("--threads", base.threads, "intra-op threads (default: this machine's cores)")->check(CLI::Range(0, 4096));
  app.add_option("--jobs", jobs, "trials run at once in this process (threads share the CPU)")->check(CLI::Range(1, 1024));
  app.add_option("--together", together, "K > 1: train K trials in one pass (run_variants; K proposals before "
                 "any result)")->check(CLI::Range(1, 1024));
  app.add_option("--storage", options.storage_url, "sqlite:///FILE, or empty for memory");
  app.add_option("--study-name", options.name, "study name (resumed when it exists)");
  app.add_option("--resume-only", resume_only, "1: the study must exist already (an error instead of a new study)")->check(CLI::Range(0, 1));
  app.add_option("--sampler", sampler, "how trials are proposed")->check(CLI::IsMember({"tpe", "random", "grid", "qmc"}));
  app.add_option("--seed", base.seed, "torch::manual_seed of every trial; the sampler's seed for the study's first "
                 "worker (later workers derive theirs from it: docs/study.md)");
  app.add_option("--pruner", pruner, "which trials stop early")->check(CLI::IsMember({"none", "median", "sha"}));
  app.add_option("--compensation", compensation, "how conv1 is compensated")
      ->check(CLI::IsMember(policy_name_list<compensate::Notebook, compensate::Exact, compensate::None>()));
  app.add_option("--device", device_name, "cpu | cuda | cuda:N | auto (cuda:0 when a GPU is visible, else cpu)");
  app.add_option("--enqueue-notebook", enqueue_notebook, "1: a new study first tries the notebook's (0.1307, 0.3081) "
                 "and (0, 1)")->check(CLI::Range(0, 1));
  app.add_option("--heartbeat", heartbeat, "seconds between heartbeats; RUNNING trials silent for 2x this are failed")->check(flags::seconds);
  app.add_option("--plot", plot, "FILE.svg: contour of accuracy over (mean, std), plus FILE.png and the history");
  app.add_option("--plot-size", plot_size, "--plot's size: WxH pixels (1050x788) or inches (3.5x2.625in); default 6.4x4.8in");
  app.add_option("--plot-dpi", plot_dpi, "--plot's dots per inch: the PNG's pixels per inch")->check(flags::finite);
  app.add_option("--csv", csv, "FILE.csv: every trial, as Optuna's trials_dataframe");
  for (auto* o : app.get_options()) o->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  }
  if (profile == "notebook") {  // the notebook's setting for each flag not given
    auto fill = [&](const char* flag, auto& value, int notebook) { if (app.count(flag) == 0) value = notebook; };
    fill("--epochs", base.epochs, 25), fill("--train-limit", base.train_limit, 0), fill("--test-limit", base.test_limit, 0);
    fill("--trials", trials, 200), fill("--max-trials", max_trials, 200);
  }
  device::Named::use(device::parse(device_name));  // refused before any work when unusable
  const auto size = report::parse_plot_size(plot_size, plot_dpi);
  if (together > 1 && jobs != 1) throw std::invalid_argument("--together trains K trials in one pass: use it with --jobs 1");
  base.data_root = data_root;
  base.log = nullptr;  // one line per trial instead of per epoch
  auto data = std::make_shared<const data::TrainTest>(data::load_by_name(dataset, base.data_root));

  options.require_existing = resume_only;
  device::set_threads(base.threads);
  auto [opened, worker, existing] = open_study_worker(options, sampler, base.seed, study::make_pruner(pruner),
                                                      device::Named::select().str(), enqueue_notebook);
  auto& s = *opened;
  const auto complete = static_cast<int>(s.trials({study::TrialState::Complete}).size());
  if (max_trials > 0) trials = std::min(trials, std::max(0, max_trials - complete));
  std::fprintf(stderr, "mnist_study: study '%s' in %s: %zu trial(s) so far, %d complete%s; worker %lld (sampler seed "
               "%llu); running %d more (%d epoch(s), %lld/%lld images, %s sampler, %d thread(s), device %s)\n",
               options.name.c_str(), options.storage_url.empty() ? "memory" : options.storage_url.c_str(), existing,
               complete, max_trials > 0 ? (" of " + std::to_string(max_trials)).c_str() : "",
               static_cast<long long>(worker.number), static_cast<unsigned long long>(worker.seed), trials, base.epochs,
               static_cast<long long>(data->train.first(base.train_limit).size()),
               static_cast<long long>(data->test.first(base.test_limit).size()), sampler.c_str(), base.threads,
               device::Named::select().str().c_str());
  if (trials == 0 && max_trials > 0 && complete >= max_trials)
    std::fprintf(stderr, "mnist_study: the study has its %d complete trials (--max-trials): nothing to run; "
                 "give a larger --max-trials to extend it\n", max_trials);

  study::OptimizeOptions run{.n_jobs = jobs, .heartbeat_interval = heartbeat};
  if (max_trials > 0) run.max_trials = max_trials;
  run.callbacks.push_back(report::progress_line(trials));
  choose<compensate::Notebook, compensate::Exact, compensate::None>(compensation, [&]<class C>(std::type_identity<C>) {
    using Protocol = Pipeline<normalize::Runtime, LeNet, C, device::Named>;
    if (together == 1) return s.optimize(normalization_objective<Protocol>(base, data), trials, run);
    base.log = &std::cerr;  // K trials per round (batched_study.hpp): one line per trial and epoch
    run_trials_batched<Protocol>(s, base, *data, trials, together);
  }, "--compensation");

  report::summarize(s);
  if (!csv.empty()) s.export_csv(csv);
  if (!plot.empty()) report::write_plots(s, plot, "Accuracy", size);
  return 0;
} catch (const Interrupted& e) {
  std::cerr << "mnist_study: " << e.what() << ": the running trial was recorded as FAIL and queued again; "
               "run the same command to continue the study\n";
  return e.exit_code();
} catch (const std::exception& e) {
  std::cerr << "mnist_study: error: " << e.what() << "\n";
  return 1;
}
