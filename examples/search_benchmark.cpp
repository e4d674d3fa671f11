// A search strategy on a cheap function over the notebook's space, to compare strategies (and
// normlab with Optuna) without training anything:
//   f(mean, std) = -(mean - 0.13)^2 - (ln std - ln 0.31)^2, maximized, mean in [-3, 3],
//   std in [0.1, 2] (log). One line per trial: `trial=N mean=... std=... value=...`.

#include <CLI/CLI.hpp>
#include <climits>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <normlab/search/normalization_space.hpp>
#include <normlab/search/samplers.hpp>
#include <normlab/study/study.hpp>

using namespace normlab;

int main(int argc, char** argv) try {
  CLI::App app{"Runs a search strategy on a cheap function of (mean, std).", "search_benchmark"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: the last wins
  std::string sampler = "tpe";
  uint64_t seed = 1998;
  int trials = 200;
  study::StudyOptions options{.name = "search-benchmark", .direction = study::StudyDirection::Maximize};
  app.add_option("--sampler", sampler, "tpe | random | grid | qmc");
  app.add_option("--seed", seed, "sampler seed");
  app.add_option("--trials", trials, "trials to run in this invocation")->check(CLI::Range(0, INT_MAX));
  app.add_option("--storage", options.storage_url, "study storage: empty for memory, or sqlite:///FILE");
  app.add_option("--study-name", options.name, "study name");
  for (auto* o : app.get_options()) o->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  }
  auto s = study::Study::create(options, search::make_sampler(sampler, seed));

  auto objective = [](study::Trial& trial) {
    const auto p = search::NotebookSpace::suggest(trial);
    const double mean = p.at("mean"), std = p.at("std");
    return -(mean - 0.13) * (mean - 0.13) - std::pow(std::log(std) - std::log(0.31), 2);
  };
  study::OptimizeOptions run;
  run.callbacks.push_back([](const study::Study&, const study::FrozenTrial& t) {
    // A failed trial may have no parameters: say so instead of failing in the callback, whose
    // error would hide the objective's own.
    if (t.state != study::TrialState::Complete || !t.params.count("mean") || !t.params.count("std")) {
      const auto reason = t.system_attrs.find(study::kFailReasonKey);
      std::printf("trial=%lld state=%s%s%s\n", static_cast<long long>(t.number), study::to_string(t.state),
                  reason == t.system_attrs.end() ? "" : " reason=", reason == t.system_attrs.end() ? "" : reason->second.c_str());
      return;
    }
    std::printf("trial=%lld mean=%.17g std=%.17g value=%.17g\n", static_cast<long long>(t.number),
                t.params.at("mean"), t.params.at("std"), t.value.value_or(std::nan("")));
  });
  s.optimize(objective, trials, run);
  const auto best = s.best_trial();
  std::printf("best trial=%lld value=%.17g\n", static_cast<long long>(best.number), *best.value);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "search_benchmark: error: " << e.what() << "\n";
  return 1;
}
