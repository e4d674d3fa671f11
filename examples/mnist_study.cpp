// The notebook's normalization study: an Optuna-compatible study over (mean, std) of the MNIST
// protocol, stored in SQLite, drawn as a contour plot. `--trials N` runs N more trials in this
// invocation (Optuna's optimize(n_trials=N)); `--max-trials N` caps the study's completed trials
// across every process (Optuna's MaxTrialsCallback). A profile fills in the flags not given:
// `quick` finishes in minutes on 2 cores (2 epochs, 4,000 / 1,000 images, 24 trials);
// `notebook` is the notebook's full setting (25 epochs, all data, 200 trials). Ctrl-C records the
// running trial and queues it again; rerunning the command continues the study.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <type_traits>
#include <normlab/device/openmp.hpp>
#include <normlab/interrupt.hpp>
#include <normlab/normalization_study.hpp>
#include <normlab/normlab.hpp>
#include <normlab/search/samplers.hpp>
#include <normlab/study/pruners.hpp>
#include <normlab/study/study.hpp>
#include <normlab/study/workers.hpp>
#include <normlab/batched_study.hpp>
#include "cli.hpp"
#include "study_report.hpp"

using namespace normlab;

namespace {

// The device is chosen at run time (--device): device::Named runs where device::Named::use() says.
template <class Compensation>
using StudyProtocol = Pipeline<normalize::Runtime, LeNet, Adadelta<>, ReduceOnPlateau<>,
                               Compensation, device::Named>;

// Calls f(std::type_identity<Compensation>{}) for the compensation named on the command line.
template <class F>
auto with_compensation(const std::string& name, F&& f) {
  if (name == "notebook") return f(std::type_identity<compensate::Notebook>{});
  if (name == "exact") return f(std::type_identity<compensate::Exact>{});
  if (name == "none") return f(std::type_identity<compensate::None>{});
  throw std::invalid_argument("--compensation expects notebook, exact or none (got '" + name + "')");
}

std::unique_ptr<study::Pruner> make_pruner(const std::string& name) {
  if (name == "none") return nullptr;
  if (name == "median") return study::make_pruner(study::MedianPruner());
  if (name == "sha") return study::make_pruner(study::SuccessiveHalvingPruner());
  throw std::invalid_argument("--pruner expects none, median or sha (got '" + name + "')");
}

}  // namespace

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  cli::Args args("mnist_study", "The notebook's (mean, std) study of the MNIST protocol.");
  args.flag("profile", "quick", "quick (the defaults below) | notebook (25 epochs, all data, 200 trials); "
                                "flags given on the command line win over the profile")
      .flag("data", "data", "data root (DIR/MNIST/raw, DIR/FashionMNIST/raw)")
      .flag("dataset", "mnist", "mnist | fashion-mnist")
      .flag("trials", "24", "trials to run in this invocation")
      .flag("max-trials", "24", "stop once the study has this many complete trials (0: no cap); "
                                "raise it to extend a finished study")
      .flag("epochs", "2", "epochs per trial")
      .flag("train-limit", "4000", "first K training images (0: all)")
      .flag("test-limit", "1000", "first K test images (0: all)")
      .flag("threads", std::to_string(device::default_threads()), "intra-op threads (default: this machine's cores)")
      .flag("jobs", "1", "trials run at once in this process (threads share the CPU)")
      .flag("together", "1", "K > 1: train K trials in one pass (run_variants; K proposals before any result)")
      .flag("storage", "sqlite:///optuna-MNIST.sqlite3", "sqlite:///FILE, or empty for memory")
      .flag("study-name", "MNIST", "study name (resumed when it exists)")
      .flag("resume-only", "0", "1: the study must exist already (an error instead of a new study)")
      .flag("sampler", "tpe", "tpe | random | grid | qmc")
      .flag("seed", "1998", "torch::manual_seed of every trial; the sampler's seed for the study's first worker "
                            "(later workers derive theirs from it: docs/study.md)")
      .flag("pruner", "none", "none | median | sha")
      .flag("compensation", "notebook", "notebook | exact | none")
      .device_flag()
      .flag("enqueue-notebook", "1", "1: a new study first tries the notebook's (0.1307, 0.3081) and (0, 1)")
      .flag("heartbeat", "5", "seconds between heartbeats; RUNNING trials silent for 2x this are failed")
      .flag("plot", "", "FILE.svg: contour of accuracy over (mean, std), plus FILE.png and the history")
      .flag("plot-size", "", "--plot's size: WxH pixels (1050x788) or inches (3.5x2.625in); default 6.4x4.8in")
      .flag("plot-dpi", "100", "--plot's dots per inch: the PNG's pixels per inch (text and lines are in points)")
      .flag("csv", "", "FILE.csv: every trial, as Optuna's trials_dataframe");
  args.parse(argc, argv);
  device::Named::use(device::parse(args.text("device")));  // refused before any work when unusable

  const bool notebook = args.text("profile") == "notebook";
  if (!notebook && args.text("profile") != "quick")
    throw std::invalid_argument("--profile expects quick or notebook");
  // A profile's value for a flag not given on the command line; a given flag always wins.
  auto profiled = [&](const char* flag, long long notebook_value, long long lo, long long hi) {
    return notebook && !args.given(flag) ? notebook_value : args.integer(flag, lo, hi);
  };
  RunOptions base;
  base.data_root = args.text("data");
  base.epochs = static_cast<int>(profiled("epochs", 25, 1, INT_MAX));
  base.train_limit = profiled("train-limit", 0, 0, LLONG_MAX);
  base.test_limit = profiled("test-limit", 0, 0, LLONG_MAX);
  base.threads = args.int_flag("threads", 0, 4096);
  base.seed = static_cast<uint64_t>(args.integer("seed"));
  base.log = nullptr;  // one line per trial instead of per epoch
  const long long max_trials = profiled("max-trials", 200, 0, INT_MAX);
  int trials = static_cast<int>(profiled("trials", 200, 0, INT_MAX));
  // Every number is checked before any work (loading data, creating the study file).
  const int jobs = args.int_flag("jobs", 1, 1024);
  const double heartbeat = args.number("heartbeat");
  if (!(heartbeat > 0 && heartbeat <= 1e8))
    throw std::invalid_argument("--heartbeat expects seconds, > 0 and <= 1e8 (got '" + args.text("heartbeat") + "')");
  const auto together = args.integer("together");
  if (together < 1 || together > 1024)
    throw std::invalid_argument("--together expects K >= 1 and <= 1024 (got '" + args.text("together") + "')");
  const bool enqueue_notebook = args.boolean("enqueue-notebook");
  const bool resume_only = args.boolean("resume-only");

  auto data = std::make_shared<const data::TrainTest>(data::load_by_name(args.text("dataset"), base.data_root));

  study::StudyOptions options;
  options.name = args.text("study-name");
  options.storage_url = args.text("storage");
  options.direction = study::StudyDirection::Maximize;
  options.require_existing = resume_only;
  auto s = study::Study::create(options, search::make_sampler(args.text("sampler"), base.seed),
                                make_pruner(args.text("pruner")));
  // This process's worker number and sampler seed: parallel workers propose different points.
  const auto worker = study::join_study(s, base.seed);
  s.set_sampler(search::make_sampler(args.text("sampler"), worker.seed));
  device::set_threads(base.threads);
  record_kernels(s, device::cpu_kernels(), device::Named::select().str());  // the study records the device
  const std::size_t existing = s.trials().size();
  if (enqueue_notebook && existing == 0 && worker.number == 0) {
    s.enqueue(search::normalization_params(0.1307, 0.3081));
    s.enqueue(search::normalization_params(0.0, 1.0));
  }
  const auto complete = s.trials({study::TrialState::Complete}).size();
  if (max_trials > 0) trials = static_cast<int>(std::min<long long>(trials, std::max<long long>(0, max_trials - complete)));
  std::fprintf(stderr, "mnist_study: study '%s' in %s: %zu trial(s) so far, %zu complete%s; worker %lld (sampler seed %llu); running %d more (%d epoch(s), %lld/%lld images, %s sampler, %d thread(s), device %s)\n",
               options.name.c_str(), options.storage_url.empty() ? "memory" : options.storage_url.c_str(),
               existing, complete, max_trials > 0 ? (" of " + std::to_string(max_trials)).c_str() : "",
               static_cast<long long>(worker.number), static_cast<unsigned long long>(worker.seed), trials, base.epochs,
               static_cast<long long>(data->train.first(base.train_limit).size()),
               static_cast<long long>(data->test.first(base.test_limit).size()), args.text("sampler").c_str(),
               base.threads, device::Named::select().str().c_str());
  if (trials == 0 && max_trials > 0 && static_cast<long long>(complete) >= max_trials)
    std::fprintf(stderr, "mnist_study: the study has its %lld complete trials (--max-trials): nothing to run; "
                 "give a larger --max-trials to extend it\n", max_trials);

  study::OptimizeOptions run;
  run.n_jobs = jobs;
  if (max_trials > 0) run.max_trials = max_trials;
  run.heartbeat_interval = heartbeat;
  run.callbacks.push_back(report::progress_line(trials));
  if (together == 1) {
    with_compensation(args.text("compensation"), [&](auto c) {
      using Protocol = StudyProtocol<typename decltype(c)::type>;
      s.optimize(normalization_objective<Protocol>(base, data), trials, run);
    });
  } else {
    // K trials per round through run_variants: each trial's value is its alone run's (see
    // batched_study.hpp), one line per trial and epoch shows the progress.
    if (run.n_jobs != 1) throw std::invalid_argument("--together trains K trials in one pass: use it with --jobs 1");
    base.log = &std::cerr;
    with_compensation(args.text("compensation"), [&](auto c) {
      using Protocol = StudyProtocol<typename decltype(c)::type>;
      run_trials_batched<Protocol>(s, base, *data, trials, static_cast<int>(together));
    });
  }

  report::summarize(s);
  if (!args.text("csv").empty()) s.export_csv(args.text("csv"));
  if (!args.text("plot").empty()) report::write_plots(s, args.text("plot"), "Accuracy", report::plot_size(args.text("plot-size"), args.number("plot-dpi")));
  return 0;
} catch (const Interrupted& e) {
  std::cerr << "mnist_study: " << e.what() << ": the running trial was recorded as FAIL and queued again; "
               "run the same command to continue the study\n";
  return e.exit_code();
} catch (const std::exception& e) {
  std::cerr << "mnist_study: error: " << e.what() << "\n";
  return 1;
}
