#pragma once
// The two parameters of every (mean, std) study, named in one place: the study files (and Optuna
// reading them), the objectives, the enqueued baselines and the plots all use these names.

#include <map>
#include <string>

#include "normlab/search/space.hpp"

namespace normlab::search {

inline constexpr const char kMeanParam[] = "mean";  ///< Normalize's mean, a trial parameter
inline constexpr const char kStdParam[] = "std";    ///< Normalize's std, a trial parameter

/// The notebook's search space: mean uniform in [-3, 3], std log-uniform in [0.1, 2].
using NotebookSpace = Space<Uniform<kMeanParam, -3.0, 3.0>, LogUniform<kStdParam, 0.1, 2.0>>;

/// A trial's parameters holding (mean, std), e.g. for Study::enqueue.
inline std::map<std::string, double> normalization_params(double mean, double std) {
  return {{kMeanParam, mean}, {kStdParam, std}};
}

}  // namespace normlab::search
