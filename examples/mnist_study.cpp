// The notebook's normalization study: an Optuna-compatible study over (mean, std) of the MNIST
// protocol, stored in SQLite, drawn as a contour plot. `--trials N` runs N more trials in this
// invocation (Optuna's optimize(n_trials=N)); `--max-trials N` caps the study's completed trials
// across every process (Optuna's MaxTrialsCallback). A profile fills in the flags not given:
// `quick` finishes in minutes on 2 cores (2 epochs, 4,000 / 1,000 images, 24 trials);
// `notebook` is the notebook's full setting (25 epochs, all data, 200 trials). Ctrl-C records the
// running trial and queues it again; rerunning the command continues the study.

#include <iostream>
#include <normlab/batched_study.hpp>
#include <normlab/cli/study_flags.hpp>
#include <normlab/normalization_study.hpp>
#include <normlab/normlab.hpp>
#include <normlab/report/study_plots.hpp>
#include <normlab/report/study_summary.hpp>
#include <normlab/report/trial_progress.hpp>
#include <normlab/study/pruners.hpp>

using namespace normlab;

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  CLI::App app{"The notebook's (mean, std) study of the MNIST protocol.", "mnist_study"};
  RunOptions base;
  base.epochs = 2, base.train_limit = 4000, base.test_limit = 1000;
  cli::RunFlags run_flags;
  cli::StudyFlags s_flags;
  s_flags.study.name = "MNIST", s_flags.study.storage_url = "sqlite:///optuna-MNIST.sqlite3", s_flags.max_trials = 24;
  cli::add_run_flags(app, base, run_flags);
  cli::add_study_flags(app, s_flags);
  std::string profile = "quick", pruner = "none";
  int jobs = 1, together = 1, resume_only = 0, enqueue_notebook = 1;
  app.add_option("--profile", profile, "quick (the defaults) | notebook (25 epochs, all data, 200 trials); flags "
                 "given on the command line win over the profile")->check(CLI::IsMember({"quick", "notebook"}));
  app.add_option("--pruner", pruner, "which trials stop early")->check(CLI::IsMember({"none", "median", "sha"}));
  app.add_option("--jobs", jobs, "trials run at once in this process (threads share the CPU)")->check(CLI::Range(1, 1024));
  app.add_option("--together", together, "K > 1: train K trials in one pass (run_variants; K proposals before "
                 "any result)")->check(CLI::Range(1, 1024));
  app.add_option("--resume-only", resume_only, "1: the study must exist already")->check(CLI::Range(0, 1));
  app.add_option("--enqueue-notebook", enqueue_notebook, "1: a new study first tries the notebook's (0.1307, "
                 "0.3081) and (0, 1)")->check(CLI::Range(0, 1));
  if (auto exit = cli::parse(app, argc, argv)) return *exit;
  if (profile == "notebook") {  // the notebook's setting for each flag not given
    cli::preset_unless_given(app, "--epochs", base.epochs, 25);
    cli::preset_unless_given(app, "--train-limit", base.train_limit, 0);
    cli::preset_unless_given(app, "--test-limit", base.test_limit, 0);
    cli::preset_unless_given(app, "--trials", s_flags.trials, 200);
    cli::preset_unless_given(app, "--max-trials", s_flags.max_trials, 200);
  }
  cli::apply(run_flags, base);
  const auto size = report::parse_plot_size(s_flags.plot_size, s_flags.plot_dpi);
  if (together > 1 && jobs != 1) throw std::invalid_argument("--together trains K trials in one pass: use it with --jobs 1");
  base.log = nullptr;  // one line per trial instead of per epoch
  auto data = std::make_shared<const data::TrainTest>(data::load_by_name(run_flags.dataset, base.data_root));

  auto& options = s_flags.study;
  options.require_existing = resume_only;
  cli::apply(s_flags, options);
  device::set_threads(base.threads);
  auto [opened, worker, existing] = open_study_worker(options, s_flags.sampler, base.seed, study::make_pruner(pruner),
                                                      device::Named::select().str(), enqueue_notebook,
                                                      cli::sampler_settings(s_flags));
  auto& s = *opened;
  const int complete = static_cast<int>(s.trials({study::TrialState::Complete}).size());
  const int trials = cli::trials_to_run(s_flags, complete, "mnist_study");
  std::fprintf(stderr, "mnist_study: study '%s' in %s: %zu trial(s) so far, %d complete%s; worker %lld (sampler seed "
               "%llu); running %d more (%d epoch(s), %lld/%lld images, %s sampler, %d thread(s), device %s)\n",
               options.name.c_str(), options.storage_url.empty() ? "memory" : study::detail::redact_url(options.storage_url).c_str(), existing,
               complete, s_flags.max_trials > 0 ? (" of " + std::to_string(s_flags.max_trials)).c_str() : "",
               static_cast<long long>(worker.number), static_cast<unsigned long long>(worker.seed), trials, base.epochs,
               static_cast<long long>(data->train.first(base.train_limit).size()),
               static_cast<long long>(data->test.first(base.test_limit).size()), s_flags.sampler.c_str(), base.threads,
               device::Named::select().str().c_str());

  study::OptimizeOptions run = cli::optimize_options(s_flags);
  run.n_jobs = jobs;
  run.callbacks.push_back(report::progress_line(trials));
  choose<compensate::Notebook, compensate::Exact, compensate::None>(run_flags.compensation, [&]<class C>(std::type_identity<C>) {
    using Protocol = Pipeline<normalize::Runtime, LeNet, C, device::Named>;
    if (together == 1) return s.optimize(normalization_objective<Protocol>(base, data), trials, run);
    base.log = &std::cerr;  // K trials per round (batched_study.hpp): one line per trial and epoch
    run_trials_batched<Protocol>(s, base, *data, trials, together);
  }, "--compensation");

  report::summarize(s);
  if (!s_flags.csv.empty()) s.export_csv(s_flags.csv);
  if (!s_flags.plot.empty()) report::write_plots(s, s_flags.plot, "Accuracy", size);
  return 0;
} catch (const Interrupted& e) {
  std::cerr << "mnist_study: " << e.what() << ": the running trial was recorded as FAIL and queued again; "
               "run the same command to continue the study\n";
  return e.exit_code();
} catch (const std::exception& e) {
  std::cerr << "mnist_study: error: " << e.what() << "\n";
  return 1;
}
