#pragma once
// Several processes working on one study (a shell loop, a Slurm array, two terminals) must not
// propose the same points: each one claims a worker number in the study and seeds its sampler from
// (seed, worker number). Worker 0, the first process ever to join the study, keeps the seed itself,
// so a study run by one process is reproducible from its seed alone.

#include <unistd.h>

#include <cstdint>
#include <string>

#include "normlab/study/json.hpp"
#include "normlab/study/storage.hpp"
#include "normlab/study/study.hpp"

namespace normlab::study {

/// The sampler seed of worker `worker` for a study seeded with `seed`: `seed` for worker 0, else a
/// SplitMix64 mix of both (well spread even for consecutive worker numbers), kept below 2^32 so
/// that it is a valid numpy seed for the Python twins as well.
inline uint64_t worker_seed(uint64_t seed, int64_t worker) {
  if (worker == 0) return seed;
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(worker + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (z ^ (z >> 31)) & 0xffffffffULL;
}

/// What joining a study gave this process.
struct WorkerSlot {
  int64_t number = 0;      ///< 0 for the first process to join the study, then 1, 2, ...
  uint64_t seed = 0;       ///< its sampler seed: worker_seed(seed, number)
};

/// Claims the next free worker number of the study (atomically, across every process sharing its
/// storage) and records it as the study user attribute `normlab_worker_<n>` = {"seed", "host",
/// "pid", "started"}, which Optuna shows as study.user_attrs.
inline WorkerSlot join_study(Study& s, uint64_t seed) {
  char host[256] = "unknown";
  gethostname(host, sizeof host - 1);
  for (int64_t n = 0;; ++n) {
    const uint64_t mine = worker_seed(seed, n);
    const Json record = Json::object({{"seed", static_cast<int64_t>(mine)},
                                      {"host", std::string(host)},
                                      {"pid", static_cast<int64_t>(getpid())},
                                      {"started", detail::local_datetime_now()}});
    if (s.storage().add_study_user_attr(s.id(), "normlab_worker_" + std::to_string(n), record.dump()))
      return {n, mine};
  }
}

}  // namespace normlab::study
