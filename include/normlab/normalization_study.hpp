#pragma once
// Glue between a Pipeline and a Study: the notebook's objective(trial) — suggest (mean, std) from
// a search space, train and test with them, report each epoch's accuracy (so pruners can stop a
// poor trial), return the final accuracy. Depends on both sides; neither side depends on it.

#include <cmath>
#include <functional>
#include <iostream>
#include <memory>
#include <string>

#include "normlab/data/dataset.hpp"
#include "normlab/device/cpu_kernels.hpp"
#include "normlab/pipeline.hpp"
#include "normlab/search/normalization_space.hpp"
#include "normlab/search/samplers.hpp"
#include "normlab/search/space.hpp"
#include "normlab/study/study.hpp"
#include "normlab/study/workers.hpp"

namespace normlab {

/// The notebook's search space: mean uniform in [-3, 3], std log-uniform in [0.1, 2].
using NotebookSpace = search::NotebookSpace;

/// objective(trial) for Study::optimize. Data is loaded once and shared by every trial.
/// PipelineType's Normalization must be normalize::Runtime (or left out): a compile-time one stops
/// the build (Pipeline::takes_runtime_normalization).
/// Each epoch's test accuracy is reported as intermediate value `epoch`; when the study's pruner
/// says so the trial ends as PRUNED. A diverging run (NaN loss) ends as FAIL with the reason.
template <class PipelineType, class Space = NotebookSpace>
std::function<double(study::Trial&)> normalization_objective(
    RunOptions base, std::shared_ptr<const data::TrainTest> data) {
  static_assert(detail::check_study_pipeline<PipelineType>());
  return [base = std::move(base), data = std::move(data)](study::Trial& trial) {
    const auto params = Space::suggest(trial);
    RunOptions options = base;
    options.normalization = NormalizationValues::from_params(params);
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

/// The study user attribute that records the kernels its trials ran with.
inline constexpr const char* kKernelsAttr = "normlab_kernels";

/// Records the kernels this process trains with (`kernels`, on `device`) in the study, or, when the
/// study already names other ones (it was run on another machine, or under other OPENBLAS_CORETYPE /
/// thread settings), writes one warning to `warn`, naming both: the new trials are valid but not
/// bit-identical to what the old kernels would give. Returns whether the kernels match.
inline bool record_kernels(study::Study& s, const device::CpuKernels& kernels, const std::string& device,
                           std::ostream* warn = &std::cerr) {
  const study::Json mine = study::Json::object({{"device", device},
                                                {"openblas_core", kernels.openblas_core},
                                                {"aten_capability", kernels.aten_capability},
                                                {"threads", kernels.threads},
                                                {"libtorch", kernels.libtorch},
                                                {"cpu", device::cpu_model()}});
  const auto attrs = s.user_attrs();
  const auto it = attrs.find(kKernelsAttr);
  if (it == attrs.end() || !it->second.is_object()) {
    s.set_user_attr(kKernelsAttr, mine);
    return true;
  }
  const auto& theirs = it->second;
  const auto text = [&](const char* key) {
    const auto* v = theirs.find(key);
    return !v ? std::string("?") : v->is_string() ? v->as_string() : v->dump();
  };
  const device::CpuKernels recorded{text("openblas_core"), text("aten_capability"),
                                    theirs.find("threads") && theirs.at("threads").is_int()
                                        ? static_cast<int>(theirs.at("threads").as_int()) : -1,
                                    text("libtorch")};
  if (recorded.same_bits_as(kernels) && text("device") == device) return true;
  if (warn)
    *warn << "normlab: warning: study '" << s.name() << "' was run on " << text("device") << " with "
          << recorded.describe() << " (CPU " << text("cpu") << "); this process runs on " << device << " with "
          << kernels.describe() << ": its new trials will not be bit-identical to the ones the recorded kernels "
          << "would give. To reproduce the study's runs, pin " << recorded.pinning() << " (docs/parity.md).\n";
  return false;
}

/// A process's place in a shared (mean, std) study (open_study_worker).
struct StudyWorker {
  std::unique_ptr<study::Study> study;
  study::WorkerSlot worker;      ///< this process's worker number and sampler seed
  std::size_t trials_before = 0;  ///< the study's trials when this process joined, before the enqueued ones
};

/**
 * Opens (creates, or resumes) the study described by `options` as one of its workers, as every
 * program over (mean, std) does: claims the next worker number (study::join_study), seeds the
 * sampler called `sampler` (search::make_sampler) from `seed` and that number, so that parallel
 * workers propose different points, records the kernels this process trains with on `device`
 * (record_kernels), and, for a new study's first worker when `enqueue_notebook`, enqueues the
 * notebook's (0.1307, 0.3081) and (0, 1) so that they are the first trials. `settings`: the
 * sampler's options (make_sampler), e.g. TPE's constant liar for many workers.
 */
inline StudyWorker open_study_worker(const study::StudyOptions& options, const std::string& sampler, uint64_t seed,
                                     std::unique_ptr<study::Pruner> pruner, const std::string& device,
                                     bool enqueue_notebook = true, const search::SamplerSettings& settings = {}) {
  StudyWorker out;
  out.study = std::make_unique<study::Study>(options, search::make_sampler(sampler, seed, settings), std::move(pruner));
  auto& s = *out.study;
  out.worker = study::join_study(s, seed);
  s.set_sampler(search::make_sampler(sampler, out.worker.seed, settings));
  record_kernels(s, device::cpu_kernels(), device);
  out.trials_before = s.trials().size();
  if (enqueue_notebook && out.trials_before == 0 && out.worker.number == 0) {
    s.enqueue(search::normalization_params(0.1307, 0.3081));
    s.enqueue(search::normalization_params(0.0, 1.0));
  }
  return out;
}

/// The notebook's study in one call: creates (or resumes) the study described by `options`, with
/// the pipeline's Search policy as sampler (seeded with base.seed), and runs `n_trials` more trials
/// of normalization_objective. The study is returned for its trials, best trial, CSV and plots.
template <class PipelineType, class Space = NotebookSpace>
std::unique_ptr<study::Study> run_study(const study::StudyOptions& options, const RunOptions& base,
                                        std::shared_ptr<const data::TrainTest> data, int n_trials,
                                        const study::OptimizeOptions& optimize = {},
                                        std::unique_ptr<study::Pruner> pruner = nullptr) {
  static_assert(detail::check_study_pipeline<PipelineType>());
  auto s = std::make_unique<study::Study>(options, search::search_policy_of_t<PipelineType>::make(base.seed), std::move(pruner));
  device::set_threads(base.threads);
  record_kernels(*s, device::cpu_kernels(), PipelineType::device_t::select().str());
  s->optimize(normalization_objective<PipelineType, Space>(base, std::move(data)), n_trials, optimize);
  return s;
}

}  // namespace normlab
