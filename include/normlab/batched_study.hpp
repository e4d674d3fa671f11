#pragma once
// K normalization variants of the notebook's LeNet protocol trained in ONE pass: a study's K trials
// at once, each computing what it would compute alone.
//
//   auto runs = run_variants<SeedMnist>(options, data, {NormalizationValues::uniform(0.1, 0.3), ...});
//   auto study = run_study_batched<SeedMnist>(study_options, options, data, 64, /*k=*/8);
//
// What the K runs share, so that it is done once instead of K times:
// - the data: one copy on the device, one slice per batch, the DataLoader's random draws
//   (data::EpochOrder) once per epoch;
// - the dropout masks: all K alone runs draw the same masks (same seed, same shapes, same data
//   order), so each mask is drawn once per step exactly as one LeNet draws it and applied to every
//   variant. On the CPU they come from a bulk re-implementation of LibTorch's generator
//   (detail::DropoutMasks: the same bits and the same generator state afterwards, checked against
//   torch::dropout once per process; a serial per-element bernoulli_ is ~15% of a LeNet step);
// - the initial weights: each variant is torch::manual_seed(seed) + LeNet's initialisation, then its
//   own compensation, as alone; the generator is left where one alone run leaves it.
// Each variant keeps its own optimizer and scheduler (made by the Pipeline's policies) over its
// slice of the stacked parameters, so each keeps its own learning rate.
//
// Two ways to compute the K networks (VariantKernels):
// - Grouped (the default on CUDA): the K inputs made as one [B, K, 28, 28] tensor (x / 255 once,
//   then - mean_k and / std_k broadcast), conv1 and conv2 as grouped convolutions (groups = K; on
//   the CPU conv1 stays one variant at a time, see MultiLeNet::forward), fc1 and fc2 as batched
//   matrix products (baddbmm, with a backward that keeps Linear's operand order), one nll_loss for
//   all K, loss = sum of the K mean losses (so each variant receives exactly its own gradient), and
//   with the notebook's Adadelta one optimizer step for all K (optim::StackedAdadelta over one flat
//   buffer holding every variant's parameters, each variant at the learning rate its own scheduler
//   set). A step is then about as many kernels as ONE LeNet step, each K times larger: the win on a
//   GPU, where a LeNet step is launch-bound. On the CPU it agrees with the alone runs to ~1e-7 per
//   step (losses reduced in another order; oneDNN splits grouped gradients between threads
//   differently); it is the slower choice there.
// - PerVariant (the default on the CPU): each variant's layers are the alone run's own kernels on
//   the alone run's shapes, so every variant is bit-identical to its alone run. With `workers` > 1
//   (the default: one per intra-op thread) variants run side by side on single-threaded workers,
//   each bit-identical to its alone run with one thread: LeNet's kernels at batch 64 split poorly
//   between two threads (1.6x for 2 cores), K variants on two workers split perfectly. On this
//   project's CPU, oneDNN's grouped convolution over K = 8 is 1.4x (one thread) to 2.6x (two
//   threads) slower per variant than 8 ungrouped ones: its activations (~75 MB) no longer fit the
//   caches and are reordered between layouts.
// tests/train/multi_variant_test.cpp checks both against alone runs over an epoch of the fixture.
//
// This header: the study helpers (run_study_batched, run_trials_batched). The trainer itself
// (MultiLeNet, VariantTrainer, run_variants) is in train/variant_trainer.hpp, which pipeline.hpp
// includes for RunOptions::fast without pulling in the study code.

#include <algorithm>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "normlab/pipeline.hpp"
#include "normlab/search/samplers.hpp"
#include "normlab/search/normalization_space.hpp"
#include "normlab/search/space.hpp"
#include "normlab/study/study.hpp"
#include "normlab/train/variant_trainer.hpp"

namespace normlab {

/// The notebook's search space (normalization_study.hpp's NotebookSpace, the same type).
using BatchedNotebookSpace = search::NotebookSpace;

/// The loop of run_study_batched on an existing study: rounds of K trials until `n_trials` are done.
template <class PipelineType, class Space = BatchedNotebookSpace>
void run_trials_batched(study::Study& s, const RunOptions& base, const data::TrainTest& data, int n_trials, int k,
                        VariantOptions more = {}) {
  static_assert(detail::check_study_pipeline<PipelineType>());
  if (k <= 0) throw std::invalid_argument("normlab::run_study_batched: k must be > 0");
  interrupt::clear();
  InterruptGuard on_ctrl_c;  // Ctrl-C: the round's trials are recorded as FAIL and queued again
  struct ClearOnExit {
    ~ClearOnExit() { interrupt::clear(); }  // a request is handled once: Interrupted carries it on
  } clear_on_exit;
  for (int done = 0; done < n_trials;) {
    interrupt::check();
    const int round = std::min(k, n_trials - done);
    std::vector<study::Trial> trials;
    std::vector<NormalizationValues> variants;
    for (int i = 0; i < round; ++i) {
      trials.push_back(s.ask());
      const auto params = Space::suggest(trials.back());
      variants.push_back(NormalizationValues::from_params(params));
    }
    std::vector<bool> pruned(trials.size(), false);
    more.on_epoch = [&](std::size_t i, const EpochRecord& r) {
      trials[i].report(r.accuracy, r.epoch);
      if (trials[i].should_prune()) pruned[i] = true;
      return !pruned[i];
    };
    std::vector<VariantRun> runs;
    try {
      runs = run_variants<PipelineType>(base, data, variants, more);
    } catch (const Interrupted& e) {
      for (auto& t : trials) s.enqueue_retry(s.tell(t, study::TrialState::Fail, e.what()));
      throw;
    } catch (const std::exception& e) {  // the whole round failed: each of its trials FAILs
      for (auto& t : trials) s.tell(t, study::TrialState::Fail, e.what());
      done += round;
      continue;
    }
    for (std::size_t i = 0; i < trials.size(); ++i) {
      const auto& r = runs[i].result;
      trials[i].set_user_attr("correct", r.correct);
      trials[i].set_user_attr("total", r.total);
      trials[i].set_user_attr("seconds", r.seconds);
      trials[i].set_user_attr("batched_with", static_cast<int64_t>(trials.size()));
      if (!runs[i].diverged.empty())
        s.tell(trials[i], study::TrialState::Fail, runs[i].diverged);
      else if (pruned[i])
        s.tell(trials[i], study::TrialState::Pruned);
      else
        s.tell(trials[i], r.accuracy);
    }
    done += round;
  }
}

/**
 * The notebook's study, K trials at a time: asks the study for K trials (study.ask() K times),
 * suggests each trial's (mean, std) from Space, trains the K variants together (run_variants),
 * reports every epoch's accuracy to each trial (a pruned trial stops and is told PRUNED), and tells
 * the K results (a diverged trial FAILs with the reason, as normalization_objective does). Repeats
 * until `n_trials` trials are done; the last round may hold fewer than K.
 *
 * The sampler proposes K trials before it hears any of their results (as Optuna's does with
 * n_jobs = K), so a batched study explores differently from a one-at-a-time one; each trial's value
 * is what an alone run with its (mean, std) gives.
 */
template <class PipelineType, class Space = BatchedNotebookSpace>
std::unique_ptr<study::Study> run_study_batched(const study::StudyOptions& options, const RunOptions& base,
                                                std::shared_ptr<const data::TrainTest> data, int n_trials, int k,
                                                std::unique_ptr<study::Pruner> pruner = nullptr,
                                                VariantOptions more = {}) {
  static_assert(detail::check_study_pipeline<PipelineType>());
  auto s = std::make_unique<study::Study>(options, search::search_policy_of_t<PipelineType>::make(base.seed), std::move(pruner));
  run_trials_batched<PipelineType, Space>(*s, base, *data, n_trials, k, std::move(more));
  return s;
}

}  // namespace normlab
