// A search strategy on a cheap function over the notebook's space, to compare strategies (and
// normlab with Optuna) without training anything:
//   f(mean, std) = -(mean - 0.13)^2 - (ln std - ln 0.31)^2, maximized, mean in [-3, 3],
//   std in [0.1, 2] (log). One line per trial: `trial=N mean=... std=... value=...`.

#include <cmath>
#include <cstdio>
#include <iostream>
#include <normlab/search/samplers.hpp>
#include <normlab/search/space.hpp>
#include <normlab/study/study.hpp>

#include "cli.hpp"

using namespace normlab;

int main(int argc, char** argv) try {
  cli::Args args("search_benchmark", "Runs a search strategy on a cheap function of (mean, std).");
  args.flag("sampler", "tpe", "tpe | random | grid | qmc")
      .flag("seed", "1998", "sampler seed")
      .flag("trials", "200", "trials to run in this invocation")
      .flag("storage", "", "study storage: empty for memory, or sqlite:///FILE")
      .flag("study-name", "search-benchmark", "study name");
  args.parse(argc, argv);

  using NotebookSpace = search::Space<search::Uniform<"mean", -3.0, 3.0>, search::LogUniform<"std", 0.1, 2.0>>;
  study::StudyOptions options;
  options.name = args.text("study-name");
  options.storage_url = args.text("storage");
  options.direction = study::StudyDirection::Maximize;
  auto s = study::Study::create(options, search::make_sampler(args.text("sampler"), static_cast<uint64_t>(args.integer("seed"))));

  auto objective = [](study::Trial& trial) {
    const auto p = NotebookSpace::suggest(trial);
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
  s.optimize(objective, args.int_flag("trials"), run);
  const auto best = s.best_trial();
  std::printf("best trial=%lld value=%.17g\n", static_cast<long long>(best.number), *best.value);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "search_benchmark: error: " << e.what() << "\n";
  return 1;
}
