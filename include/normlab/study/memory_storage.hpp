#pragma once
// InMemoryStorage: a study's trials in this process's memory (Optuna's InMemoryStorage, the
// storage of `open_storage("")`). Thread-safe: one mutex guards everything. No LibTorch.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "normlab/study/json.hpp"
#include "normlab/study/storage.hpp"

namespace normlab::study {

/// Studies and trials kept in memory, lost when the object goes. Ids start at 0 (as Optuna's
/// InMemoryStorage). Every member function takes one mutex, so any number of threads may share it.
class InMemoryStorage final : public Storage {
 public:
  int64_t create_new_study(const std::string& name, StudyDirection direction) override {
    std::lock_guard lock(mutex_);
    for (const auto& s : studies_)
      if (s.name == name)
        throw DuplicatedStudyError("normlab: a study named '" + name + "' already exists in this storage");
    studies_.push_back(StudyRecord{name, direction, {}, {}, {}});
    return static_cast<int64_t>(studies_.size()) - 1;
  }

  std::optional<int64_t> find_study(const std::string& name) override {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < studies_.size(); ++i)
      if (studies_[i].name == name) return static_cast<int64_t>(i);
    return std::nullopt;
  }

  StudyDirection study_direction(int64_t study_id) override {
    std::lock_guard lock(mutex_);
    return study(study_id).direction;
  }
  std::string study_name(int64_t study_id) override {
    std::lock_guard lock(mutex_);
    return study(study_id).name;
  }
  std::vector<std::string> study_names() override {
    std::lock_guard lock(mutex_);
    std::vector<std::string> names;
    for (const auto& s : studies_) names.push_back(s.name);
    return names;
  }

  FrozenTrial create_new_trial(int64_t study_id, const std::optional<FrozenTrial>& tmpl = std::nullopt) override {
    std::lock_guard lock(mutex_);
    return create_locked(study_id, tmpl);
  }

  std::optional<FrozenTrial> create_new_trial_within(int64_t study_id, int64_t max_trials,
                                                     const std::vector<TrialState>& counted) override {
    std::lock_guard lock(mutex_);
    if (count_locked(study_id, counted) >= max_trials) return std::nullopt;
    return create_locked(study_id, std::nullopt);
  }

  void set_trial_param(int64_t trial_id, const std::string& name, double internal_value,
                       const search::Distribution& distribution, SpaceCheck check = SpaceCheck::Strict) override {
    if (std::isnan(internal_value))
      throw std::invalid_argument("normlab: parameter '" + name + "' cannot be NaN");
    std::lock_guard lock(mutex_);
    TrialRecord& r = updatable(trial_id);
    StudyRecord& s = study(r.study_id);
    check_param(s, name, distribution, check);
    s.first_distribution.try_emplace(name, distribution);
    r.trial.params[name] = internal_value;
    r.trial.distributions.insert_or_assign(name, distribution);
  }

  bool set_trial_state_values(int64_t trial_id, TrialState state, std::optional<double> value = std::nullopt) override {
    if (value && std::isnan(*value))
      throw std::invalid_argument("normlab: a trial value cannot be NaN (tell() fails such a trial instead)");
    std::lock_guard lock(mutex_);
    FrozenTrial& t = trial(trial_id).trial;
    if (is_finished(t.state)) return false;
    if (state == TrialState::Running && t.state != TrialState::Waiting) return false;
    if (value) t.value = value;
    t.state = state;
    if (state == TrialState::Running) t.datetime_start = detail::local_datetime_now();
    if (is_finished(state)) t.datetime_complete = detail::local_datetime_now();
    return true;
  }

  void set_trial_intermediate_value(int64_t trial_id, int64_t step, double value) override {
    std::lock_guard lock(mutex_);
    updatable(trial_id).trial.intermediate_values[step] = value;
  }
  void set_study_user_attr(int64_t study_id, const std::string& key, const std::string& json) override {
    Json::parse(json);  // only valid JSON text, as in the SQLite storage
    std::lock_guard lock(mutex_);
    study(study_id).user_attrs[key] = json;
  }
  std::map<std::string, std::string> get_study_user_attrs(int64_t study_id) override {
    std::lock_guard lock(mutex_);
    return study(study_id).user_attrs;
  }
  bool add_study_user_attr(int64_t study_id, const std::string& key, const std::string& json) override {
    Json::parse(json);
    std::lock_guard lock(mutex_);
    return study(study_id).user_attrs.emplace(key, json).second;
  }

  void set_trial_user_attr(int64_t trial_id, const std::string& key, const std::string& json) override {
    Json::parse(json);  // only valid JSON text, as in the SQLite storage
    std::lock_guard lock(mutex_);
    updatable(trial_id).trial.user_attrs[key] = json;
  }
  void set_trial_system_attr(int64_t trial_id, const std::string& key, const std::string& json) override {
    Json::parse(json);
    std::lock_guard lock(mutex_);
    updatable(trial_id).trial.system_attrs[key] = json;
  }

  FrozenTrial get_trial(int64_t trial_id) override {
    std::lock_guard lock(mutex_);
    return trial(trial_id).trial;
  }

  std::vector<FrozenTrial> get_all_trials(int64_t study_id, const std::vector<TrialState>& states = {}) override {
    std::lock_guard lock(mutex_);
    std::vector<FrozenTrial> out;
    for (int64_t id : study(study_id).trial_ids) {
      const FrozenTrial& t = trials_.at(id).trial;
      if (detail::state_selected(t.state, states)) out.push_back(t);
    }
    return out;
  }

  int64_t count_trials(int64_t study_id, const std::vector<TrialState>& states = {}) override {
    std::lock_guard lock(mutex_);
    return count_locked(study_id, states);
  }

  std::optional<int64_t> pop_waiting_trial(int64_t study_id) override {
    std::lock_guard lock(mutex_);
    return pop_locked(study_id);
  }

  std::optional<int64_t> pop_waiting_trial_within(int64_t study_id, int64_t max_trials,
                                                  const std::vector<TrialState>& counted) override {
    std::lock_guard lock(mutex_);
    if (count_locked(study_id, counted) >= max_trials) return std::nullopt;
    return pop_locked(study_id);
  }

  void record_heartbeat(int64_t trial_id) override {
    std::lock_guard lock(mutex_);
    trial(trial_id).heartbeat = std::chrono::system_clock::now();
  }

  std::vector<int64_t> fail_stale_trials(int64_t study_id, double grace_seconds) override {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::system_clock::now();
    std::vector<int64_t> failed;
    for (int64_t id : study(study_id).trial_ids) {
      TrialRecord& r = trials_.at(id);
      if (r.trial.state != TrialState::Running || !r.heartbeat) continue;
      if (std::chrono::duration<double>(now - *r.heartbeat).count() > grace_seconds) {
        r.trial.state = TrialState::Fail;
        r.trial.datetime_complete = detail::local_datetime_now();
        failed.push_back(id);
      }
    }
    return failed;
  }

 private:
  /// The study's trials in `counted` (all when empty), under the mutex.
  int64_t count_locked(int64_t study_id, const std::vector<TrialState>& counted) {
    int64_t n = 0;
    for (int64_t id : study(study_id).trial_ids) n += detail::state_selected(trials_.at(id).trial.state, counted);
    return n;
  }

  /// pop_waiting_trial() under the mutex.
  std::optional<int64_t> pop_locked(int64_t study_id) {
    for (int64_t id : study(study_id).trial_ids) {
      FrozenTrial& t = trials_.at(id).trial;
      if (t.state != TrialState::Waiting) continue;
      t.state = TrialState::Running;
      t.datetime_start = detail::local_datetime_now();
      return id;
    }
    return std::nullopt;
  }

  /// create_new_trial() under the mutex.
  FrozenTrial create_locked(int64_t study_id, const std::optional<FrozenTrial>& tmpl) {
    StudyRecord& s = study(study_id);
    FrozenTrial t;
    if (tmpl) {
      // Check every template parameter before storing anything.
      for (const auto& [name, dist] : tmpl->distributions) check_param(s, name, dist, SpaceCheck::Strict);
      t = *tmpl;
      for (const auto& [name, dist] : t.distributions) s.first_distribution.try_emplace(name, dist);
    } else {
      t.state = TrialState::Running;
      t.datetime_start = detail::local_datetime_now();
    }
    t.trial_id = next_trial_id_++;
    t.number = static_cast<int64_t>(s.trial_ids.size());
    s.trial_ids.push_back(t.trial_id);
    trials_.emplace(t.trial_id, TrialRecord{study_id, t, std::nullopt});
    return t;
  }

  struct StudyRecord {
    std::string name;
    StudyDirection direction;
    std::vector<int64_t> trial_ids;                              // in number order
    std::map<std::string, search::Distribution> first_distribution;  // per parameter name
    std::map<std::string, std::string> user_attrs;                     // key -> JSON text
  };
  struct TrialRecord {
    int64_t study_id;
    FrozenTrial trial;
    std::optional<std::chrono::system_clock::time_point> heartbeat;
  };

  StudyRecord& study(int64_t id) {
    if (id < 0 || id >= static_cast<int64_t>(studies_.size()))
      throw NotFoundError("normlab: no study with id " + std::to_string(id) + " in this storage");
    return studies_[static_cast<size_t>(id)];
  }
  TrialRecord& trial(int64_t id) {
    auto it = trials_.find(id);
    if (it == trials_.end())
      throw NotFoundError("normlab: no trial with id " + std::to_string(id) + " in this storage");
    return it->second;
  }
  TrialRecord& updatable(int64_t id) {
    TrialRecord& r = trial(id);
    if (is_finished(r.trial.state)) throw detail::trial_finished_error(r.trial.number, r.trial.state);
    return r;
  }
  static void check_param(const StudyRecord& s, const std::string& name, const search::Distribution& d,
                          SpaceCheck check) {
    auto it = s.first_distribution.find(name);
    if (it != s.first_distribution.end()) check_distribution_compatibility(it->second, d, name, s.name, check);
  }

  std::mutex mutex_;
  std::vector<StudyRecord> studies_;
  std::map<int64_t, TrialRecord> trials_;
  int64_t next_trial_id_ = 0;
};

}  // namespace normlab::study
