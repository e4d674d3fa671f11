#pragma once
// Command-line flags for a program that runs a study, with CLI11 (as cli/run_flags.hpp): the
// storage and name of the study, its sampler, how many trials, and where its CSV and pictures go,
// each bound to the field it sets.

#include <CLI/CLI.hpp>
#include <climits>
#include <string>

#include "normlab/cli/run_flags.hpp"
#include "normlab/study/study.hpp"

namespace normlab::cli {

/// What the study flags set.
struct StudyFlags {
  study::StudyOptions study{.direction = study::StudyDirection::Maximize};
  std::string sampler = "tpe";  ///< search::make_sampler's name
  int trials = 24;              ///< trials to run in this invocation
  int max_trials = 0;           ///< stop once the study has this many complete trials (0: no cap)
  std::string plot, plot_size, csv;
  double plot_dpi = 100;
};

/// --storage, --study-name, --sampler, --trials, --max-trials, --plot, --plot-size, --plot-dpi and
/// --csv, bound to `f` (whose values are the defaults --help shows).
inline void add_study_flags(CLI::App& app, StudyFlags& f) {
  prepare(app);
  app.add_option("--storage", f.study.storage_url, "sqlite:///FILE, postgresql://USER@HOST:PORT/DB (docs/distributed.md), "
                 "or empty for memory");
  app.add_option("--study-name", f.study.name, "study name (resumed when it exists)");
  app.add_option("--sampler", f.sampler, "how trials are proposed")->check(CLI::IsMember({"tpe", "random", "grid", "qmc"}));
  app.add_option("--trials", f.trials, "trials to run in this invocation")->check(CLI::Range(0, INT_MAX));
  app.add_option("--max-trials", f.max_trials, "stop once the study has this many complete trials (0: no cap); "
                 "raise it to extend a finished study")->check(CLI::Range(0, INT_MAX));
  app.add_option("--plot", f.plot, "FILE.svg: contour of accuracy over (mean, std), plus FILE.png and the history");
  app.add_option("--plot-size", f.plot_size, "--plot's size: WxH pixels (1050x788) or inches (3.5x2.625in); default 6.4x4.8in");
  app.add_option("--plot-dpi", f.plot_dpi, "--plot's dots per inch: the PNG's pixels per inch")->check(finite);
  app.add_option("--csv", f.csv, "FILE.csv: every trial, as Optuna's trials_dataframe");
}

}  // namespace normlab::cli
