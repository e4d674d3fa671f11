// One TPE proposal (both of the notebook's parameters) given a study of N finished trials, the
// cost Optuna's TPESampler pays per trial. Compare with benchmarks/tpe_vs_optuna.py, or run
// benchmarks/search_speed_vs_optuna.sh for both sides and their ratio.
//   build-*/benchmarks/tpe_benchmark --benchmark_filter=TpeProposal
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "normlab/search/random.hpp"
#include "normlab/search/space.hpp"
#include "normlab/search/tpe.hpp"

namespace search = normlab::search;

namespace {

using NotebookSpace = search::Space<search::Uniform<"mean", -3.0, 3.0>, search::LogUniform<"std", 0.1, 2.0>>;

double objective(double mean, double std) {
  return -((mean - 0.13) * (mean - 0.13)) - std::pow(std::log(std) - std::log(0.31), 2);
}

/// A study of `n` COMPLETE trials proposed by TPE itself (seed 1998), as the notebook's run.
std::vector<search::FrozenTrial> finished_study(int n) {
  const auto space = NotebookSpace::distributions();
  search::TpeSampler sampler(search::TpeOptions().seed(1998));
  std::vector<search::FrozenTrial> trials;
  for (int i = 0; i < n; ++i) {
    search::FrozenTrial t;
    t.number = t.trial_id = i;
    trials.push_back(t);
    for (const auto& [name, dist] : space) {
      const double v = sampler.sample_independent({trials, search::StudyDirection::Maximize}, trials.back(), name, dist);
      trials.back().params[name] = v;
      trials.back().distributions[name] = dist;
    }
    trials.back().state = search::TrialState::Complete;
    trials.back().value = objective(trials.back().params["mean"], trials.back().params["std"]);
  }
  return trials;
}

template <class MakeSampler>
void propose(benchmark::State& state, MakeSampler make) {
  const auto space = NotebookSpace::distributions();
  std::vector<search::FrozenTrial> trials = finished_study(static_cast<int>(state.range(0)));
  auto sampler = make();
  search::FrozenTrial fresh;
  fresh.number = fresh.trial_id = static_cast<int64_t>(trials.size());
  for (auto _ : state) {
    trials.push_back(fresh);
    for (const auto& [name, dist] : space) {
      const double v = sampler.sample_independent({trials, search::StudyDirection::Maximize}, trials.back(), name, dist);
      trials.back().params[name] = v;
      benchmark::DoNotOptimize(v);
    }
    trials.pop_back();
  }
}

void BM_TpeProposal(benchmark::State& state) {
  propose(state, [] { return search::TpeSampler(search::TpeOptions().seed(7)); });
}
/// Optuna's algorithm literally (every candidate exact, 100-step bisections, scalar code): what the
/// fast paths replace, with the same result (tests/search/tpe_kernels_test.cpp).
void BM_TpeProposalReference(benchmark::State& state) {
  search::detail::simd::force_reference() = true;
  propose(state, [] { return search::TpeSampler(search::TpeOptions().seed(7)); });
  search::detail::simd::force_reference() = false;
}
void BM_RandomProposal(benchmark::State& state) {
  propose(state, [] { return search::RandomSampler(7); });
}

}  // namespace

BENCHMARK(BM_TpeProposal)->Arg(50)->Arg(200)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TpeProposalReference)->Arg(200)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RandomProposal)->Arg(200)->Unit(benchmark::kMicrosecond);
