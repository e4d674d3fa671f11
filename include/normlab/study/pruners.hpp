#pragma once
// Pruners with Optuna 3.1's exact rules, judging a trial from its per-epoch intermediate values:
// MedianPruner (PercentilePruner(50)) and SuccessiveHalvingPruner (asynchronous SHA).
// No LibTorch.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "normlab/detail/format.hpp"
#include "normlab/study/pruner.hpp"
#include "normlab/study/trial.hpp"

namespace normlab::study {

/// What a pruner sees: the study's trials and direction, and a way to record a trial attribute
/// (successive halving stores each trial's rung results as Optuna does, "completed_rung_K").
struct PruneContext {
  const std::vector<FrozenTrial>& trials;
  StudyDirection direction;
  std::function<void(int64_t trial_id, const std::string& key, const std::string& json)> set_system_attr;
};

namespace detail {

/// numpy.nanpercentile with the default 'linear' method, including numpy's two-sided lerp.
inline double nanpercentile(std::vector<double> values, double percentile) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return std::isnan(v); }),
               values.end());
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double index = percentile / 100.0 * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(index));
  const auto above = std::min(below + 1, values.size() - 1);
  const double t = index - static_cast<double>(below);
  const double a = values[below], b = values[above];
  const double diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

}  // namespace detail

/// optuna.pruners.PercentilePruner: prune when the trial's best intermediate value is in the
/// bottom `percentile` of the completed trials' values at the same step.
class PercentilePruner {
 public:
  explicit PercentilePruner(double percentile, int n_startup_trials = 5, int n_warmup_steps = 0,
                            int interval_steps = 1, int n_min_trials = 1)
      : percentile_(percentile), n_startup_trials_(n_startup_trials),
        n_warmup_steps_(n_warmup_steps), interval_steps_(interval_steps), n_min_trials_(n_min_trials) {
    if (!(percentile >= 0 && percentile <= 100))
      throw std::invalid_argument("normlab: percentile must be between 0 and 100 (got " +
                                  normlab::detail::shortest_double(percentile) + ")");
    if (n_startup_trials < 0 || n_warmup_steps < 0 || interval_steps < 1 || n_min_trials < 1)
      throw std::invalid_argument(
          "normlab: pruner needs n_startup_trials >= 0, n_warmup_steps >= 0, interval_steps >= 1, "
          "n_min_trials >= 1");
  }

  bool prune(const PruneContext& study, const FrozenTrial& trial) const {
    std::vector<const FrozenTrial*> completed;
    for (const auto& t : study.trials)
      if (t.state == TrialState::Complete) completed.push_back(&t);
    if (completed.empty() || static_cast<int>(completed.size()) < n_startup_trials_) return false;
    const auto step = trial.last_step();
    if (!step || *step < n_warmup_steps_) return false;
    if (!first_in_interval(*step, trial)) return false;

    const bool maximize = study.direction == StudyDirection::Maximize;
    double best = std::numeric_limits<double>::quiet_NaN();  // np.nanmax / np.nanmin
    for (const auto& [s, v] : trial.intermediate_values)
      if (!std::isnan(v) && (std::isnan(best) || (maximize ? v > best : v < best))) best = v;
    if (std::isnan(best)) return true;

    std::vector<double> at_step;
    for (const auto* t : completed) {
      auto found = t->intermediate_values.find(*step);
      if (found != t->intermediate_values.end()) at_step.push_back(found->second);
    }
    if (static_cast<int>(at_step.size()) < n_min_trials_) return false;
    const double p = detail::nanpercentile(at_step, maximize ? 100 - percentile_ : percentile_);
    if (std::isnan(p)) return false;
    return maximize ? best < p : best > p;
  }

 private:
  bool first_in_interval(int64_t step, const FrozenTrial& trial) const {
    const int64_t nearest_lower =
        (step - n_warmup_steps_) / interval_steps_ * interval_steps_ + n_warmup_steps_;
    int64_t second_last = -1;
    for (const auto& [s, v] : trial.intermediate_values)
      if (s > second_last && s != step) second_last = s;
    return second_last < nearest_lower;
  }

  double percentile_;
  int n_startup_trials_, n_warmup_steps_, interval_steps_, n_min_trials_;
};

/// optuna.pruners.MedianPruner: PercentilePruner(50).
class MedianPruner : public PercentilePruner {
 public:
  explicit MedianPruner(int n_startup_trials = 5, int n_warmup_steps = 0, int interval_steps = 1,
                        int n_min_trials = 1)
      : PercentilePruner(50.0, n_startup_trials, n_warmup_steps, interval_steps, n_min_trials) {}
};

/// optuna.pruners.SuccessiveHalvingPruner (asynchronous successive halving). `min_resource`
/// empty means Optuna's "auto": max(last step of the longest completed trial // 100, 1).
class SuccessiveHalvingPruner {
 public:
  explicit SuccessiveHalvingPruner(std::optional<int64_t> min_resource = std::nullopt,
                                   int64_t reduction_factor = 4, int64_t min_early_stopping_rate = 0,
                                   int64_t bootstrap_count = 0)
      : min_resource_(min_resource), reduction_factor_(reduction_factor),
        min_early_stopping_rate_(min_early_stopping_rate), bootstrap_count_(bootstrap_count) {
    if ((min_resource && *min_resource < 1) || reduction_factor < 2 || min_early_stopping_rate < 0 ||
        bootstrap_count < 0 || (bootstrap_count > 0 && !min_resource))
      throw std::invalid_argument(
          "normlab: SuccessiveHalvingPruner needs min_resource >= 1 (or auto), reduction_factor "
          ">= 2, min_early_stopping_rate >= 0, bootstrap_count >= 0 (and no bootstrap with auto)");
  }

  bool prune(const PruneContext& study, const FrozenTrial& trial) {
    const auto step = trial.last_step();
    if (!step) return false;
    int64_t rung = 0;
    while (trial.system_attrs.count(rung_key(rung))) ++rung;
    const double value = trial.intermediate_values.at(*step);
    std::vector<std::string> recorded;  // rung keys written during this call
    while (true) {
      if (!min_resource_) {
        min_resource_ = estimate_min_resource(study.trials);
        if (!min_resource_) return false;
      }
      int64_t promotion_step = *min_resource_;
      for (int64_t i = 0; i < min_early_stopping_rate_ + rung; ++i) promotion_step *= reduction_factor_;
      if (*step < promotion_step) return false;
      if (std::isnan(value)) return true;
      const std::string key = rung_key(rung);
      if (study.set_system_attr) study.set_system_attr(trial.trial_id, key, normlab::detail::python_float_repr(value));
      recorded.push_back(key);
      std::vector<double> competing;
      for (const auto& t : study.trials) {
        if (t.trial_id == trial.trial_id) continue;  // its own value is appended below
        auto found = t.system_attrs.find(key);
        if (found != t.system_attrs.end()) competing.push_back(std::stod(found->second));
      }
      competing.push_back(value);
      if (static_cast<int64_t>(competing.size()) <= bootstrap_count_) return true;
      if (!promotable(value, competing, study.direction)) return true;
      ++rung;
    }
  }

 private:
  static std::string rung_key(int64_t rung) { return "completed_rung_" + std::to_string(rung); }

  static std::optional<int64_t> estimate_min_resource(const std::vector<FrozenTrial>& trials) {
    std::optional<int64_t> last;
    for (const auto& t : trials)
      if (t.state == TrialState::Complete && t.last_step()) last = std::max(last.value_or(0), *t.last_step());
    if (!last) return std::nullopt;
    return std::max<int64_t>(*last / 100, 1);
  }

  bool promotable(double value, std::vector<double> competing, StudyDirection direction) const {
    auto index = static_cast<int64_t>(competing.size()) / reduction_factor_ - 1;
    if (index == -1) index = 0;
    std::sort(competing.begin(), competing.end());
    if (direction == StudyDirection::Maximize)
      return value >= competing[competing.size() - 1 - static_cast<std::size_t>(index)];
    return value <= competing[static_cast<std::size_t>(index)];
  }

  std::optional<int64_t> min_resource_;
  int64_t reduction_factor_, min_early_stopping_rate_, bootstrap_count_;
};

/// A Pruner for a Study from any of the pruners above: `Study::create(o, sampler,
/// make_pruner(MedianPruner()))`.
template <class Rule>
class RulePruner final : public Pruner {
 public:
  explicit RulePruner(Rule rule) : rule_(std::move(rule)) {}
  bool prune(const std::vector<FrozenTrial>& trials, StudyDirection direction, const FrozenTrial& trial) override {
    return rule_.prune(PruneContext{trials, direction, write_attribute_}, trial);
  }

 private:
  Rule rule_;
};

template <class Rule>
  requires(!std::is_convertible_v<Rule, std::string>)  // a name goes to make_pruner(name) below
std::unique_ptr<Pruner> make_pruner(Rule rule) {
  return std::make_unique<RulePruner<Rule>>(std::move(rule));
}

/// The pruner a person names ("none": no pruning, nullptr; "median": MedianPruner(); "sha":
/// SuccessiveHalvingPruner(), each with Optuna's defaults). @throws std::invalid_argument otherwise.
inline std::unique_ptr<Pruner> make_pruner(const std::string& name) {
  if (name == "none") return nullptr;
  if (name == "median") return make_pruner(MedianPruner());
  if (name == "sha") return make_pruner(SuccessiveHalvingPruner());
  throw std::invalid_argument("normlab::make_pruner: unknown pruner \"" + name + "\" (expected \"none\", \"median\" or \"sha\")");
}

}  // namespace normlab::study
