#pragma once
// A line per finished trial for Study::optimize's callbacks: a bar over the trials of this run, the
// trial's (mean, std), its state and value, and the best value so far. What a person watching a
// study wants to see; a study of other parameters shows theirs the same way.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <ostream>
#include <string>

#include "normlab/study/study.hpp"

namespace normlab::report {

/// The best complete value of `s` in its direction, or NaN when no trial is complete.
inline double best_value(const study::Study& s) {
  double best = NAN;
  const bool maximize = s.direction() == study::StudyDirection::Maximize;
  for (const auto& t : s.trials())
    if (t.state == study::TrialState::Complete && t.value &&
        (std::isnan(best) || (maximize ? *t.value > best : *t.value < best)))
      best = *t.value;
  return best;
}

/// One trial's line: "[#####...............] 5/20  trial 4 mean=0.1 std=0.3  COMPLETE 0.9310  best 0.9400".
inline std::string trial_line(const study::Study& s, const study::FrozenTrial& t, int done, int trials) {
  const int width = 20, filled = std::clamp(width * done / std::max(trials, 1), 0, width);
  char value[32] = "";
  if (t.value) std::snprintf(value, sizeof value, "%.4f", *t.value);
  std::string params;
  char buffer[96];
  for (const auto& [name, x] : t.params) {
    std::snprintf(buffer, sizeof buffer, "%s=%.4g", name.c_str(), x);
    params += (params.empty() ? "" : " ") + std::string(buffer);
  }
  char line[512];
  std::snprintf(line, sizeof line, "[%s%s] %d/%d  trial %lld %s  %s %s  best %.4f",
                std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), done, trials,
                static_cast<long long>(t.number), params.c_str(), study::to_string(t.state), value, best_value(s));
  return line;
}

/**
 * A callback for OptimizeOptions::callbacks that writes trial_line for each finished trial.
 * @param trials the trials this run will finish (the bar's length)
 * @param out where the lines go (std::cerr: stdout stays for results)
 */
inline std::function<void(const study::Study&, const study::FrozenTrial&)> progress_line(int trials,
                                                                                      std::ostream* out = &std::cerr) {
  auto done = std::make_shared<int>(0);
  return [done, trials, out](const study::Study& s, const study::FrozenTrial& t) {
    *out << trial_line(s, t, ++*done, trials) << std::endl;
  };
}

}  // namespace normlab::report
