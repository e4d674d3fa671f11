#pragma once
// Glue between a Pipeline and a Study: the notebook's objective(trial) — suggest (mean, std) from
// a search space, train and test with them, report each epoch's accuracy (so pruners can stop a
// poor trial), return the final accuracy. Depends on both sides; neither side depends on it.

#include <cmath>
#include <functional>
#include <memory>
#include <string>

#include "normlab/data/dataset.hpp"
#include "normlab/pipeline.hpp"
#include "normlab/search/space.hpp"
#include "normlab/study/study.hpp"

namespace normlab {

/// The notebook's search space: mean uniform in [-3, 3], std log-uniform in [0.1, 2].
using NotebookSpace = search::Space<search::Uniform<"mean", -3.0, 3.0>, search::LogUniform<"std", 0.1, 2.0>>;

/// objective(trial) for Study::optimize. Data is loaded once and shared by every trial.
/// Each epoch's test accuracy is reported as intermediate value `epoch`; when the study's pruner
/// says so the trial ends as PRUNED. A diverging run (NaN loss) ends as FAIL with the reason.
template <class PipelineType, class Space = NotebookSpace>
std::function<double(study::Trial&)> normalization_objective(
    RunOptions base, std::shared_ptr<const data::TrainTest> data) {
  return [base = std::move(base), data = std::move(data)](study::Trial& trial) {
    const auto params = Space::suggest(trial);
    RunOptions options = base;
    options.normalization = NormalizationValues::uniform(params.at("mean"), params.at("std"));
    options.on_epoch = [&trial, user = base.on_epoch](const EpochRecord& r) {
      trial.report(r.accuracy, r.epoch);
      if (trial.should_prune()) throw study::TrialPruned();
      return user ? user(r) : true;
    };
    const auto result = PipelineType{}.run(options, *data);
    trial.set_user_attr("correct", result.correct);
    trial.set_user_attr("total", result.total);
    trial.set_user_attr("seconds", result.seconds);
    return result.accuracy;
  };
}

/// The notebook's study in one call: creates (or resumes) the study described by `options`, with
/// the pipeline's Search policy as sampler (seeded with base.seed), and runs `n_trials` more trials
/// of normalization_objective. The study is returned for its trials, best trial, CSV and plots.
template <class PipelineType, class Space = NotebookSpace>
std::unique_ptr<study::Study> run_study(const study::StudyOptions& options, const RunOptions& base,
                                        std::shared_ptr<const data::TrainTest> data, int n_trials,
                                        const study::OptimizeOptions& optimize = {},
                                        std::unique_ptr<study::Pruner> pruner = nullptr) {
  auto s = std::make_unique<study::Study>(options, PipelineType::search_t::make(base.seed), std::move(pruner));
  s->optimize(normalization_objective<PipelineType, Space>(base, std::move(data)), n_trials, optimize);
  return s;
}

}  // namespace normlab
