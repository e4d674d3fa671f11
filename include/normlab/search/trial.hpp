#pragma once
// A trial as Optuna 3.1 records it (optuna.trial.FrozenTrial), and the states and directions with
// Optuna's numbering and storage names: the vocabulary a sampler reads and a study writes. It lives
// in search/ because samplers need it and search/ is below study/ (docs/layers.md); study/trial.hpp
// brings the same names into normlab::study. No LibTorch.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include "normlab/search/distribution.hpp"

namespace normlab::search {

/// optuna.trial.TrialState, same numbers.
enum class TrialState { Running = 0, Complete = 1, Pruned = 2, Fail = 3, Waiting = 4 };

/// optuna.study.StudyDirection, same numbers.
enum class StudyDirection { NotSet = 0, Minimize = 1, Maximize = 2 };

/// The names the RDB storage writes ('RUNNING', ...).
inline const char* to_string(TrialState s) {
  switch (s) {
    case TrialState::Running: return "RUNNING";
    case TrialState::Complete: return "COMPLETE";
    case TrialState::Pruned: return "PRUNED";
    case TrialState::Fail: return "FAIL";
    case TrialState::Waiting: return "WAITING";
  }
  return "?";
}
inline TrialState trial_state_from_string(const std::string& s) {
  for (auto st : {TrialState::Running, TrialState::Complete, TrialState::Pruned, TrialState::Fail,
                  TrialState::Waiting})
    if (s == to_string(st)) return st;
  throw std::invalid_argument("normlab: unknown trial state '" + s + "'");
}
inline const char* to_string(StudyDirection d) {
  switch (d) {
    case StudyDirection::NotSet: return "NOT_SET";
    case StudyDirection::Minimize: return "MINIMIZE";
    case StudyDirection::Maximize: return "MAXIMIZE";
  }
  return "?";
}
inline StudyDirection study_direction_from_string(const std::string& s) {
  for (auto d : {StudyDirection::NotSet, StudyDirection::Minimize, StudyDirection::Maximize})
    if (s == to_string(d)) return d;
  throw std::invalid_argument("normlab: unknown study direction '" + s + "'");
}
inline bool is_finished(TrialState s) {
  return s == TrialState::Complete || s == TrialState::Pruned || s == TrialState::Fail;
}

/// Everything known about one trial.
struct FrozenTrial {
  int64_t trial_id = -1;  ///< storage-wide id
  int64_t number = -1;    ///< 0-based index within its study
  TrialState state = TrialState::Running;
  std::optional<double> value;                              ///< single objective
  std::map<std::string, double> params;                     ///< internal representation
  std::map<std::string, Distribution> distributions;
  std::map<int64_t, double> intermediate_values;            ///< step -> value (NaN allowed)
  std::map<std::string, std::string> user_attrs;            ///< key -> JSON text
  std::map<std::string, std::string> system_attrs;          ///< key -> JSON text
  std::string datetime_start;     ///< "YYYY-MM-DD HH:MM:SS.ffffff" (local time), empty if none
  std::string datetime_complete;  ///< empty unless finished

  std::optional<int64_t> last_step() const {
    if (intermediate_values.empty()) return std::nullopt;
    return intermediate_values.rbegin()->first;
  }
};

}  // namespace normlab::search
