// The notebook's normalization study: an Optuna-compatible study over (mean, std) of the MNIST
// protocol, stored in SQLite, drawn as a contour plot. `--trials N` runs N more trials in this
// invocation (Optuna's optimize(n_trials=N)); `--max-trials N` caps the study's completed trials
// across every process (Optuna's MaxTrialsCallback). Quick defaults finish in minutes here;
// `--profile notebook` is the notebook's full setting (25 epochs, all data, 200 trials).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <type_traits>
#include <normlab/normalization_study.hpp>
#include <normlab/normlab.hpp>
#include <normlab/search/samplers.hpp>
#include <normlab/study/pruners.hpp>
#include <normlab/study/study.hpp>
#include <normlab/train/multi_variant.hpp>
#include "cli.hpp"
#include "study_report.hpp"

using namespace normlab;

namespace {

template <class Compensation>
using StudyProtocol = Pipeline<normalize::Runtime, LeNet, Adadelta<>, ReduceOnPlateau<>,
                               Compensation, device::Auto>;

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
  cli::Args args("mnist_study", "The notebook's (mean, std) study of the MNIST protocol.");
  args.flag("profile", "quick", "quick (defaults below) | notebook (25 epochs, all data, 200 trials)")
      .flag("data", "data", "data root (DIR/MNIST/raw, DIR/FashionMNIST/raw)")
      .flag("dataset", "mnist", "mnist | fashion-mnist")
      .flag("trials", "12", "trials to run in this invocation")
      .flag("max-trials", "0", "stop once the study has this many complete trials (0: no cap)")
      .flag("epochs", "2", "epochs per trial")
      .flag("train-limit", "4000", "first K training images (0: all)")
      .flag("test-limit", "1000", "first K test images (0: all)")
      .flag("threads", "2", "intra-op threads")
      .flag("jobs", "1", "trials run at once in this process (threads share the CPU)")
      .flag("together", "1", "K > 1: train K trials in one pass (run_variants; K proposals before any result)")
      .flag("storage", "sqlite:///optuna-MNIST.sqlite3", "sqlite:///FILE, or empty for memory")
      .flag("study-name", "MNIST", "study name (resumed when it exists)")
      .flag("resume-only", "0", "1: the study must exist already (an error instead of a new study)")
      .flag("sampler", "tpe", "tpe | random | grid | qmc")
      .flag("seed", "1998", "sampler seed and torch::manual_seed of every trial")
      .flag("pruner", "none", "none | median | sha")
      .flag("compensation", "notebook", "notebook | exact | none")
      .flag("enqueue-notebook", "1", "1: a new study first tries the notebook's (0.1307, 0.3081) and (0, 1)")
      .flag("heartbeat", "5", "seconds between heartbeats; RUNNING trials silent for 2x this are failed")
      .flag("plot", "", "FILE.svg: contour of accuracy over (mean, std), plus FILE.png and the history")
      .flag("csv", "", "FILE.csv: every trial, as Optuna's trials_dataframe");
  args.parse(argc, argv);

  const bool notebook = args.text("profile") == "notebook";
  if (!notebook && args.text("profile") != "quick")
    throw std::invalid_argument("--profile expects quick or notebook");
  RunOptions base;
  base.data_root = args.text("data");
  base.epochs = notebook ? 25 : args.int_flag("epochs", 1);
  base.train_limit = notebook ? 0 : args.integer("train-limit", 0, LLONG_MAX);
  base.test_limit = notebook ? 0 : args.integer("test-limit", 0, LLONG_MAX);
  base.threads = args.int_flag("threads", 0, 4096);
  base.seed = static_cast<uint64_t>(args.integer("seed"));
  base.log = nullptr;  // one line per trial instead of per epoch
  const int trials = notebook ? 200 : args.int_flag("trials");
  // Every number is checked before any work (loading data, creating the study file).
  const int jobs = args.int_flag("jobs", 1, 1024);
  const int max_trials = args.int_flag("max-trials");
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
  const std::size_t existing = s.trials().size();
  if (enqueue_notebook && existing == 0) {
    s.enqueue({{"mean", 0.1307}, {"std", 0.3081}});
    s.enqueue({{"mean", 0.0}, {"std", 1.0}});
  }
  std::fprintf(stderr, "mnist_study: study '%s' in %s: %zu trial(s) so far; running %d more (%d epoch(s), %lld/%lld images, %s sampler)\n",
               options.name.c_str(), options.storage_url.empty() ? "memory" : options.storage_url.c_str(),
               existing, trials, base.epochs, static_cast<long long>(data->train.first(base.train_limit).size()),
               static_cast<long long>(data->test.first(base.test_limit).size()), args.text("sampler").c_str());

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
    // train/multi_variant.hpp), one line per trial and epoch shows the progress.
    if (run.n_jobs != 1) throw std::invalid_argument("--together trains K trials in one pass: use it with --jobs 1");
    if (run.max_trials) throw std::invalid_argument("--max-trials is not available with --together (use --trials)");
    base.log = &std::cerr;
    with_compensation(args.text("compensation"), [&](auto c) {
      using Protocol = StudyProtocol<typename decltype(c)::type>;
      run_trials_batched<Protocol>(s, base, *data, trials, static_cast<int>(together));
    });
  }

  report::summarize(s);
  if (!args.text("csv").empty()) s.export_csv(args.text("csv"));
  if (!args.text("plot").empty()) report::write_plots(s, args.text("plot"), "Accuracy");
  return 0;
} catch (const std::exception& e) {
  std::cerr << "mnist_study: error: " << e.what() << "\n";
  return 1;
}
