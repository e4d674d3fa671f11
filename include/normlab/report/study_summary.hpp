#pragma once
// What a study amounts to, in three lines: trials by state, the spread of the objective over the
// complete ones, and the best trial with its parameters.

#include <algorithm>
#include <utility>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <ostream>
#include <string>
#include <vector>

#include "normlab/study/study.hpp"

namespace normlab::report {

/// The objective over complete trials: min, median (the upper one for an even count, as the
/// examples have always printed), max, mean, population std.
struct ValueSpread {
  std::size_t count = 0;
  double min = NAN, median = NAN, max = NAN, mean = NAN, std = NAN;
};

/// The spread of any values (NaN fields when there are none).
inline ValueSpread spread_of(std::vector<double> values) {
  ValueSpread out;
  out.count = values.size();
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  double mean = 0, var = 0;
  for (double a : values) mean += a / values.size();
  for (double a : values) var += (a - mean) * (a - mean) / values.size();
  out.min = values.front(), out.median = values[values.size() / 2], out.max = values.back();
  out.mean = mean, out.std = std::sqrt(var);
  return out;
}

/// The spread of the study's complete values.
inline ValueSpread value_spread(const study::Study& s) {
  std::vector<double> values;
  for (const auto& t : s.trials())
    if (t.state == study::TrialState::Complete && t.value) values.push_back(*t.value);
  return spread_of(std::move(values));
}

/**
 * Writes the study's summary to `out`:
 *   study 'MNIST': 24 trials (24 complete, 0 pruned, 0 failed, 0 running, 0 waiting)
 *   accuracy across complete trials: min 0.1135  median 0.9250  max 0.9510  mean 0.8123  std 0.2500
 *   best trial 7: mean=0.3 std=0.8 accuracy=0.9510
 * (the last two only when a trial is complete). @param target what the objective is called
 */
inline void summarize(const study::Study& s, std::ostream& out = std::cout, const std::string& target = "accuracy") {
  int counts[5] = {0, 0, 0, 0, 0};
  const auto trials = s.trials();
  for (const auto& t : trials) ++counts[static_cast<int>(t.state)];
  char line[512];
  std::snprintf(line, sizeof line, "study '%s': %zu trials (%d complete, %d pruned, %d failed, %d running, %d waiting)\n",
                s.name().c_str(), trials.size(), counts[1], counts[2], counts[3], counts[0], counts[4]);
  out << line;
  const auto spread = value_spread(s);
  if (spread.count == 0) return;
  std::snprintf(line, sizeof line, "%s across complete trials: min %.4f  median %.4f  max %.4f  mean %.4f  std %.4f\n",
                target.c_str(), spread.min, spread.median, spread.max, spread.mean, spread.std);
  out << line;
  const auto best = s.best_trial();
  std::string params;
  for (const auto& [name, x] : best.params) {
    std::snprintf(line, sizeof line, "%s=%.6g ", name.c_str(), x);
    params += line;
  }
  std::snprintf(line, sizeof line, "best trial %lld: %s%s=%.4f\n", static_cast<long long>(best.number),
                params.c_str(), target.c_str(), *best.value);
  out << line << std::flush;
}

}  // namespace normlab::report
