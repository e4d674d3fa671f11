#pragma once
// Command-line flags for a program that runs a study, with CLI11 (as cli/run_flags.hpp): the
// storage and name of the study, its sampler, how many trials, and where its CSV and pictures go,
// each bound to the field it sets.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <climits>
#include <cstdio>
#include <string>

#include "normlab/cli/run_flags.hpp"
#include "normlab/search/samplers.hpp"
#include "normlab/study/study.hpp"

namespace normlab::cli {

/// What the study flags set.
struct StudyFlags {
  study::StudyOptions study{.direction = study::StudyDirection::Maximize};
  std::string sampler = "tpe";  ///< search::make_sampler's name
  int trials = 24;              ///< trials to run in this invocation
  int max_trials = 0;           ///< the study-wide cap over every worker (0: no cap)
  double heartbeat = 5;         ///< seconds between heartbeats of a running trial
  bool retry_failed = false;    ///< queue again the trials of workers that died
  int max_retry = 3;            ///< how often one trial's parameters are retried
  bool constant_liar = false;   ///< TPE: RUNNING trials count as the worst value (many workers)
  std::string plot, plot_size, csv;
  double plot_dpi = 100;
};

/// --storage, --study-name, --sampler, --trials, --max-trials, --heartbeat, --retry-failed,
/// --max-retry, --constant-liar, --plot, --plot-size, --plot-dpi and --csv, bound to `f` (whose values are the
/// defaults --help shows).
inline void add_study_flags(CLI::App& app, StudyFlags& f) {
  prepare(app);
  app.add_option("--storage", f.study.storage_url, "sqlite:///FILE, postgresql://USER@HOST:PORT/DB (docs/distributed.md), "
                 "or empty for memory");
  app.add_option("--study-name", f.study.name, "study name (resumed when it exists)");
  app.add_option("--sampler", f.sampler, "how trials are proposed")->check(CLI::IsMember({"tpe", "random", "grid", "qmc"}));
  app.add_option("--trials", f.trials, "trials to run in this invocation")->check(CLI::Range(0, INT_MAX));
  app.add_option("--max-trials", f.max_trials, "the study's cap over every worker: complete plus running trials, "
                 "counted as each is created (0: no cap); raise it to extend a finished study")->check(CLI::Range(0, INT_MAX));
  app.add_option("--heartbeat", f.heartbeat, "seconds between heartbeats; a RUNNING trial silent for 2x this belongs "
                 "to a worker that died and is failed")->check(seconds);
  app.add_flag("--retry-failed", f.retry_failed, "queue the trial of a worker that died again, same parameters "
               "(Optuna's RetryFailedTrialCallback)");
  app.add_option("--max-retry", f.max_retry, "with --retry-failed: how often one trial's parameters are retried")
      ->check(CLI::Range(0, INT_MAX));
  app.add_flag("--constant-liar", f.constant_liar, "TPE: count every worker's RUNNING trials as the worst value, so that "
               "workers do not propose points beside the ones in training (Optuna's TPESampler(constant_liar=True); "
               "off, as the notebook's sampler)");
  app.add_option("--plot", f.plot, "FILE.svg: contour of accuracy over (mean, std), plus FILE.png and the history");
  app.add_option("--plot-size", f.plot_size, "--plot's size: WxH pixels (1050x788) or inches (3.5x2.625in); default 6.4x4.8in");
  app.add_option("--plot-dpi", f.plot_dpi, "--plot's dots per inch: the PNG's pixels per inch")->check(finite);
  app.add_option("--csv", f.csv, "FILE.csv: every trial, as Optuna's trials_dataframe");
}

/// Sets the study options the flags choose besides storage and name: retries of dead workers' trials.
inline void apply(const StudyFlags& f, study::StudyOptions& o) {
  o.retry_failed_trials = f.retry_failed;
  o.max_retry = f.max_retry;
}

/// The sampler's settings as the flags set them (make_sampler, open_study_worker).
inline search::SamplerSettings sampler_settings(const StudyFlags& f) {
  search::SamplerSettings settings;
  settings.tpe.constant_liar(f.constant_liar);
  return settings;
}

/// optimize()'s options as the flags set them: heartbeats, and with --max-trials the study-wide
/// budget, COMPLETE plus RUNNING trials counted in the transaction that creates (or pops) each
/// trial, so N processes on one study finish exactly max_trials (docs/distributed.md). A worker
/// that died holds its place only until its heartbeat lapses.
inline study::OptimizeOptions optimize_options(const StudyFlags& f) {
  study::OptimizeOptions run;
  run.heartbeat_interval = f.heartbeat;
  if (f.max_trials > 0) {
    run.max_trials = f.max_trials;
    run.max_trials_states = {study::TrialState::Complete, study::TrialState::Running};
  }
  return run;
}

/// How many trials this invocation runs: --trials, but no more than --max-trials leaves of a study
/// with `complete` COMPLETE trials; says so on `log` when the study already holds its budget.
inline int trials_to_run(const StudyFlags& f, int complete, const char* program, std::FILE* log = stderr) {
  if (f.max_trials <= 0) return f.trials;
  const int trials = std::min(f.trials, std::max(0, f.max_trials - complete));
  if (trials == 0 && complete >= f.max_trials)
    std::fprintf(log, "%s: the study has its %d complete trials (--max-trials): nothing to run; give a larger "
                 "--max-trials to extend it\n", program, f.max_trials);
  return trials;
}

}  // namespace normlab::cli
