#pragma once
// Study and Trial: Optuna 3.1's single-objective optimisation loop in C++ (create_study with
// load_if_exists, ask / tell, optimize with n_jobs threads, enqueue_trial, pruning, heartbeats),
// on any Storage. A study in an SQLite file is shared with Python's Optuna in both directions:
// the notebook's
//     study = optuna.create_study(direction='maximize', load_if_exists=True,
//                                 storage="sqlite:///optuna-MNIST.sqlite3", study_name='MNIST')
//     study.optimize(objective, n_trials=200)
// is Study::create({"MNIST", StudyDirection::Maximize, "sqlite:///optuna-MNIST.sqlite3"}, sampler)
// followed by study.optimize(objective, 200). No LibTorch. See docs/study.md.
//
// Its pieces, each in its own header: Optuna's Decimal arithmetic on step grids (decimal.hpp),
// the CSV of trials_dataframe() (csv_export.hpp), a running trial's heartbeat thread
// (heartbeat.hpp). Including study.hpp includes them.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "normlab/detail/compiled.hpp"
#include "normlab/detail/format.hpp"
#include "normlab/interrupt.hpp"
#include "normlab/search/distribution.hpp"
#include "normlab/search/sampler.hpp"
#include "normlab/study/csv_export.hpp"
#include "normlab/study/decimal.hpp"
#include "normlab/study/heartbeat.hpp"
#include "normlab/study/json.hpp"
#include "normlab/study/open_storage.hpp"
#include "normlab/study/pruner.hpp"
#include "normlab/study/storage.hpp"
#include "normlab/study/trial.hpp"

namespace normlab::study {

/// Thrown by an objective to stop its trial early (optuna.TrialPruned): the trial becomes PRUNED,
/// with its last intermediate value as its value.
class TrialPruned : public std::runtime_error {
 public:
  explicit TrialPruned(const std::string& why = "trial pruned") : std::runtime_error(why) {}
};

/// The system attribute in which normlab stores why a trial FAILED (a JSON string). Optuna 3.1
/// only logs the reason; Optuna ignores unknown system attributes, so files stay compatible.
inline constexpr const char* kFailReasonKey = "fail_reason";

/// How to open (or create) a study: optuna.create_study's arguments.
struct StudyOptions {
  /// Study name; empty: a fresh "no-name-<uuid4>", as Optuna.
  std::string name;
  /// Stored with a new study; an existing study must have the same one (or NOT_SET).
  StudyDirection direction = StudyDirection::Maximize;
  /// "" (memory), "sqlite:///relative.db", "sqlite:////absolute.db",
  /// "postgresql://user@host:port/database" (see open_storage(); docs/distributed.md).
  std::string storage_url;
  /// Continue an existing study of this name (true, the notebook's choice) or refuse it.
  bool load_if_exists = true;
  /// Refuse to create the study: it must exist (optuna.load_study).
  bool require_existing = false;
  /// Optuna schema revision of a new SQLite file: v3_0_0_d for Optuna 3.0/3.1, v3_2_0_a for >= 3.2.
  SchemaVersion schema = SchemaVersion::v3_0_0_d;
  /// Strict: a parameter keeps its bounds, step and log flag for the whole study (normlab);
  /// KindAndLog: the bounds may change between trials (Optuna).
  SpaceCheck space_check = SpaceCheck::Strict;
  /// An objective value of +-inf FAILs the trial (true, normlab) or COMPLETEs it with the infinite
  /// value, stored as INF_POS / INF_NEG (false, Optuna 3.1). NaN always FAILs, as in Optuna.
  bool infinite_values_fail = true;
  /// Seconds between heartbeats of a running trial in optimize(); unset: no heartbeats (Optuna's
  /// RDBStorage(heartbeat_interval=...)). With it, ask() first FAILs the study's RUNNING trials
  /// whose last heartbeat is older than the grace period: workers that died.
  std::optional<double> heartbeat_interval;
  /// Grace period in seconds; unset: 2 * heartbeat_interval, as Optuna.
  std::optional<double> grace_period;
  /// A trial FAILed because its heartbeat lapsed (its worker died) is queued again with the same
  /// parameters (enqueue_retry), and the next ask() in any worker runs it: Optuna's
  /// RDBStorage(failed_trial_callback=RetryFailedTrialCallback(max_retry)).
  bool retry_failed_trials = false;
  /// How many times one trial's parameters are retried; unset: no limit (Optuna's max_retry=None).
  std::optional<int> max_retry;
};

namespace detail {

/// A random UUID version 4 ("no-name-<uuid>" study names, as Optuna).
inline std::string uuid4() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  uint64_t hi = gen(), lo = gen();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

}  // namespace detail

class Study;

/// What a progress callback sees after each finished trial of optimize().
struct OptimizeProgress {
  int64_t finished = 0;            ///< trials this optimize() call has finished
  int64_t n_trials = 0;            ///< the n_trials it was asked for
  double elapsed_seconds = 0;
  const FrozenTrial* last = nullptr;        ///< the trial that just finished
  std::optional<FrozenTrial> best;          ///< the study's best COMPLETE trial so far
};

/// optimize()'s settings beyond the objective and the number of trials.
struct OptimizeOptions {
  /// Worker threads in this process (-1: one per hardware thread). The sampler and pruner are
  /// called under the study's lock; objectives run in parallel.
  int n_jobs = 1;
  /// Stop when the study (every process sharing it) holds this many trials in
  /// `max_trials_states`, checked before each new trial: optuna.study.MaxTrialsCallback. The check
  /// and the new trial are one atomic step of the storage (Storage::create_new_trial_within), so
  /// with RUNNING among the states (e.g. {COMPLETE, PRUNED, RUNNING}) workers sharing the study
  /// never run more than max_trials trials between them.
  std::optional<int64_t> max_trials;
  /// MaxTrialsCallback's default: COMPLETE only (running trials are not counted, so several
  /// workers may finish a few more than max_trials). With RUNNING among them and a heartbeat
  /// interval, a worker that finds the budget spent waits while trials are still RUNNING: one of a
  /// worker that died FAILs once its heartbeat lapses, and its place is taken again.
  std::vector<TrialState> max_trials_states = {TrialState::Complete};
  /// Start no new trial after this many seconds (Optuna's timeout).
  std::optional<double> timeout_seconds;
  /// Called after each trial, one at a time (Optuna's callbacks); may call Study::stop().
  std::vector<std::function<void(Study&, const FrozenTrial&)>> callbacks;
  /// Called after each trial, one at a time.
  std::function<void(const OptimizeProgress&)> progress;
  /// A one-line bar on stderr (Optuna's show_progress_bar).
  bool show_progress_bar = false;
  /// Seconds between heartbeats of each running trial, for this call; unset: the study's
  /// StudyOptions::heartbeat_interval. With one, each new trial first FAILs the study's RUNNING
  /// trials whose heartbeat is older than the grace period (StudyOptions::grace_period, default
  /// twice the interval): trials of workers that died.
  std::optional<double> heartbeat_interval;
  /// false (normlab): an exception from the objective FAILs the trial, its what() is stored in the
  /// system attribute "fail_reason", and the study goes on. true (Optuna without `catch`): the
  /// trial is FAILed the same way and the exception is rethrown once every worker has stopped.
  bool rethrow_exceptions = false;
};

/// A running trial, handed to the objective (optuna.trial.Trial). Use it from one thread.
class Trial {
 public:
  /// A float in [low, high] (log-uniform with `log`, on the grid low + k*step with `step`):
  /// Optuna's suggest_float. A value fixed by enqueue() is returned as is. A second call with the
  /// same name returns the first value. @throws SearchSpaceError when the study already stores a
  /// different distribution for `name` (see StudyOptions::space_check); nothing is stored then.
  double suggest_float(const std::string& name, double low, double high, bool log = false,
                       std::optional<double> step = std::nullopt) {
    return suggest(name, search::FloatDistribution{low, high, log, step});
  }

  /// An integer in [low, high] on the grid low + k*step (Optuna's suggest_int).
  long long suggest_int(const std::string& name, long long low, long long high, long long step = 1,
                        bool log = false) {
    return static_cast<long long>(std::llround(suggest(name, search::IntDistribution{low, high, log, step})));
  }

  /// A value of any distribution (suggest_float / suggest_int by their distribution): validated,
  /// with `high` adjusted to the step grid as Optuna does.
  double suggest(const std::string& name, search::Distribution d);

  /// Reports an intermediate objective value at `step` (>= 0), e.g. the accuracy after an epoch.
  /// As in Optuna, a second report for the same step is ignored.
  void report(double value, int64_t step);

  /// Whether the study's pruner wants this trial stopped (false without a pruner). Throw
  /// TrialPruned from the objective to act on it.
  bool should_prune();

  /// Stores a user attribute (any JSON value: `trial.set_user_attr("epochs", 14)`).
  void set_user_attr(const std::string& key, const Json& value);

  int64_t number() const { return frozen_.number; }
  int64_t id() const { return frozen_.trial_id; }
  /// The parameters suggested so far (ints as whole doubles).
  const std::map<std::string, double>& params() const { return frozen_.params; }
  const std::map<std::string, search::Distribution>& distributions() const { return frozen_.distributions; }
  /// The intermediate values reported so far.
  const std::map<int64_t, double>& intermediate_values() const { return frozen_.intermediate_values; }
  Study& study() const { return *study_; }
  /// This process's view of the trial: its state, attributes (fixed_params of an enqueued one).
  const FrozenTrial& frozen() const { return frozen_; }

 private:
  friend class Study;
  Trial(Study& study, FrozenTrial frozen);
  double suggest_validated(const std::string& name, const search::Distribution& d);

  Study* study_;
  FrozenTrial frozen_;                  // this process's view of the trial
  std::map<std::string, Json> fixed_;   // the fixed_params system attribute (enqueue)
};

/// A study: a named set of trials in a Storage, a direction, a sampler and an optional pruner.
/// Thread-safe: ask/tell/optimize may run from several threads at once.
class Study {
 public:
  /// optuna.create_study / optuna.load_study.
  /// @throws NotFoundError          the study does not exist and `require_existing` is set
  /// @throws DuplicatedStudyError   it exists and `load_if_exists` is false
  /// @throws std::invalid_argument  its stored direction differs from `options.direction`, no
  ///                                sampler, or a malformed storage URL
  /// @throws StorageError           the storage cannot be opened (see SqliteStorage)
  static Study create(StudyOptions options, std::unique_ptr<search::Sampler> sampler,
                      std::unique_ptr<Pruner> pruner = nullptr) {
    return Study(std::move(options), std::move(sampler), std::move(pruner));
  }

  Study(StudyOptions options, std::unique_ptr<search::Sampler> sampler, std::unique_ptr<Pruner> pruner = nullptr)
      : Study(open_for(options), options, std::move(sampler), std::move(pruner)) {}

  /// The same on a storage object shared with other Study objects (e.g. one InMemoryStorage);
  /// `options.storage_url` is then only used in messages.
  Study(std::shared_ptr<Storage> storage, StudyOptions options, std::unique_ptr<search::Sampler> sampler,
        std::unique_ptr<Pruner> pruner = nullptr);

  Study(const Study&) = delete;
  Study& operator=(const Study&) = delete;

  const std::string& name() const { return options_.name; }
  StudyDirection direction() const { return options_.direction; }
  int64_t id() const { return study_id_; }
  const StudyOptions& options() const { return options_; }
  Storage& storage() { return *storage_; }
  search::Sampler& sampler() { return *sampler_; }
  /// Replaces the sampler, e.g. once this worker's seed is known (study/workers.hpp). Not while
  /// optimize() runs.
  void set_sampler(std::unique_ptr<search::Sampler> sampler) {
    if (!sampler) throw std::invalid_argument("normlab: Study::set_sampler needs a sampler");
    std::lock_guard lock(mutex_);
    sampler_ = std::move(sampler);
  }
  /// Whether this object created the study (false: it existed).
  bool created() const { return created_; }
  /// Stores a study user attribute (Optuna's `study.set_user_attr`; any JSON value).
  void set_user_attr(const std::string& key, const Json& value) {
    storage_->set_study_user_attr(study_id_, key, value.dump());
  }
  /// The study's user attributes (Optuna's `study.user_attrs`), key -> JSON value.
  std::map<std::string, Json> user_attrs() const {
    std::map<std::string, Json> attrs;
    for (const auto& [key, text] : storage_->get_study_user_attrs(study_id_)) attrs.emplace(key, Json::parse(text));
    return attrs;
  }

  /// A new trial (Study.ask): the oldest WAITING (enqueued) trial if any, else a new RUNNING one.
  /// With a heartbeat interval, first FAILs the study's stale RUNNING trials.
  Trial ask() { return *ask_with(options_.heartbeat_interval); }

  /// The oldest WAITING (enqueued) trial, now RUNNING; nothing when none waits (where ask() would
  /// create a new trial). Workers sharing a fixed list of enqueued points take them with it.
  std::optional<Trial> ask_enqueued() {
    const std::optional<int64_t> popped = storage_->pop_waiting_trial(study_id_);
    if (!popped) return std::nullopt;
    return prepared(storage_->get_trial(*popped));
  }

  /// FAILs the study's RUNNING trials whose heartbeat is older than the grace period (their
  /// workers died) and, with StudyOptions::retry_failed_trials, queues each again (Optuna's
  /// fail_stale_trials with its failed_trial_callback). ask() with a heartbeat interval, and
  /// optimize() with one, do this themselves. Only the worker whose FAIL took effect queues the
  /// retry, so a dead worker's trial is retried once.
  void fail_stale_trials(double heartbeat_interval) {
    for (int64_t id : storage_->fail_stale_trials(study_id_, grace_period(heartbeat_interval))) {
      if (!options_.retry_failed_trials) continue;
      const FrozenTrial failed = storage_->get_trial(id);
      if (options_.max_retry && retry_history_length(failed) + 1 > *options_.max_retry) continue;
      enqueue_retry(failed);
    }
  }

  /// Finishes `trial` with its objective value (Study.tell): COMPLETE, or FAIL when the value is
  /// NaN (or infinite, see StudyOptions::infinite_values_fail), with the reason in the system
  /// attribute "fail_reason". @throws std::logic_error when the trial has already finished.
  FrozenTrial tell(Trial& trial, double value) { return tell_value(trial.id(), value, false); }

  /// Finishes `trial` as PRUNED (its last feasible intermediate value becomes its value, as in
  /// Optuna 3.1) or FAIL (with `reason` stored when given). @throws std::invalid_argument for
  /// other states, std::logic_error when the trial has already finished.
  FrozenTrial tell(Trial& trial, TrialState state, const std::string& reason = "") {
    return tell_state(trial.id(), state, reason, false);
  }

  /// Runs `objective` on `n_trials` new trials (Study.optimize), `options.n_jobs` at a time.
  /// An exception from the objective FAILs its trial (see OptimizeOptions::rethrow_exceptions),
  /// TrialPruned PRUNEs it, a NaN value FAILs it. Errors of the storage, sampler or callbacks stop
  /// every worker and are rethrown. SIGINT/SIGTERM (Ctrl-C) during optimize() starts no new trial;
  /// a trial whose objective stops for it (normlab's training loops check between batches) is
  /// FAILed with the reason and queued again (enqueue_retry), so the next run of the study reruns
  /// it first; then Interrupted is thrown (its exit_code() is the shell's 130 for SIGINT).
  void optimize(const std::function<double(Trial&)>& objective, int n_trials, OptimizeOptions options = {});

  /// Stops optimize() after the running trials (Study.stop; for callbacks).
  void stop() { stop_ = true; }

  /// Adds a WAITING trial whose parameters are fixed to `params` (Study.enqueue_trial): the next
  /// ask() here, or in Optuna, pops it and its suggest_* calls return these values. Stored as
  /// Optuna does: the system attribute fixed_params = {"name": value, ...}.
  /// @param skip_if_exists do nothing when a trial with these fixed (or suggested) params exists
  void enqueue(const std::map<std::string, double>& params, bool skip_if_exists = false) {
    if (skip_if_exists) {
      for (const FrozenTrial& t : trials()) {
        std::map<std::string, double> existing = t.params;
        if (auto it = t.system_attrs.find("fixed_params"); it != t.system_attrs.end()) {
          existing.clear();
          const Json fixed = Json::parse(it->second);
          if (fixed.is_object())
            for (const auto& [k, v] : fixed.as_object())
              if (v.is_number()) existing[k] = v.as_double();
        }
        if (existing == params) return;
      }
    }
    Json fixed = Json(Json::Object{});
    for (const auto& [name, value] : params) fixed.set(name, Json(value));
    FrozenTrial tmpl;
    tmpl.state = TrialState::Waiting;
    tmpl.system_attrs["fixed_params"] = fixed.dump();
    storage_->create_new_trial(study_id_, tmpl);
  }

  /// Adds a WAITING copy of a finished trial, with its parameters, distributions and user
  /// attributes, so that the next ask() here or in Optuna runs it again: Optuna's
  /// RetryFailedTrialCallback. Its system attributes say which trial it retries:
  /// failed_trial (the first of the chain) and retry_history (every earlier number).
  void enqueue_retry(const FrozenTrial& failed) {
    FrozenTrial tmpl;
    tmpl.state = TrialState::Waiting;
    tmpl.params = failed.params;
    tmpl.distributions = failed.distributions;
    tmpl.user_attrs = failed.user_attrs;
    Json history = Json(Json::Array{});
    if (auto it = failed.system_attrs.find("retry_history"); it != failed.system_attrs.end()) {
      const Json earlier = Json::parse(it->second);
      if (earlier.is_array()) history = earlier;
    }
    std::string first = std::to_string(failed.number);
    if (auto it = failed.system_attrs.find("failed_trial"); it != failed.system_attrs.end()) first = it->second;
    Json::Array items = history.as_array();
    items.push_back(Json(failed.number));
    tmpl.system_attrs["failed_trial"] = first;
    tmpl.system_attrs["retry_history"] = Json(std::move(items)).dump();
    if (auto it = failed.system_attrs.find("fixed_params"); it != failed.system_attrs.end())
      tmpl.system_attrs["fixed_params"] = it->second;
    storage_->create_new_trial(study_id_, tmpl);
  }

  /// The study's trials (in the given states; all when empty), ordered by number.
  std::vector<FrozenTrial> trials(const std::vector<TrialState>& states = {}) const {
    return storage_->get_all_trials(study_id_, states);
  }

  /// The COMPLETE trial with the best value (the smallest number among ties).
  /// @throws NotFoundError when no trial is COMPLETE.
  FrozenTrial best_trial() const;
  double best_value() const { return *best_trial().value; }
  std::map<std::string, double> best_params() const { return best_trial().params; }

  /// Writes the trials as CSV, with the columns of Optuna's trials_dataframe(): number, value,
  /// datetime_start, datetime_complete, duration, params_<name> (sorted by name), state.
  void write_csv(std::ostream& out) const;
  /// write_csv() into the file `path`. @throws std::runtime_error when it cannot be written.
  void export_csv(const std::string& path) const {
    std::ofstream out(path);
    if (!out) throw std::runtime_error("normlab: cannot write the CSV file '" + path + "'");
    write_csv(out);
    if (!out.flush()) throw std::runtime_error("normlab: cannot write the CSV file '" + path + "'");
  }

 private:
  friend class Trial;

  double grace_period(double interval) const { return options_.grace_period ? *options_.grace_period : 2 * interval; }

  /// How many times the parameters of `t` ran before it (its retry_history system attribute).
  static std::size_t retry_history_length(const FrozenTrial& t) {
    const auto it = t.system_attrs.find("retry_history");
    if (it == t.system_attrs.end()) return 0;
    const Json history = Json::parse(it->second);
    return history.is_array() ? history.as_array().size() : 0;
  }

  /// ask(); with `budget` (optimize()'s max_trials), a new trial is created only while the study
  /// holds fewer than max_trials trials in max_trials_states, counted in the storage's atomic step
  /// that creates it (Storage::create_new_trial_within): nothing when the budget is spent.
  std::optional<Trial> ask_with(std::optional<double> heartbeat_interval, const OptimizeOptions* budget = nullptr) {
    if (heartbeat_interval) fail_stale_trials(*heartbeat_interval);
    const bool budgeted = budget && budget->max_trials;
    std::optional<int64_t> popped =
        budgeted ? storage_->pop_waiting_trial_within(study_id_, *budget->max_trials, budget->max_trials_states)
                 : storage_->pop_waiting_trial(study_id_);
    std::optional<FrozenTrial> frozen;
    if (popped) frozen = storage_->get_trial(*popped);
    else if (budgeted)
      frozen = storage_->create_new_trial_within(study_id_, *budget->max_trials, budget->max_trials_states);
    else frozen = storage_->create_new_trial(study_id_);
    if (!frozen) return std::nullopt;
    return prepared(std::move(*frozen));
  }

  /// A Trial of `frozen`, after the sampler's before_trial.
  Trial prepared(FrozenTrial frozen) {
    Trial trial(*this, std::move(frozen));
    std::lock_guard lock(mutex_);
    const TrialsSnapshot all = all_trials();
    sampler_->before_trial(search::StudyView{*all, options_.direction}, trial.frozen_);
    return trial;
  }

  /// The study's trials for the sampler and the pruner: SqliteStorage's shared, cached list (no
  /// copy of every trial on each suggest), else a copy from the storage.
  struct TrialsSnapshot {
    std::shared_ptr<const std::vector<FrozenTrial>> shared;
    std::vector<FrozenTrial> owned;
    const std::vector<FrozenTrial>& operator*() const { return shared ? *shared : owned; }
  };
  TrialsSnapshot all_trials() const {
    if (sqlite_) return {sqlite_->trials_snapshot(study_id_), {}};
    return {nullptr, storage_->get_all_trials(study_id_)};
  }

  std::optional<FrozenTrial> best_of(const std::vector<FrozenTrial>& complete) const {
    std::optional<FrozenTrial> best;
    for (const FrozenTrial& t : complete) {
      if (!t.value || std::isnan(*t.value)) continue;
      const bool better = !best || (options_.direction == StudyDirection::Minimize ? *t.value < *best->value
                                                                                   : *t.value > *best->value);
      if (better) best = t;
    }
    return best;
  }

  /// Fails the trial with `reason`; false when it had already finished.
  bool fail(int64_t trial_id, const std::string& reason) {
    if (!reason.empty()) {
      try {
        storage_->set_trial_system_attr(trial_id, kFailReasonKey, json_quote(reason));
      } catch (const TrialFinishedError&) {
        return false;
      }
    }
    return storage_->set_trial_state_values(trial_id, TrialState::Fail);
  }

  FrozenTrial running_trial(int64_t trial_id, bool skip_if_finished, bool& skipped) {
    FrozenTrial t = storage_->get_trial(trial_id);
    skipped = false;
    if (t.state != TrialState::Running) {
      if (skip_if_finished && is_finished(t.state)) {
        skipped = true;
        return t;
      }
      throw std::logic_error("normlab: cannot tell trial #" + std::to_string(t.number) + " of study '" +
                             options_.name + "': it is " + to_string(t.state) + ", not RUNNING");
    }
    return t;
  }

  FrozenTrial tell_value(int64_t trial_id, double value, bool skip_if_finished) {
    bool skipped = false;
    FrozenTrial t = running_trial(trial_id, skip_if_finished, skipped);
    if (skipped) return t;
    if (std::isnan(value) || (std::isinf(value) && options_.infinite_values_fail)) {
      // Optuna 3.1's message for NaN ("The value nan is not acceptable.").
      std::string reason = "The value " + std::string(std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf") +
                           " is not acceptable.";
      if (!std::isnan(value)) reason += " (normlab: StudyOptions::infinite_values_fail is set)";
      fail(trial_id, reason);
    } else {
      storage_->set_trial_state_values(trial_id, TrialState::Complete, value);
    }
    return storage_->get_trial(trial_id);
  }

  FrozenTrial tell_state(int64_t trial_id, TrialState state, const std::string& reason, bool skip_if_finished) {
    if (state != TrialState::Pruned && state != TrialState::Fail)
      throw std::invalid_argument(std::string("normlab: tell() with state ") + to_string(state) +
                                  ": give a value for COMPLETE, or PRUNED / FAIL");
    bool skipped = false;
    FrozenTrial t = running_trial(trial_id, skip_if_finished, skipped);
    if (skipped) return t;
    if (state == TrialState::Pruned) {
      std::optional<double> value;
      if (auto step = t.last_step()) {
        const double last = t.intermediate_values.at(*step);
        if (!std::isnan(last)) value = last;  // Optuna 3.1 _tell.py: a feasible last value is kept
      }
      storage_->set_trial_state_values(trial_id, TrialState::Pruned, value);
    } else {
      fail(trial_id, reason);
    }
    return storage_->get_trial(trial_id);
  }

  /// The storage `options` name; with require_existing, a missing SQLite file is an error rather
  /// than a new empty database.
  static std::shared_ptr<Storage> open_for(const StudyOptions& options);

  /// The options, once their study name is known to be UTF-8: Optuna reads names as text, and one
  /// undecodable name makes the whole SQLite file unreadable to it.
  static const StudyOptions& checked_name(const StudyOptions& options) {
    const auto& n = options.name;
    for (std::size_t i = 0; i < n.size();) {
      const std::size_t len = detail::utf8_sequence_length(n, i);
      if (len == 0)
        throw std::invalid_argument("normlab: the study name is not valid UTF-8 (byte " + std::to_string(i) +
                                    "); Optuna could not read a study file holding it");
      i += len;
    }
    return options;
  }

  /// Refuses a heartbeat interval or grace period that is not a positive number of seconds up to
  /// 1e8 (three years): beyond ~9.2e9 s a wait's deadline overflows the clock's int64
  /// nanoseconds and the heartbeat thread would spin instead of sleeping.
  static void check_seconds(double seconds, const char* what) {
    if (!(seconds > 0) || !(seconds <= 1e8))
      throw std::invalid_argument(std::string("normlab: ") + what + " must be > 0 and <= 1e8 seconds (got " +
                                  normlab::detail::shortest_double(seconds) + ")");
  }

  /// One trial of optimize(): ask, run the objective, tell. Returns the finished trial (nothing
  /// when `budget`'s max_trials is spent: see ask_with); sets `objective_error` when the objective
  /// threw (other than TrialPruned), and `interrupted` when it stopped for SIGINT/SIGTERM: that
  /// trial is FAILed and queued again (enqueue_retry).
  std::optional<FrozenTrial> run_trial(const std::function<double(Trial&)>& objective,
                                       std::optional<double> heartbeat_interval, const OptimizeOptions& budget,
                                       std::exception_ptr& objective_error, std::exception_ptr& interrupted) {
    std::optional<Trial> asked = ask_with(heartbeat_interval, &budget);
    if (!asked) return std::nullopt;
    Trial& trial = *asked;
    std::optional<double> value;
    std::optional<TrialState> state;
    std::string reason;
    {
      std::optional<detail::Heartbeat> heartbeat;
      try {
        heartbeat.emplace(*storage_, trial.id(), heartbeat_interval);
      } catch (const std::exception& e) {  // e.g. a full disk: the trial must not stay RUNNING
        try {
          fail(trial.id(), std::string("its first heartbeat could not be recorded: ") + e.what());
        } catch (...) {  // the storage refuses writes altogether: the first error says why
        }
        throw;
      }
      try {
        value = objective(trial);
      } catch (const TrialPruned&) {
        state = TrialState::Pruned;
      } catch (const Interrupted& e) {
        state = TrialState::Fail;
        reason = e.what();
        interrupted = std::current_exception();
      } catch (const std::exception& e) {
        state = TrialState::Fail;
        reason = e.what();
        objective_error = std::current_exception();
      } catch (...) {
        state = TrialState::Fail;
        reason = "an exception not derived from std::exception";
        objective_error = std::current_exception();
      }
    }
    // skip_if_finished: another worker may have failed this trial as stale meanwhile.
    FrozenTrial done = value ? tell_value(trial.id(), *value, true) : tell_state(trial.id(), *state, reason, true);
    if (interrupted && done.state == TrialState::Fail) enqueue_retry(done);
    return done;
  }

  StudyOptions options_;
  std::shared_ptr<Storage> storage_;
  SqliteStorage* sqlite_ = nullptr;  // storage_ when it is one (trials_snapshot)
  std::unique_ptr<search::Sampler> sampler_;
  std::unique_ptr<Pruner> pruner_;
  int64_t study_id_ = -1;
  bool created_ = false;
  std::mutex mutex_;  // sampler and pruner calls
  std::atomic<bool> stop_{false};
};

// ---- out-of-class definitions ----------------------------------------------------------------

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE Study::Study(std::shared_ptr<Storage> storage, StudyOptions options, std::unique_ptr<search::Sampler> sampler,
        std::unique_ptr<Pruner> pruner)
    : options_(std::move(options)), storage_(std::move(storage)), sampler_(std::move(sampler)),
      pruner_(std::move(pruner)) {
  if (!sampler_) throw std::invalid_argument("normlab: a Study needs a sampler (e.g. search::make_sampler(\"tpe\", seed))");
  if (!storage_) throw std::invalid_argument("normlab: a Study needs a storage");
  sqlite_ = dynamic_cast<SqliteStorage*>(storage_.get());
  if (pruner_)
    pruner_->set_attribute_writer([storage = storage_](int64_t id, const std::string& key, const std::string& json) {
      storage->set_trial_system_attr(id, key, json);
    });
  if (options_.heartbeat_interval) check_seconds(*options_.heartbeat_interval, "StudyOptions::heartbeat_interval");
  if (options_.grace_period) check_seconds(*options_.grace_period, "StudyOptions::grace_period");
  if (options_.max_retry && *options_.max_retry < 0)
    throw std::invalid_argument("normlab: StudyOptions::max_retry must be >= 0 (unset: no limit), not " +
                                std::to_string(*options_.max_retry));
  checked_name(options_);
  if (options_.name.empty()) options_.name = "no-name-" + detail::uuid4();
  const std::string where = options_.storage_url.empty() ? std::string("memory") : "'" + detail::redact_url(options_.storage_url) + "'";
  std::optional<int64_t> id = storage_->find_study(options_.name);
  if (!id) {
    if (options_.require_existing) {
      std::string names;
      for (const auto& n : storage_->study_names()) names += (names.empty() ? "" : ", ") + ("'" + n + "'");
      throw NotFoundError("normlab: no study named '" + options_.name + "' in " + where +
                          " (StudyOptions::require_existing is set); it holds " +
                          (names.empty() ? std::string("no study") : "the studies " + names));
    }
    try {
      id = storage_->create_new_study(options_.name, options_.direction);
      created_ = true;
    } catch (const DuplicatedStudyError&) {  // another process created it just now
      if (!options_.load_if_exists) throw;
      id = storage_->find_study(options_.name);
      if (!id) throw;
    }
  } else if (!options_.load_if_exists && !options_.require_existing) {
    throw DuplicatedStudyError("normlab: a study named '" + options_.name + "' already exists in " + where +
                               "; set StudyOptions::load_if_exists to continue it, or choose another name");
  }
  study_id_ = *id;
  const StudyDirection stored = storage_->study_direction(study_id_);
  if (!created_ && stored != StudyDirection::NotSet && stored != options_.direction)
    throw std::invalid_argument("normlab: study '" + options_.name + "' in " + where + " is stored with direction " +
                                to_string(stored) + ", but StudyOptions::direction is " +
                                to_string(options_.direction));
  if (stored != StudyDirection::NotSet) options_.direction = stored;
}

NORMLAB_INLINE std::shared_ptr<Storage> Study::open_for(const StudyOptions& options) {
  checked_name(options);
  try {
    return open_storage(options.storage_url, options.schema, options.require_existing);
  } catch (const NotFoundError& e) {
    throw NotFoundError("normlab: no study '" + options.name + "' to resume: " + std::string(e.what()).substr(9));
  }
}
#endif

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE double Trial::suggest(const std::string& name, search::Distribution d) {
  std::visit([&](auto& x) { x.validate(name); }, d);
  if (auto* f = std::get_if<search::FloatDistribution>(&d); f && f->step)
    f->high = detail::adjust_discrete_high(f->low, f->high, *f->step);
  if (auto* i = std::get_if<search::IntDistribution>(&d); i && (i->high - i->low) % i->step != 0)
    i->high = (i->high - i->low) / i->step * i->step + i->low;
  return suggest_validated(name, d);
}
#endif

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE FrozenTrial Study::best_trial() const {
  std::optional<FrozenTrial> best = best_of(trials({TrialState::Complete}));
  if (!best)
    throw NotFoundError("normlab: study '" + options_.name + "' has no COMPLETE trial yet, so no best trial");
  return *best;
}
#endif

inline Trial::Trial(Study& study, FrozenTrial frozen) : study_(&study), frozen_(std::move(frozen)) {
  if (auto it = frozen_.system_attrs.find("fixed_params"); it != frozen_.system_attrs.end()) {
    const Json fixed = Json::parse(it->second);
    if (fixed.is_object())
      for (const auto& [k, v] : fixed.as_object()) fixed_[k] = v;
  }
}

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE double Trial::suggest_validated(const std::string& name, const search::Distribution& d) {
  Study& s = *study_;
  if (auto it = frozen_.distributions.find(name); it != frozen_.distributions.end()) {
    check_distribution_compatibility(it->second, d, name, s.name(), s.options_.space_check);
    return frozen_.params.at(name);
  }
  double value;
  if (auto f = fixed_.find(name); f != fixed_.end()) {
    if (!f->second.is_number())
      throw std::invalid_argument("normlab: the enqueued value of parameter '" + name + "' is " + f->second.dump() +
                                  ", not a number");
    value = f->second.as_double();
    if (std::isnan(value) || (search::is_log(d) && value <= 0))
      throw std::invalid_argument("normlab: the enqueued value of parameter '" + name + "' is invalid for " +
                                  describe(d));
  } else if (detail::single_value(d)) {
    value = std::visit([](const auto& x) { return static_cast<double>(x.low); }, d);
  } else {
    std::lock_guard lock(s.mutex_);
    const Study::TrialsSnapshot all = s.all_trials();
    // Refuse a conflicting space before asking the sampler (the storage checks again, atomically).
    for (const FrozenTrial& t : *all)
      if (auto it = t.distributions.find(name); it != t.distributions.end()) {
        check_distribution_compatibility(it->second, d, name, s.name(), s.options_.space_check);
        break;
      }
    value = s.sampler_->sample_independent(search::StudyView{*all, s.options_.direction}, frozen_, name, d);
  }
  if (std::holds_alternative<search::IntDistribution>(d)) value = static_cast<double>(std::llround(value));
  s.storage_->set_trial_param(frozen_.trial_id, name, value, d, s.options_.space_check);
  frozen_.params[name] = value;
  frozen_.distributions.insert_or_assign(name, d);
  return value;
}
#endif

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE void Trial::report(double value, int64_t step) {
  if (step < 0) throw std::invalid_argument("normlab: report() needs a step >= 0 (got " + std::to_string(step) + ")");
  if (frozen_.intermediate_values.count(step)) return;  // Optuna: the first report of a step wins
  study_->storage_->set_trial_intermediate_value(frozen_.trial_id, step, value);
  frozen_.intermediate_values[step] = value;
}
#endif

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE bool Trial::should_prune() {
  Study& s = *study_;
  if (!s.pruner_) return false;
  std::lock_guard lock(s.mutex_);
  const Study::TrialsSnapshot all = s.all_trials();
  const FrozenTrial latest = s.storage_->get_trial(frozen_.trial_id);
  return s.pruner_->prune(*all, s.options_.direction, latest);
}
#endif

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE void Trial::set_user_attr(const std::string& key, const Json& value) {
  const std::string text = value.dump();
  study_->storage_->set_trial_user_attr(frozen_.trial_id, key, text);
  frozen_.user_attrs[key] = text;
}
#endif

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE void Study::optimize(const std::function<double(Trial&)>& objective, int n_trials, OptimizeOptions options) {
  if (n_trials < 0) throw std::invalid_argument("normlab: optimize() needs n_trials >= 0");
  int n_jobs = options.n_jobs == -1 ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) : options.n_jobs;
  if (n_jobs < 1) throw std::invalid_argument("normlab: OptimizeOptions::n_jobs must be >= 1 or -1");
  n_jobs = std::min(n_jobs, std::max(n_trials, 1));
  const std::optional<double> heartbeat =
      options.heartbeat_interval ? options.heartbeat_interval : options_.heartbeat_interval;
  if (heartbeat) check_seconds(*heartbeat, "OptimizeOptions::heartbeat_interval");
  stop_ = false;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  std::atomic<int> claimed{0};
  std::mutex report_mutex;  // callbacks, progress, the first error
  int64_t finished = 0;
  std::exception_ptr error, objective_error, interrupted;
  interrupt::clear();
  InterruptGuard on_ctrl_c;  // Ctrl-C stops the running trials cleanly: recorded, then queued again

  // max_trials is spent. With heartbeats and RUNNING trials counted, some of those may belong to a
  // worker that died: wait while any is RUNNING (true: look again), for as its heartbeat lapses it
  // FAILs (ask_with) and frees its place, which this worker then takes. So the study reaches its
  // budget even when a worker is killed; the others stop once no trial is running.
  auto wait_for_running = [&] {
    if (!heartbeat || !detail::state_selected(TrialState::Running, options.max_trials_states) ||
        storage_->count_trials(study_id_, {TrialState::Running}) == 0)
      return false;
    claimed.fetch_sub(1);
    std::this_thread::sleep_for(std::chrono::duration<double>(std::min(*heartbeat, 1.0)));
    fail_stale_trials(*heartbeat);
    return true;
  };
  auto worker = [&] {
    try {
      while (!stop_) {
        if (interrupt::requested()) {
          std::lock_guard lock(report_mutex);
          if (!interrupted) interrupted = std::make_exception_ptr(Interrupted(interrupt::requested()));
          stop_ = true;
          break;
        }
        if (options.timeout_seconds && elapsed() >= *options.timeout_seconds) break;
        if (claimed.fetch_add(1) >= n_trials) break;
        if (options.max_trials && storage_->count_trials(study_id_, options.max_trials_states) >= *options.max_trials) {
          if (wait_for_running()) continue;
          stop_ = true;
          break;
        }
        std::exception_ptr trial_error, trial_interrupted;
        const std::optional<FrozenTrial> ran = run_trial(objective, heartbeat, options, trial_error, trial_interrupted);
        if (!ran) {  // another worker took the last of max_trials meanwhile
          if (wait_for_running()) continue;
          stop_ = true;
          break;
        }
        const FrozenTrial& done = *ran;
        std::lock_guard lock(report_mutex);
        if (trial_interrupted) {
          if (!interrupted) interrupted = trial_interrupted;
          stop_ = true;
        }
        ++finished;
        for (auto& callback : options.callbacks) callback(*this, done);
        if (options.progress || options.show_progress_bar) {
          OptimizeProgress p;
          p.finished = finished;
          p.n_trials = n_trials;
          p.elapsed_seconds = elapsed();
          p.last = &done;
          p.best = best_of(trials({TrialState::Complete}));
          if (options.progress) options.progress(p);
          if (options.show_progress_bar) {
            const int width = 30;
            const int filled = n_trials ? static_cast<int>(width * p.finished / n_trials) : width;
            std::string bar(static_cast<size_t>(std::min(filled, width)), '#');
            bar.resize(width, ' ');
            std::cerr << "\r[" << bar << "] " << p.finished << "/" << n_trials << " trials, "
                      << static_cast<long long>(p.elapsed_seconds) << " s";
            if (p.best) std::cerr << ", best #" << p.best->number << " " << normlab::detail::shortest_double(*p.best->value);
            std::cerr << std::flush;
          }
        }
        if (trial_error && options.rethrow_exceptions) {
          if (!objective_error) objective_error = trial_error;
          stop_ = true;
        }
      }
    } catch (...) {
      std::lock_guard lock(report_mutex);
      if (!error) error = std::current_exception();
      stop_ = true;
    }
  };
  if (n_jobs == 1) {
    worker();
  } else {
    std::vector<std::thread> threads;
    for (int j = 0; j < n_jobs; ++j) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
  }
  if (options.show_progress_bar) std::cerr << "\n";
  interrupt::clear();  // handled here: the exception below carries it, later work is not stopped by it
  if (error) std::rethrow_exception(error);
  if (interrupted) std::rethrow_exception(interrupted);
  if (objective_error) std::rethrow_exception(objective_error);
}
#endif

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE void Study::write_csv(std::ostream& out) const { detail::write_trials_csv(out, trials()); }
#endif

}  // namespace normlab::study
