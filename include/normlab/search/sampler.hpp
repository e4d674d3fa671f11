#pragma once
// The interface a search strategy implements: Optuna's independent sampling. A Study asks its
// sampler for one parameter at a time, in the order the objective suggests them, and shows it
// every trial of the study so far. No LibTorch.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "normlab/search/distribution.hpp"
#include "normlab/search/trial.hpp"

namespace normlab::search {

/// What a sampler may look at: the study's trials (in number order) and its direction.
struct StudyView {
  const std::vector<FrozenTrial>& trials;
  StudyDirection direction;
};

class Sampler {
 public:
  virtual ~Sampler() = default;

  /// Called once when a trial starts, before any parameter is sampled.
  virtual void before_trial(const StudyView&, const FrozenTrial&) {}

  /// A value of `distribution` for parameter `name` of `trial`, in the external representation
  /// (the value the objective sees). `study.trials` holds every trial, `trial` included.
  virtual double sample_independent(const StudyView& study, const FrozenTrial& trial,
                                    const std::string& name, const Distribution& distribution) = 0;

  /// Re-seeds the random number generator(s). A Study calls its sampler under its own lock.
  virtual void reseed(uint64_t seed) = 0;


  /// "tpe", "random", "grid", "qmc".
  virtual std::string name() const = 0;
};

}  // namespace normlab::search
