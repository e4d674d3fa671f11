#pragma once
// The trial vocabulary of a study: FrozenTrial, TrialState, StudyDirection and their storage names,
// as Optuna 3.1 records them. They are defined in normlab/search/trial.hpp (samplers read trials,
// and search/ is below study/: docs/layers.md); this header gives them their study:: names, which
// are the names to use in study code. No LibTorch.

#include "normlab/search/trial.hpp"

namespace normlab::study {

using search::FrozenTrial;
using search::is_finished;
using search::study_direction_from_string;
using search::StudyDirection;
using search::to_string;
using search::trial_state_from_string;
using search::TrialState;

}  // namespace normlab::study
