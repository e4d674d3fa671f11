// One trial of a Study (ask + the notebook's two suggest_float calls + tell) on a study of N
// finished TPE trials, in memory and in an SQLite file: what Optuna's study.ask() / suggest_float /
// study.tell() cost per trial. Compare with `benchmarks/tpe_vs_optuna.py [--storage sqlite]`, or run
// benchmarks/search_speed_vs_optuna.sh for both sides and their ratios.
//   build-*/benchmarks/study_benchmark [--benchmark_filter=Sqlite]
//
// As the Python script, the measured trials are told FAIL, so that the study keeps N finished
// trials (FAIL trials are not TPE observations), and there are 50 of them per run (the script's 50
// repeats): the study holds N finished and at most 50 failed trials, as Optuna's does. Use
// --benchmark_repetitions for more runs (each builds its study again).
// The SQLite file lives in $NORMLAB_BENCH_DIR (default: the system's temporary folder).
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "normlab/search/tpe.hpp"
#include "normlab/study/memory_storage.hpp"
#include "normlab/study/sqlite_storage.hpp"
#include "normlab/study/study.hpp"

namespace search = normlab::search;
namespace study = normlab::study;

namespace {

double objective(double mean, double std) {
  return -((mean - 0.13) * (mean - 0.13)) - std::pow(std::log(std) - std::log(0.31), 2);
}

std::filesystem::path bench_dir() {
  if (const char* d = std::getenv("NORMLAB_BENCH_DIR"); d && *d) return d;
  return std::filesystem::temp_directory_path();
}

/// A study of `n` COMPLETE trials proposed by TPE (seed 1998), as the notebook's run; then the
/// sampler is re-seeded with 7 as in tpe_vs_optuna.py.
void fill(study::Study& s, int n) {
  for (int i = 0; i < n; ++i) {
    study::Trial t = s.ask();
    const double mean = t.suggest_float("mean", -3, 3);
    const double std = t.suggest_float("std", 0.1, 2, true);
    s.tell(t, objective(mean, std));
  }
  s.sampler().reseed(7);
}

void run_trials(benchmark::State& state, study::Study& s) {
  for (auto _ : state) {
    study::Trial t = s.ask();
    benchmark::DoNotOptimize(t.suggest_float("mean", -3, 3));
    benchmark::DoNotOptimize(t.suggest_float("std", 0.1, 2, true));
    s.tell(t, study::TrialState::Fail);  // FAIL: the study keeps N finished trials
  }
}

void BM_StudyTrialMemory(benchmark::State& state) {
  study::StudyOptions o;
  o.name = "bench";
  auto storage = std::make_shared<study::InMemoryStorage>();
  study::Study s(storage, o, std::make_unique<search::TpeSampler>(search::TpeOptions().seed(1998)));
  fill(s, static_cast<int>(state.range(0)));
  run_trials(state, s);
}

void BM_StudyTrialSqlite(benchmark::State& state) {
  const std::filesystem::path path =
      bench_dir() / ("normlab_study_benchmark_" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(path);
  {
    study::StudyOptions o;
    o.name = "bench";
    o.storage_url = "sqlite:///" + path.string();
    study::Study s(o, std::make_unique<search::TpeSampler>(search::TpeOptions().seed(1998)));
    fill(s, static_cast<int>(state.range(0)));
    run_trials(state, s);
  }
  std::filesystem::remove(path);
}

}  // namespace

BENCHMARK(BM_StudyTrialMemory)->Arg(50)->Arg(200)->Arg(1000)->Iterations(50)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_StudyTrialSqlite)->Arg(50)->Arg(200)->Arg(1000)->Iterations(50)->Unit(benchmark::kMicrosecond);
