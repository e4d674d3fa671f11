#pragma once
// The interface a pruner implements (Optuna's BasePruner, single objective). Median and
// successive-halving pruners are built on it. No LibTorch.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "normlab/study/trial.hpp"

namespace normlab::study {

/// Decides, from the intermediate values a trial has reported so far, whether to stop it early.
/// A Study calls prune() from Trial::should_prune(), under the study's lock (a pruner needs no
/// locking of its own), with every trial of the study in number order.
class Pruner {
 public:
  virtual ~Pruner() = default;

  /// True when `trial` (RUNNING; its intermediate_values hold what it reported) should stop.
  /// @param study_trials every trial of the study, `trial` included, ordered by number
  /// @param direction    the study's direction (what "better" means for the reported values)
  virtual bool prune(const std::vector<FrozenTrial>& study_trials, StudyDirection direction,
                     const FrozenTrial& trial) = 0;

  /// How a pruner records a trial's system attribute (successive halving keeps each trial's rung
  /// results there, as Optuna does). The Study sets it to its storage.
  using AttributeWriter = std::function<void(int64_t trial_id, const std::string& key, const std::string& json)>;
  void set_attribute_writer(AttributeWriter writer) { write_attribute_ = std::move(writer); }

 protected:
  AttributeWriter write_attribute_;
};

}  // namespace normlab::study
