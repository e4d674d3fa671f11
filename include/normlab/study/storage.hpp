#pragma once
// Where a study keeps its trials: the subset of Optuna 3.1's BaseStorage that a single-objective
// study needs, with Optuna's semantics (trial numbers, WAITING trials, finished trials that can
// no longer change, heartbeats). Implementations: InMemoryStorage (memory_storage.hpp) and
// SqliteStorage (sqlite_storage.hpp, Optuna's own SQLite schema) and PostgresStorage
// (postgres_storage.hpp, Optuna's schema on PostgreSQL); open_storage(url) in
// open_storage.hpp picks one from a URL. No LibTorch.

#include <chrono>
#include <cstdint>
#include <ctime>
#include <cstdio>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "normlab/detail/format.hpp"
#include "normlab/search/distribution.hpp"
#include "normlab/study/trial.hpp"
#include "normlab/study/url_password.hpp"

namespace normlab::study {

/// A storage-level failure: the database cannot be opened, read or written, or is not a study.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A study, trial or name that does not exist, or a study name that already does.
class NotFoundError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};
class DuplicatedStudyError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A write to a trial that has already finished (COMPLETE, PRUNED or FAIL): Optuna's
/// "Trial#N has already finished and can not be updated."
class TrialFinishedError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// A parameter whose distribution conflicts with the one the study already stores for its name.
class SearchSpaceError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// How strictly a new parameter's distribution must match the one stored for the same name in
/// the study (the first trial that used the name, as Optuna compares).
enum class SpaceCheck {
  /// Same kind, log flag, bounds and step (normlab's default: a study is one search space).
  Strict,
  /// Same kind and log flag only: Optuna 3.1's `check_distribution_compatibility`, which lets a
  /// study widen or narrow a parameter's range between trials.
  KindAndLog,
};

/// `FloatDistribution(low=0.1, high=2.0, log=True, step=None)`, as Python prints it.
inline std::string describe(const search::Distribution& d) {
  using normlab::detail::python_float_repr;
  if (const auto* f = std::get_if<search::FloatDistribution>(&d))
    return "FloatDistribution(low=" + python_float_repr(f->low) + ", high=" + python_float_repr(f->high) +
           ", log=" + (f->log ? "True" : "False") +
           ", step=" + (f->step ? python_float_repr(*f->step) : std::string("None")) + ")";
  const auto& i = std::get<search::IntDistribution>(d);
  return "IntDistribution(low=" + std::to_string(i.low) + ", high=" + std::to_string(i.high) +
         ", log=" + (i.log ? "True" : "False") + ", step=" + std::to_string(i.step) + ")";
}

/// Throws SearchSpaceError when `added` may not be stored next to `stored` for parameter `name`
/// of study `study_name`; the message says which property differs.
inline void check_distribution_compatibility(const search::Distribution& stored,
                                             const search::Distribution& added,
                                             const std::string& name, const std::string& study_name,
                                             SpaceCheck check = SpaceCheck::Strict) {
  using normlab::detail::python_float_repr;
  std::string why;
  if (stored.index() != added.index()) {
    why = "a different distribution kind";
  } else if (search::is_log(stored) != search::is_log(added)) {
    why = std::string("a different log configuration (stored log=") + (search::is_log(stored) ? "True" : "False") +
          ", new log=" + (search::is_log(added) ? "True" : "False") + ")";
  } else if (check == SpaceCheck::Strict) {
    if (const auto* a = std::get_if<search::FloatDistribution>(&stored)) {
      const auto& b = std::get<search::FloatDistribution>(added);
      if (a->low != b.low)
        why = "a different low (stored " + python_float_repr(a->low) + ", new " + python_float_repr(b.low) + ")";
      else if (a->high != b.high)
        why = "a different high (stored " + python_float_repr(a->high) + ", new " + python_float_repr(b.high) + ")";
      else if (a->step != b.step)
        why = "a different step (stored " + (a->step ? python_float_repr(*a->step) : std::string("None")) +
              ", new " + (b.step ? python_float_repr(*b.step) : std::string("None")) + ")";
    } else {
      const auto& ia = std::get<search::IntDistribution>(stored);
      const auto& ib = std::get<search::IntDistribution>(added);
      if (ia.low != ib.low)
        why = "a different low (stored " + std::to_string(ia.low) + ", new " + std::to_string(ib.low) + ")";
      else if (ia.high != ib.high)
        why = "a different high (stored " + std::to_string(ia.high) + ", new " + std::to_string(ib.high) + ")";
      else if (ia.step != ib.step)
        why = "a different step (stored " + std::to_string(ia.step) + ", new " + std::to_string(ib.step) + ")";
    }
  }
  if (why.empty()) return;
  throw SearchSpaceError(
      "normlab: parameter '" + name + "' of study '" + study_name + "' is already stored as " +
      describe(stored) + "; the new " + describe(added) + " has " + why +
      ". A study keeps one distribution per parameter name: use the same one, or a new study name" +
      (check == SpaceCheck::Strict && stored.index() == added.index() &&
               search::is_log(stored) == search::is_log(added)
           ? " (or SpaceCheck::KindAndLog, which lets the bounds change as Optuna does)."
           : "."));
}

namespace detail {

/// Now as naive local time, the way Optuna 3.1 writes `trials.datetime_*`:
/// "YYYY-MM-DD HH:MM:SS.ffffff".
inline std::string local_datetime_now() {
  const auto now = std::chrono::system_clock::now();
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  long frac = static_cast<long>(micros % 1000000);
  if (frac < 0) frac += 1000000, --secs;
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
  return buf;
}

/// The URL with its password (if any) replaced by "***": what messages may show.
inline std::string redact_url(const std::string& url) {
  std::string out = url;
  const auto spans = password_spans(url);
  for (auto span = spans.rbegin(); span != spans.rend(); ++span)  // from the back: earlier offsets stay valid
    out.replace(span->first, span->second - span->first, "***");
  return out;
}

/// "Trial#N has already finished and can not be updated." with normlab's prefix.
inline TrialFinishedError trial_finished_error(int64_t number, TrialState state) {
  return TrialFinishedError("normlab: trial #" + std::to_string(number) + " has already finished (" +
                            to_string(state) + ") and can not be updated");
}

inline bool state_selected(TrialState s, const std::vector<TrialState>& states) {
  if (states.empty()) return true;
  for (auto x : states)
    if (x == s) return true;
  return false;
}

}  // namespace detail

/// Optuna's BaseStorage, single objective. Every member is safe to call from several threads;
/// (An implementation repeats the default arguments below: C++ takes them from the static type.)
/// SqliteStorage is also safe across processes sharing one file.
///
/// Parameter values are in the internal representation (`trial_params.param_value`): a float's
/// own value (linear scale even when log=true), an int as a double. JSON arguments and the
/// attribute maps of FrozenTrial hold JSON text, as `json.dumps` writes it.
class Storage {
 public:
  virtual ~Storage() = default;

  /// A new study; @throws DuplicatedStudyError when `name` exists.
  virtual int64_t create_new_study(const std::string& name, StudyDirection direction) = 0;
  /// The id of study `name`, if it exists.
  virtual std::optional<int64_t> find_study(const std::string& name) = 0;
  virtual StudyDirection study_direction(int64_t study_id) = 0;
  virtual std::string study_name(int64_t study_id) = 0;
  /// Every study's name, in creation order.
  virtual std::vector<std::string> study_names() = 0;
  /// Stores a study-level user attribute (Optuna's `study_user_attributes`; `json` is JSON text).
  virtual void set_study_user_attr(int64_t study_id, const std::string& key, const std::string& json) = 0;
  /// The study's user attributes, key -> JSON text.
  virtual std::map<std::string, std::string> get_study_user_attrs(int64_t study_id) = 0;
  /// Stores a study user attribute only if the key is new, atomically across every process sharing
  /// the storage; returns whether it stored it (how workers claim a worker number).
  virtual bool add_study_user_attr(int64_t study_id, const std::string& key, const std::string& json) = 0;

  /// A new trial, numbered after every trial of the study created before it. Without a template
  /// it is RUNNING with datetime_start = now; with one (e.g. a WAITING trial from enqueue) it
  /// copies the template's state, datetimes, value, params (internal repr), attributes and
  /// intermediate values, as Optuna's `create_new_trial(study_id, template_trial)`.
  virtual FrozenTrial create_new_trial(int64_t study_id,
                                       const std::optional<FrozenTrial>& template_trial = std::nullopt) = 0;

  /// A new RUNNING trial (create_new_trial() without a template), only while the study holds
  /// fewer than `max_trials` trials in the states `counted` (all when empty); nothing when it holds
  /// that many. InMemoryStorage, SqliteStorage and PostgresStorage count and create in one atomic
  /// step, so workers sharing a study never overshoot a study-wide budget; this default, for other
  /// storages, counts and then creates.
  virtual std::optional<FrozenTrial> create_new_trial_within(int64_t study_id, int64_t max_trials,
                                                             const std::vector<TrialState>& counted) {
    if (count_trials(study_id, counted) >= max_trials) return std::nullopt;
    return create_new_trial(study_id);
  }

  /// Stores parameter `name` of an unfinished trial. In the same atomic step it checks the
  /// distribution against the one stored for `name` in the study (see SpaceCheck) and stores
  /// nothing when they conflict. @throws SearchSpaceError, TrialFinishedError.
  virtual void set_trial_param(int64_t trial_id, const std::string& name, double internal_value,
                               const search::Distribution& distribution,
                               SpaceCheck check = SpaceCheck::Strict) = 0;

  /// Moves a trial to `state`, with the objective value if given. Returns false, changing
  /// nothing, when the trial has already finished (so two workers failing/telling the same trial
  /// never clash), or when `state` is RUNNING and the trial is not WAITING (someone else popped
  /// it). RUNNING sets datetime_start = now; a finished state sets datetime_complete = now.
  /// Optuna raises RuntimeError for an already finished trial; normlab returns false.
  virtual bool set_trial_state_values(int64_t trial_id, TrialState state,
                                      std::optional<double> value = std::nullopt) = 0;

  /// Intermediate value at `step` (NaN and infinities allowed). @throws TrialFinishedError.
  virtual void set_trial_intermediate_value(int64_t trial_id, int64_t step, double value) = 0;
  /// `json` is JSON text (`"\"hello\""` for the string hello). @throws TrialFinishedError.
  virtual void set_trial_user_attr(int64_t trial_id, const std::string& key, const std::string& json) = 0;
  virtual void set_trial_system_attr(int64_t trial_id, const std::string& key, const std::string& json) = 0;

  /// @throws NotFoundError for an unknown id.
  virtual FrozenTrial get_trial(int64_t trial_id) = 0;
  /// The study's trials in the given states (all when empty), ordered by number.
  virtual std::vector<FrozenTrial> get_all_trials(int64_t study_id, const std::vector<TrialState>& states = {}) = 0;
  /// How many of the study's trials are in the given states (all when empty).
  virtual int64_t count_trials(int64_t study_id, const std::vector<TrialState>& states = {}) {
    return static_cast<int64_t>(get_all_trials(study_id, states).size());
  }

  /// Atomically takes the WAITING trial with the smallest number and makes it RUNNING with
  /// datetime_start = now; nothing when none is waiting. Two workers never get the same trial.
  virtual std::optional<int64_t> pop_waiting_trial(int64_t study_id) = 0;

  /// pop_waiting_trial(), only while the study holds fewer than `max_trials` trials in the states
  /// `counted`, counted in the same atomic step (as create_new_trial_within): a queued trial (a
  /// retry, an enqueue) never takes a study-wide budget past its cap. This default, for other
  /// storages, counts and then pops.
  virtual std::optional<int64_t> pop_waiting_trial_within(int64_t study_id, int64_t max_trials,
                                                          const std::vector<TrialState>& counted) {
    if (count_trials(study_id, counted) >= max_trials) return std::nullopt;
    return pop_waiting_trial(study_id);
  }

  /// Records that a RUNNING trial is alive now (Optuna's `trial_heartbeats`, UTC).
  virtual void record_heartbeat(int64_t trial_id) = 0;
  /// Fails every RUNNING trial of the study whose last heartbeat is more than `grace_seconds`
  /// old (trials that never recorded one are left alone, as in Optuna) and returns their ids.
  virtual std::vector<int64_t> fail_stale_trials(int64_t study_id, double grace_seconds) = 0;
};

}  // namespace normlab::study
