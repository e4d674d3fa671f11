// study_worker: one worker of a study that many processes share, on any storage normlab speaks
// (docs/distributed.md). Start it N times against one PostgreSQL URL (a shell loop, a Slurm array,
// a Kubernetes Job) and the N processes work on one study: each trial is taken by one worker,
// numbers are dense, and --max-trials caps the whole study exactly (COMPLETE, PRUNED and RUNNING
// trials are counted when a trial is created, in the same transaction). A worker that dies leaves
// its trial RUNNING until its heartbeat lapses; the next worker to ask fails it.
//
// The objective is a cheap stand-in for training: (x - 1)^2 + (y + 2)^2 over [-5, 5]^2, plus
// --sleep-ms of waiting per trial. No LibTorch: it links normlab::study only.
//
//   study_worker --storage postgresql://normlab@localhost:5432/normlab --study-name demo \
//                --trials 20 --max-trials 40 --heartbeat 10
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <unistd.h>

#include "normlab/search/samplers.hpp"
#include "normlab/study/study.hpp"
#include "normlab/study/workers.hpp"

using namespace normlab;

int main(int argc, char** argv) {
  CLI::App app{"One worker of a study shared by many processes (docs/distributed.md)"};
  study::StudyOptions options;
  options.name = "quadratic";
  options.direction = study::StudyDirection::Minimize;
  options.storage_url = "sqlite:///study_worker.sqlite3";
  std::string sampler = "tpe";
  uint64_t seed = 0;
  int trials = 10, max_trials = 0, jobs = 1;
  double heartbeat = 0, sleep_ms = 0;
  bool quiet = false;
  app.add_option("--storage", options.storage_url,
                 "sqlite:///FILE, postgresql://USER@HOST:PORT/DB (or postgresql+psycopg2://...), or empty for memory");
  app.add_option("--study-name", options.name, "study name (joined when it exists)");
  app.add_option("--sampler", sampler, "how trials are proposed")->check(CLI::IsMember({"tpe", "random", "qmc"}));
  app.add_option("--seed", seed, "study seed; each worker's sampler gets its own from it (study/workers.hpp)");
  app.add_option("--trials", trials, "trials this worker runs at most")->check(CLI::Range(0, 1 << 30));
  app.add_option("--max-trials", max_trials, "the whole study's cap, counted over every worker (0: none)")
      ->check(CLI::Range(0, 1 << 30));
  app.add_option("--jobs", jobs, "threads of this worker")->check(CLI::Range(1, 256));
  app.add_option("--heartbeat", heartbeat, "seconds between heartbeats of a running trial (0: none)")
      ->check(CLI::Range(0.0, 1e8));
  app.add_option("--sleep-ms", sleep_ms, "milliseconds each trial waits (a stand-in for training)")
      ->check(CLI::Range(0.0, 1e9));
  app.add_flag("--retry-failed", options.retry_failed_trials, "queue a dead worker's trial again, same parameters");
  app.add_flag("--quiet", quiet, "print the summary line only");
  CLI11_PARSE(app, argc, argv);
  study::detail::hide_url_passwords(argc, argv);  // parsed: `ps` need not show a storage password

  try {
    study::Study s = study::Study::create(options, search::make_sampler(sampler, seed));
    const study::WorkerSlot worker = study::join_study(s, seed);
    s.set_sampler(search::make_sampler(sampler, worker.seed));
    study::OptimizeOptions run;
    run.n_jobs = jobs;
    if (max_trials > 0) {
      run.max_trials = max_trials;
      run.max_trials_states = {study::TrialState::Complete, study::TrialState::Pruned, study::TrialState::Running};
    }
    if (heartbeat > 0) run.heartbeat_interval = heartbeat;
    std::atomic<int> done{0};
    run.callbacks.push_back([&](study::Study&, const study::FrozenTrial& t) {
      ++done;
      if (!quiet)
        std::fprintf(stderr, "study_worker %lld: trial #%lld %s %s\n", static_cast<long long>(worker.number),
                     static_cast<long long>(t.number), study::to_string(t.state),
                     t.value ? std::to_string(*t.value).c_str() : "");
    });
    const auto start = std::chrono::steady_clock::now();
    s.optimize(
        [&](study::Trial& t) {
          const double x = t.suggest_float("x", -5, 5), y = t.suggest_float("y", -5, 5);
          if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(sleep_ms));
          return (x - 1) * (x - 1) + (y + 2) * (y + 2);
        },
        trials, run);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto all = s.trials();
    std::printf("study_worker: worker %lld (pid %d) ran %d trial(s) in %.3f s (%.1f trials/s); study '%s' in %s "
                "holds %zu trial(s)\n",
                static_cast<long long>(worker.number), static_cast<int>(getpid()), done.load(), seconds,
                seconds > 0 ? done / seconds : 0.0, s.name().c_str(),
                options.storage_url.empty() ? "memory" : study::detail::redact_url(options.storage_url).c_str(),
                all.size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "study_worker: %s\n", e.what());
    return 1;
  }
}
