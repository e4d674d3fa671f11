#pragma once
// SqliteStorage: a study in an SQLite file with Optuna 3.1's own schema, so that
// `optuna.load_study(storage="sqlite:///file")` reads what normlab wrote, and normlab reads and
// continues what Optuna wrote. No LibTorch; SQLite through <sqlite3.h>.
//
// What is written (checked against files Optuna 3.1 itself writes; docs/study.md):
// - the DDL of Optuna 3.1 verbatim, `version_info = (1, 12, '3.1.0')` and
//   `alembic_version = 'v3.0.0.d'`; or, with SchemaVersion::v3_2_0_a, the revision of Optuna >= 3.2
//   (`'v3.2.0.a'`, `version_info = (1, 12, '3.2.0')` and the index `ix_trials_study_id`). Optuna
//   refuses a revision other than its own head, so pick the one of the Optuna that will read it.
// - `trials.number` = how many trials of the study have a smaller trial_id, computed in the
//   transaction that inserts the trial; datetimes as naive local time 'YYYY-MM-DD HH:MM:SS.ffffff'.
// - `trial_params.param_value` in the internal representation (linear even for log floats), bound
//   as a double; `distribution_json` as Optuna writes it; values with their FINITE / INF_POS /
//   INF_NEG type, intermediate values also with NAN; heartbeats as `CURRENT_TIMESTAMP` (UTC).
//
// Speed (benchmarks/study_benchmark.cpp): statements are prepared once per connection
// (SQLITE_PREPARE_PERSISTENT) and reused; the trials read are cached and, like Optuna's
// _CachedStorage, reread only where they may have changed: a finished trial never changes, this
// connection's own writes update the cache, and `PRAGMA data_version` tells when another
// connection (thread or process, normlab or Optuna) committed anything. From its first write the
// file is in WAL mode (`journal_mode=WAL`, `synchronous=NORMAL`: a commit appends to the -wal file
// instead of syncing a rollback journal; the database stays consistent on power loss, the last
// commits may be lost); when the last writer closes it, it is set back to the rollback journal
// (`journal_mode=DELETE`), so a finished file is an ordinary one for readers without write access
// to its folder. Opening and reading never write.
//
// Concurrency: each SqliteStorage owns one connection, guarded by a mutex, so threads may share one
// object (calls are serialised; objectives run outside them). Processes (or several SqliteStorage
// objects) share a file through SQLite's file locks: every write is one `BEGIN IMMEDIATE`
// transaction, the connection waits up to 60 s for a lock (`sqlite3_busy_timeout`) and a
// transaction that still meets SQLITE_BUSY is rolled back and run again, so concurrent workers
// neither fail with "database is locked" nor lose or duplicate a trial. Never use a storage
// across fork(): open one in the child. Never put the file on NFS (SQLite's locks are unreliable
// there).
//
// Beside it: sqlite.hpp (the wrapper over SQLite's C API) and optuna_schema.hpp (SchemaVersion and
// Optuna's DDL); this header includes both.

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "normlab/study/json.hpp"
#include "normlab/study/known_distributions.hpp"
#include "normlab/study/optuna_schema.hpp"
#include "normlab/study/sqlite.hpp"
#include "normlab/study/storage.hpp"

namespace normlab::study {

/// A Storage in an SQLite file with Optuna 3.1's schema (see the top of this header).
class SqliteStorage final : public Storage {
 public:
  /// Opens `path`, creating the file and Optuna's tables when needed.
  /// @param path   a file path, or ":memory:" for a private in-memory database
  /// @param schema the revision a new file gets (default v3_0_0_d, Optuna 3.1); an existing file
  ///               keeps its own (see schema_version())
  /// @throws StorageError when the file cannot be opened, is not an SQLite database or has no
  ///         Optuna tables ("... is not an Optuna study database"), or holds a schema revision
  ///         normlab cannot read (older ones: run `optuna storage upgrade`; newer: unknown).
  explicit SqliteStorage(std::string path, SchemaVersion schema = SchemaVersion::v3_0_0_d)
      : path_(std::move(path)), schema_(schema) {
    const int rc = sqlite3_open_v2(path_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    if (rc != SQLITE_OK) {
      std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close(db_);
      db_ = nullptr;
      throw StorageError("normlab: cannot open the study database '" + path_ + "': " + why);
    }
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);
    try {
      initialize();
    } catch (...) {
      statements_.clear();
      sqlite3_close(db_);
      db_ = nullptr;
      throw;
    }
  }
  ~SqliteStorage() override {
    statements_.clear();  // sqlite3_close refuses a connection with live statements
    if (wal_) {
      // Back to the rollback journal when this is the last connection (else SQLITE_BUSY at once,
      // and the file stays in WAL mode, which every SQLite reader handles).
      sqlite3_busy_timeout(db_, 0);
      sqlite3_exec(db_, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
    }
    sqlite3_close(db_);
  }
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  const std::string& path() const { return path_; }
  /// The file's revision: the one asked for when it was created here, else the one it had.
  SchemaVersion schema_version() const { return schema_; }

  /// get_all_trials(study_id) without the copy: the storage's cached list (current as of this
  /// call), shared and never modified afterwards (a later write copies it first). What Study
  /// hands its sampler and pruner.
  std::shared_ptr<const std::vector<FrozenTrial>> trials_snapshot(int64_t study_id) {
    {
      std::lock_guard lock(mutex_);
      if (auto* cached = current_cache(study_id)) return cached->trials;
    }
    return read([&]() -> std::shared_ptr<const std::vector<FrozenTrial>> {
      require_study(study_id);
      return refresh(study_id).trials;
    });
  }

  int64_t create_new_study(const std::string& name, StudyDirection direction) override {
    return write([&] {
      detail::SqliteStatement find(statements_, db_, "SELECT study_id FROM studies WHERE study_name = ?");
      if (find.bind(1, name).step())
        throw DuplicatedStudyError("normlab: a study named '" + name + "' already exists in '" + path_ + "'");
      detail::SqliteStatement(statements_, db_, "INSERT INTO studies (study_name) VALUES (?)").bind(1, name).run();
      const int64_t id = sqlite3_last_insert_rowid(db_);
      detail::SqliteStatement(statements_, db_, "INSERT INTO study_directions (direction, study_id, objective) VALUES (?, ?, 0)")
          .bind(1, to_string(direction))
          .bind(2, id)
          .run();
      return id;
    });
  }

  std::optional<int64_t> find_study(const std::string& name) override {
    return read([&]() -> std::optional<int64_t> {
      detail::SqliteStatement s(statements_, db_, "SELECT study_id FROM studies WHERE study_name = ?");
      if (s.bind(1, name).step()) return s.int64(0);
      return std::nullopt;
    });
  }

  StudyDirection study_direction(int64_t study_id) override {
    return read([&] {
      require_study(study_id);
      detail::SqliteStatement s(statements_, db_, "SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective");
      if (!s.bind(1, study_id).step()) return StudyDirection::NotSet;
      return study_direction_from_string(s.text(0));
    });
  }

  std::string study_name(int64_t study_id) override {
    return read([&] { return require_study(study_id); });
  }

  void set_study_user_attr(int64_t study_id, const std::string& key, const std::string& json) override {
    Json::parse(json);  // only valid JSON text goes in: Optuna json.loads every value_json
    write([&] {
      require_study(study_id);
      detail::SqliteStatement(statements_, db_,
                              "INSERT INTO study_user_attributes (study_id, \"key\", value_json) VALUES (?, ?, ?) "
                              "ON CONFLICT (study_id, \"key\") DO UPDATE SET value_json = excluded.value_json")
          .bind(1, study_id).bind(2, key).bind(3, json).run();
      return 0;
    });
  }
  bool add_study_user_attr(int64_t study_id, const std::string& key, const std::string& json) override {
    Json::parse(json);
    return write([&] {
      require_study(study_id);
      detail::SqliteStatement(statements_, db_,
                              "INSERT INTO study_user_attributes (study_id, \"key\", value_json) VALUES (?, ?, ?) "
                              "ON CONFLICT (study_id, \"key\") DO NOTHING")
          .bind(1, study_id).bind(2, key).bind(3, json).run();
      return sqlite3_changes(db_) > 0;
    });
  }
  std::map<std::string, std::string> get_study_user_attrs(int64_t study_id) override {
    return read([&] {
      require_study(study_id);
      std::map<std::string, std::string> attrs;
      detail::SqliteStatement s(statements_, db_, "SELECT \"key\", value_json FROM study_user_attributes WHERE study_id = ?");
      s.bind(1, study_id);
      while (s.step()) attrs[s.text(0)] = s.text(1);
      return attrs;
    });
  }

  std::vector<std::string> study_names() override {
    return read([&] {
      std::vector<std::string> names;
      detail::SqliteStatement s(statements_, db_, "SELECT study_name FROM studies ORDER BY study_id");
      while (s.step()) names.push_back(s.text(0));
      return names;
    });
  }

  FrozenTrial create_new_trial(int64_t study_id, const std::optional<FrozenTrial>& tmpl = std::nullopt) override {
    return write([&] { return insert_trial(study_id, tmpl); });
  }

  std::optional<FrozenTrial> create_new_trial_within(int64_t study_id, int64_t max_trials,
                                                     const std::vector<TrialState>& counted) override {
    return write([&]() -> std::optional<FrozenTrial> {
      require_study(study_id);
      if (count_in_transaction(study_id, counted) >= max_trials) return std::nullopt;
      return insert_trial(study_id, std::nullopt);
    });
  }

  void set_trial_param(int64_t trial_id, const std::string& name, double internal_value,
                       const search::Distribution& distribution, SpaceCheck check = SpaceCheck::Strict) override {
    if (std::isnan(internal_value))
      throw std::invalid_argument("normlab: parameter '" + name + "' cannot be NaN");
    write([&] {
      const TrialRow row = updatable(trial_id);
      put_param(row.study_id, require_study(row.study_id), trial_id, name, internal_value, distribution, check);
      const search::Distribution stored = distributions_.parse(search::to_json(distribution));  // as read back
      pending_modify(row.study_id, trial_id, [name, internal_value, stored](FrozenTrial& t) {
        t.params[name] = internal_value;
        t.distributions.insert_or_assign(name, stored);
      });
      return 0;
    });
  }

  bool set_trial_state_values(int64_t trial_id, TrialState state, std::optional<double> value = std::nullopt) override {
    if (value && std::isnan(*value))
      throw std::invalid_argument("normlab: a trial value cannot be NaN (tell() fails such a trial instead)");
    return write([&] {
      const TrialRow row = trial_row(trial_id);
      if (is_finished(row.state)) return false;
      if (state == TrialState::Running && row.state != TrialState::Waiting) return false;
      if (value) put_value(trial_id, *value);
      const std::string now = detail::local_datetime_now();
      if (state == TrialState::Running)
        detail::SqliteStatement(statements_, db_, "UPDATE trials SET state = ?, datetime_start = ? WHERE trial_id = ?")
            .bind(1, to_string(state)).bind(2, now).bind(3, trial_id).run();
      else if (is_finished(state))
        detail::SqliteStatement(statements_, db_, "UPDATE trials SET state = ?, datetime_complete = ? WHERE trial_id = ?")
            .bind(1, to_string(state)).bind(2, now).bind(3, trial_id).run();
      else
        detail::SqliteStatement(statements_, db_, "UPDATE trials SET state = ? WHERE trial_id = ?")
            .bind(1, to_string(state)).bind(2, trial_id).run();
      pending_modify(row.study_id, trial_id, [state, value, now](FrozenTrial& t) {
        t.state = state;
        if (value) t.value = std::isinf(*value) ? (*value > 0 ? HUGE_VAL : -HUGE_VAL) : *value;
        if (state == TrialState::Running) t.datetime_start = now;
        else if (is_finished(state)) t.datetime_complete = now;
      });
      return true;
    });
  }

  void set_trial_intermediate_value(int64_t trial_id, int64_t step, double value) override {
    write([&] {
      const TrialRow row = updatable(trial_id);
      put_intermediate(trial_id, step, value);
      pending_modify(row.study_id, trial_id, [step, value](FrozenTrial& t) {
        t.intermediate_values[step] = std::isnan(value) ? std::nan("") : value;
      });
      return 0;
    });
  }
  void set_trial_user_attr(int64_t trial_id, const std::string& key, const std::string& json) override {
    set_attr("trial_user_attributes", trial_id, key, json);
  }
  void set_trial_system_attr(int64_t trial_id, const std::string& key, const std::string& json) override {
    set_attr("trial_system_attributes", trial_id, key, json);
  }

  FrozenTrial get_trial(int64_t trial_id) override {
    {
      std::lock_guard lock(mutex_);
      sync_data_version();
      for (const auto& [study, cached] : cache_) {
        if (!cached.current) continue;
        const auto it = cached.index.find(trial_id);
        if (it != cached.index.end()) return (*cached.trials)[it->second];
      }
    }
    return read([&] {
      const TrialRow row = trial_row(trial_id);
      auto trials = load_trials(row.study_id, {}, trial_id);
      return std::move(trials.at(0));
    });
  }

  std::vector<FrozenTrial> get_all_trials(int64_t study_id, const std::vector<TrialState>& states = {}) override {
    const std::shared_ptr<const std::vector<FrozenTrial>> all = trials_snapshot(study_id);
    if (states.empty()) return *all;
    std::vector<FrozenTrial> out;
    for (const FrozenTrial& t : *all)
      if (detail::state_selected(t.state, states)) out.push_back(t);
    return out;
  }

  int64_t count_trials(int64_t study_id, const std::vector<TrialState>& states = {}) override {
    return read([&] {
      require_study(study_id);
      return count_in_transaction(study_id, states);
    });
  }

  std::optional<int64_t> pop_waiting_trial(int64_t study_id) override {
    if (none_waiting_cached(study_id)) return std::nullopt;
    return write([&]() -> std::optional<int64_t> {
      require_study(study_id);
      return pop_in_transaction(study_id);
    });
  }

  std::optional<int64_t> pop_waiting_trial_within(int64_t study_id, int64_t max_trials,
                                                  const std::vector<TrialState>& counted) override {
    if (none_waiting_cached(study_id)) return std::nullopt;
    return write([&]() -> std::optional<int64_t> {
      require_study(study_id);
      if (count_in_transaction(study_id, counted) >= max_trials) return std::nullopt;
      return pop_in_transaction(study_id);
    });
  }

  void record_heartbeat(int64_t trial_id) override {
    write([&] {
      trial_row(trial_id);
      detail::SqliteStatement(statements_, db_,
                              "INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?, CURRENT_TIMESTAMP) "
                              "ON CONFLICT (trial_id) DO UPDATE SET heartbeat = CURRENT_TIMESTAMP")
          .bind(1, trial_id)
          .run();
      return 0;
    });
  }

  std::vector<int64_t> fail_stale_trials(int64_t study_id, double grace_seconds) override {
    return write([&] {
      require_study(study_id);
      // Both times come from SQLite's clock in UTC, as Optuna compares them; whole seconds, as
      // CURRENT_TIMESTAMP has. (Optuna uses timedelta.seconds, which wraps after a day; normlab
      // uses the full difference.)
      detail::SqliteStatement s(statements_, db_,
                                "SELECT t.trial_id, (julianday(CURRENT_TIMESTAMP) - julianday(h.heartbeat)) * 86400.0 "
                                "FROM trials t JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
                                "WHERE t.study_id = ? AND t.state = 'RUNNING' ORDER BY t.trial_id");
      s.bind(1, study_id);
      std::vector<int64_t> stale;
      while (s.step())
        if (std::round(s.real(1)) > grace_seconds) stale.push_back(s.int64(0));
      const std::string now = detail::local_datetime_now();
      for (int64_t id : stale) {
        detail::SqliteStatement(statements_, db_,
                                "UPDATE trials SET state = 'FAIL', datetime_complete = ? "
                                "WHERE trial_id = ? AND state = 'RUNNING'")
            .bind(1, now)
            .bind(2, id)
            .run();
        pending_modify(study_id, id, [now](FrozenTrial& t) {
          t.state = TrialState::Fail;
          t.datetime_complete = now;
        });
      }
      return stale;
    });
  }

 private:
  /// Whether the cached trials are current and none waits: nothing to pop, no write transaction.
  bool none_waiting_cached(int64_t study_id) {
    std::lock_guard lock(mutex_);
    const auto* cached = current_cache(study_id);
    if (!cached) return false;
    for (const FrozenTrial& t : *cached->trials)
      if (t.state == TrialState::Waiting) return false;
    return true;
  }

  /// The study's trials in `states` (all when empty), inside a transaction.
  int64_t count_in_transaction(int64_t study_id, const std::vector<TrialState>& states) {
    detail::SqliteStatement s(statements_, db_, "SELECT state, count(trial_id) FROM trials WHERE study_id = ? GROUP BY state");
    s.bind(1, study_id);
    int64_t n = 0;
    while (s.step())
      if (detail::state_selected(trial_state_from_string(s.text(0)), states)) n += s.int64(1);
    return n;
  }

  /// pop_waiting_trial()'s work inside a write transaction.
  std::optional<int64_t> pop_in_transaction(int64_t study_id) {
    detail::SqliteStatement s(statements_, db_,
                              "SELECT trial_id FROM trials WHERE study_id = ? AND state = 'WAITING' "
                              "ORDER BY trial_id LIMIT 1");
    if (!s.bind(1, study_id).step()) return std::nullopt;
    const int64_t id = s.int64(0);
    const std::string now = detail::local_datetime_now();
    detail::SqliteStatement(statements_, db_, "UPDATE trials SET state = 'RUNNING', datetime_start = ? WHERE trial_id = ?")
        .bind(1, now)
        .bind(2, id)
        .run();
    pending_modify(study_id, id, [now](FrozenTrial& t) {
      t.state = TrialState::Running;
      t.datetime_start = now;
    });
    return id;
  }

  static constexpr int kBusyTimeoutMs = 60000;
  static constexpr int kBusyRetries = 20;

  struct TrialRow {
    int64_t study_id;
    int64_t number;
    TrialState state;
  };

  // ---- transactions ----------------------------------------------------------------------------
  void exec(const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if (rc == SQLITE_OK) return;
    const int primary = rc & 0xFF;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) throw detail::SqliteBusy{msg};
    if (primary == SQLITE_NOTADB) throw StorageError("not an SQLite database: " + msg);
    throw StorageError("normlab: SQLite: " + msg + " (in: " + sql + ")");
  }
  void rollback_quietly() {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    pending_.clear();
    distributions_.forget();  // it may hold a row of the rolled-back transaction
  }
  /// One statement without results, prepared once (BEGIN, COMMIT, ...).
  void run_sql(const char* sql) { detail::SqliteStatement(statements_, db_, sql).run(); }
  /// Runs `f` in one transaction under the mutex; SQLITE_BUSY after the busy timeout rolls back and
  /// runs it again (with back-off), so it never surfaces as "database is locked".
  template <class F>
  auto transaction(const char* begin, F&& f, bool writes) -> std::invoke_result_t<F&> {
    std::lock_guard lock(mutex_);
    if (writes && !wal_checked_) use_wal();
    for (int attempt = 0;; ++attempt) {
      try {
        pending_.clear();
        run_sql(begin);
        sync_data_version();
        if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
          f();
          run_sql("COMMIT");
          apply_pending();
          return;
        } else {
          auto result = f();
          run_sql("COMMIT");
          apply_pending();
          return result;
        }
      } catch (const detail::SqliteBusy& busy) {
        rollback_quietly();
        if (attempt + 1 >= kBusyRetries)
          throw StorageError("normlab: the study database '" + path_ + "' stayed locked for " +
                             std::to_string(kBusyRetries * kBusyTimeoutMs / 1000) + " s: " + busy.message);
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * (attempt + 1)));
      } catch (...) {
        rollback_quietly();
        throw;
      }
    }
  }
  template <class F>
  std::invoke_result_t<F&> write(F&& f) {
    return transaction("BEGIN IMMEDIATE", std::forward<F>(f), true);
  }
  template <class F>
  std::invoke_result_t<F&> read(F&& f) {
    return transaction("BEGIN", std::forward<F>(f), false);
  }

  /// Before the first write: WAL mode (see the top of this header). Left as it is when SQLite
  /// cannot switch (an in-memory database, a read-only file, ...).
  void use_wal() {
    wal_checked_ = true;
    if (path_.empty() || path_ == ":memory:" || path_.rfind("file:", 0) == 0) return;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, "PRAGMA journal_mode=WAL", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      wal_ = mode && std::string(mode) == "wal";
    }
    sqlite3_finalize(stmt);
    if (wal_) sqlite3_exec(db_, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr);
  }

  // ---- the trial cache -------------------------------------------------------------------------
  /// A study's trials as last read or written here, ordered by trial_id (= number).
  struct CachedStudy {
    std::shared_ptr<std::vector<FrozenTrial>> trials = std::make_shared<std::vector<FrozenTrial>>();
    std::unordered_map<int64_t, std::size_t> index;  // trial_id -> position
    bool current = false;  // no other connection has committed since
  };
  struct PendingPatch {
    int64_t study_id;
    int64_t trial_id;  // -1: append `appended`; -2: reread the study
    std::function<void(FrozenTrial&)> modify;
    FrozenTrial appended;
  };

  /// Another connection committed since the last look (PRAGMA data_version): nothing cached is
  /// known current any more.
  void sync_data_version() {
    detail::SqliteStatement s(statements_, db_, "PRAGMA data_version");
    s.step();
    const int64_t version = s.int64(0);
    if (version == data_version_) return;
    data_version_ = version;
    for (auto& [study, cached] : cache_) cached.current = false;
    distributions_.forget();
  }

  /// The study's cache when it is current (checks data_version); else nullptr. Under the mutex.
  CachedStudy* current_cache(int64_t study_id) {
    sync_data_version();
    const auto it = cache_.find(study_id);
    return it != cache_.end() && it->second.current ? &it->second : nullptr;
  }

  /// Rereads what may have changed: the study's list of trials, then every trial not cached,
  /// not finished, or listed differently (a finished trial never changes). In a transaction.
  CachedStudy& refresh(int64_t study_id) {
    try {
      return refresh_or_throw(study_id);
    } catch (...) {
      cache_.erase(study_id);  // it may have given trials away: start again next time
      throw;
    }
  }
  CachedStudy& refresh_or_throw(int64_t study_id) {
    CachedStudy& cached = cache_[study_id];
    if (cached.current) return cached;
    auto fresh = std::make_shared<std::vector<FrozenTrial>>();
    const bool reuse = cached.trials.use_count() == 1;  // the old list can give up its trials
    std::vector<std::size_t> missing;
    {
      detail::SqliteStatement s(statements_, db_,
                                "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials "
                                "WHERE study_id = ? ORDER BY trial_id");
      s.bind(1, study_id);
      while (s.step()) {
        const int64_t id = s.int64(0);
        const auto it = cached.index.find(id);
        if (it != cached.index.end()) {
          FrozenTrial& old = (*cached.trials)[it->second];
          if (is_finished(old.state) && old.number == (s.is_null(1) ? -1 : s.int64(1)) &&
              s.text_equals(2, to_string(old.state)) && s.text_equals(3, old.datetime_start) &&
              s.text_equals(4, old.datetime_complete)) {
            if (reuse) fresh->push_back(std::move(old));
            else fresh->push_back(old);
            continue;
          }
        }
        missing.push_back(fresh->size());
        fresh->emplace_back().trial_id = id;
      }
    }
    if (missing.size() > 8) {
      *fresh = load_trials(study_id, {}, std::nullopt);
    } else {
      for (std::size_t pos : missing) {
        std::vector<FrozenTrial> one = load_trials(study_id, {}, (*fresh)[pos].trial_id);
        if (!one.empty()) (*fresh)[pos] = std::move(one.front());
      }
    }
    cached.trials = std::move(fresh);
    cached.index.clear();
    for (std::size_t i = 0; i < cached.trials->size(); ++i) cached.index[(*cached.trials)[i].trial_id] = i;
    cached.current = true;
    return cached;
  }

  // What a write transaction changes in the cache, applied once it has committed.
  void pending_modify(int64_t study_id, int64_t trial_id, std::function<void(FrozenTrial&)> modify) {
    pending_.push_back({study_id, trial_id, std::move(modify), {}});
  }
  void pending_append(int64_t study_id, const FrozenTrial& trial) { pending_.push_back({study_id, -1, {}, trial}); }
  void pending_invalidate(int64_t study_id) { pending_.push_back({study_id, -2, {}, {}}); }
  void apply_pending() {
    for (PendingPatch& patch : pending_) {
      const auto it = cache_.find(patch.study_id);
      if (it == cache_.end()) continue;
      CachedStudy& cached = it->second;
      if (patch.trial_id == -2) {
        cached.current = false;
        continue;
      }
      if (cached.trials.use_count() > 1)  // someone holds a snapshot: copy on write
        cached.trials = std::make_shared<std::vector<FrozenTrial>>(*cached.trials);
      std::vector<FrozenTrial>& trials = *cached.trials;
      if (patch.trial_id == -1) {
        if (!trials.empty() && trials.back().trial_id >= patch.appended.trial_id) {
          cached.current = false;
          continue;
        }
        cached.index[patch.appended.trial_id] = trials.size();
        trials.push_back(std::move(patch.appended));
        continue;
      }
      const auto pos = cached.index.find(patch.trial_id);
      if (pos == cached.index.end()) {
        cached.current = false;
        continue;
      }
      patch.modify(trials[pos->second]);
    }
    pending_.clear();
  }

  // ---- opening ---------------------------------------------------------------------------------
  std::set<std::string> schema_objects() {
    std::set<std::string> names;
    detail::SqliteStatement s(statements_, db_, "SELECT name FROM sqlite_master");
    while (s.step()) names.insert(s.text(0));
    return names;
  }

  /// Checks the file; creates what is missing (in one write transaction) only when needed, so a
  /// complete file is never written to by opening it.
  void initialize() {
    bool needs_write = false;
    try {
      needs_write = read([&] { return inspect(false); });
      if (needs_write) write([&] { return inspect(true); });
    } catch (const StorageError& e) {
      const std::string what = e.what();
      if (what.rfind("not an SQLite database", 0) == 0)
        throw StorageError("normlab: '" + path_ + "' is not an Optuna study database (" + what + ")");
      throw;
    }
  }

  /// Validates the schema. With `apply` false, returns whether anything must be created; with it
  /// true, creates it (Optuna's `create_all` plus its alembic stamping).
  bool inspect(bool apply) {
    const std::set<std::string> objects = schema_objects();
    const bool empty = objects.empty();
    if (!empty && (!objects.count("studies") || !objects.count("trials")))
      throw StorageError("normlab: '" + path_ + "' is not an Optuna study database (an SQLite file without "
                         "Optuna's tables 'studies' and 'trials')");

    // Which revision the file has, or will have.
    std::optional<std::string> revision;
    if (objects.count("alembic_version")) {
      detail::SqliteStatement s(statements_, db_, "SELECT version_num FROM alembic_version");
      if (s.step()) revision = s.text(0);
    }
    std::optional<int64_t> schema_number;
    if (objects.count("version_info")) {
      detail::SqliteStatement s(statements_, db_, "SELECT schema_version FROM version_info WHERE version_info_id = 1");
      if (s.step() && !s.is_null(0)) schema_number = s.int64(0);
    }
    if (revision) {
      if (*revision == "v3.0.0.d") schema_ = SchemaVersion::v3_0_0_d;
      else if (*revision == "v3.2.0.a") schema_ = SchemaVersion::v3_2_0_a;
      else refuse_revision(*revision);
    } else if (schema_number && *schema_number != 12) {
      // Optuna stamps such a file with its base revision and then asks for an upgrade.
      throw StorageError("normlab: '" + path_ + "' holds an Optuna study database from before Optuna 1.x "
                         "(schema_version " + std::to_string(*schema_number) +
                         "); upgrade it with `optuna storage upgrade --storage sqlite:///" + path_ + "` first");
    }

    bool missing = !revision || !schema_number;
    for (const auto& ddl : detail::kOptunaDdl) missing = missing || !objects.count(ddl.name);
    if (schema_ == SchemaVersion::v3_2_0_a && !revision && !objects.count(detail::kOptunaV320Index.name)) missing = true;
    if (!apply || !missing) return missing;

    for (const auto& ddl : detail::kOptunaDdl)
      if (!objects.count(ddl.name)) exec(ddl.sql);
    if (schema_ == SchemaVersion::v3_2_0_a && !revision && !objects.count(detail::kOptunaV320Index.name))
      exec(detail::kOptunaV320Index.sql);
    if (!objects.count("version_info") || !schema_number) {
      detail::SqliteStatement(statements_, db_,
                              "INSERT OR IGNORE INTO version_info (version_info_id, schema_version, library_version) "
                              "VALUES (1, 12, ?)")
          .bind(1, schema_ == SchemaVersion::v3_0_0_d ? "3.1.0" : "3.2.0")
          .run();
    }
    if (!revision)
      detail::SqliteStatement(statements_, db_, "INSERT INTO alembic_version (version_num) VALUES (?)")
          .bind(1, alembic_revision(schema_))
          .run();
    return missing;
  }

  [[noreturn]] void refuse_revision(const std::string& revision) const {
    throw StorageError(detail::refused_revision_message("'" + path_ + "'", revision,
                                                        "optuna storage upgrade --storage sqlite:///" + path_));
  }

  /// create_new_trial() inside a write transaction.
  FrozenTrial insert_trial(int64_t study_id, const std::optional<FrozenTrial>& tmpl) {
    const std::string study_name = require_study(study_id);
    FrozenTrial t = tmpl ? *tmpl : FrozenTrial{};
    if (!tmpl) {
      t.state = TrialState::Running;
      t.datetime_start = detail::local_datetime_now();
    }
    // As Optuna: insert RUNNING, fill in the template, then set the state and the number.
    detail::SqliteStatement(statements_, db_,
                            "INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete) "
                            "VALUES (NULL, ?, 'RUNNING', ?, ?)")
        .bind(1, study_id)
        .bind_text_or_null(2, t.datetime_start)
        .bind_text_or_null(3, t.datetime_complete)
        .run();
    t.trial_id = sqlite3_last_insert_rowid(db_);
    if (tmpl) {
      if (t.value) put_value(t.trial_id, *t.value);
      for (const auto& [name, value] : t.params) {
        auto d = t.distributions.find(name);
        if (d == t.distributions.end())
          throw std::invalid_argument("normlab: template trial parameter '" + name + "' has no distribution");
        put_param(study_id, study_name, t.trial_id, name, value, d->second, SpaceCheck::Strict);
      }
      for (const auto& [k, v] : t.user_attrs) put_attr("trial_user_attributes", t.trial_id, k, v);
      for (const auto& [k, v] : t.system_attrs) put_attr("trial_system_attributes", t.trial_id, k, v);
      for (const auto& [step, v] : t.intermediate_values) put_intermediate(t.trial_id, step, v);
    }
    detail::SqliteStatement count(statements_, db_, "SELECT count(trial_id) FROM trials WHERE study_id = ? AND trial_id < ?");
    count.bind(1, study_id).bind(2, t.trial_id).step();
    t.number = count.int64(0);
    detail::SqliteStatement(statements_, db_, "UPDATE trials SET number = ?, state = ? WHERE trial_id = ?")
        .bind(1, t.number)
        .bind(2, to_string(t.state))
        .bind(3, t.trial_id)
        .run();
    if (tmpl) pending_invalidate(study_id);  // a template's values go through the text columns: reread
    else pending_append(study_id, t);
    return t;
  }

  // ---- rows ------------------------------------------------------------------------------------
  std::string require_study(int64_t study_id) {
    detail::SqliteStatement s(statements_, db_, "SELECT study_name FROM studies WHERE study_id = ?");
    if (!s.bind(1, study_id).step())
      throw NotFoundError("normlab: no study with id " + std::to_string(study_id) + " in '" + path_ + "'");
    return s.text(0);
  }
  TrialRow trial_row(int64_t trial_id) {
    detail::SqliteStatement s(statements_, db_, "SELECT study_id, number, state FROM trials WHERE trial_id = ?");
    if (!s.bind(1, trial_id).step())
      throw NotFoundError("normlab: no trial with id " + std::to_string(trial_id) + " in '" + path_ + "'");
    return TrialRow{s.int64(0), s.int64(1), trial_state_from_string(s.text(2))};
  }
  TrialRow updatable(int64_t trial_id) {
    TrialRow row = trial_row(trial_id);
    if (is_finished(row.state)) throw detail::trial_finished_error(row.number, row.state);
    return row;
  }

  void put_param(int64_t study_id, const std::string& study_name, int64_t trial_id, const std::string& name,
                 double internal_value, const search::Distribution& distribution, SpaceCheck check) {
    distributions_.check(study_id, study_name, name, distribution, check, [&]() -> std::optional<std::string> {
      detail::SqliteStatement first(statements_, db_,
                                    "SELECT p.distribution_json FROM trial_params p JOIN trials t ON t.trial_id = p.trial_id "
                                    "WHERE t.study_id = ? AND p.param_name = ? ORDER BY p.param_id LIMIT 1");
      if (!first.bind(1, study_id).bind(2, name).step()) return std::nullopt;
      return first.text(0);
    });
    detail::SqliteStatement(statements_, db_,
                            "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) "
                            "VALUES (?, ?, ?, ?) ON CONFLICT (trial_id, param_name) DO UPDATE SET "
                            "param_value = excluded.param_value, distribution_json = excluded.distribution_json")
        .bind(1, trial_id)
        .bind(2, name)
        .bind(3, internal_value)
        .bind(4, search::to_json(distribution))
        .run();
  }
  void put_value(int64_t trial_id, double value) {
    detail::SqliteStatement s(statements_, db_,
                              "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, 0, ?, ?) "
                              "ON CONFLICT (trial_id, objective) DO UPDATE SET value = excluded.value, "
                              "value_type = excluded.value_type");
    s.bind(1, trial_id);
    if (std::isinf(value)) s.bind_null(2).bind(3, value > 0 ? "INF_POS" : "INF_NEG");
    else s.bind(2, value).bind(3, "FINITE");
    s.run();
  }
  void put_intermediate(int64_t trial_id, int64_t step, double value) {
    detail::SqliteStatement s(statements_, db_,
                              "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, "
                              "intermediate_value_type) VALUES (?, ?, ?, ?) ON CONFLICT (trial_id, step) DO UPDATE SET "
                              "intermediate_value = excluded.intermediate_value, "
                              "intermediate_value_type = excluded.intermediate_value_type");
    s.bind(1, trial_id).bind(2, step);
    if (std::isnan(value)) s.bind_null(3).bind(4, "NAN");
    else if (std::isinf(value)) s.bind_null(3).bind(4, value > 0 ? "INF_POS" : "INF_NEG");
    else s.bind(3, value).bind(4, "FINITE");
    s.run();
  }
  void put_attr(const std::string& table, int64_t trial_id, const std::string& key, const std::string& json) {
    const std::string sql = "INSERT INTO " + table + " (trial_id, \"key\", value_json) VALUES (?, ?, ?) "
                            "ON CONFLICT (trial_id, \"key\") DO UPDATE SET value_json = excluded.value_json";
    detail::SqliteStatement(statements_, db_, sql.c_str()).bind(1, trial_id).bind(2, key).bind(3, json).run();
  }
  void set_attr(const std::string& table, int64_t trial_id, const std::string& key, const std::string& json) {
    Json::parse(json);  // only valid JSON text goes in: Optuna json.loads every value_json
    write([&] {
      const TrialRow row = updatable(trial_id);
      put_attr(table, trial_id, key, json);
      const bool user = table == "trial_user_attributes";
      pending_modify(row.study_id, trial_id,
                     [user, key, json](FrozenTrial& t) { (user ? t.user_attrs : t.system_attrs)[key] = json; });
      return 0;
    });
  }

  static double stored_value(const detail::SqliteStatement& s, int value_col, int type_col) {
    const std::string type = s.text(type_col);
    if (type == "INF_POS") return HUGE_VAL;
    if (type == "INF_NEG") return -HUGE_VAL;
    if (type == "NAN" || s.is_null(value_col)) return std::nan("");
    return s.real(value_col);
  }

  /// The study's trials (or only `only_trial`), ordered by trial_id (= by number).
  std::vector<FrozenTrial> load_trials(int64_t study_id, const std::vector<TrialState>& states,
                                       std::optional<int64_t> only_trial) {
    std::vector<FrozenTrial> trials;
    std::map<int64_t, size_t> index;
    const std::string where = only_trial ? "t.trial_id = ?" : "t.study_id = ?";
    const int64_t key = only_trial ? *only_trial : study_id;
    {
      const std::string sql = "SELECT t.trial_id, t.number, t.state, t.datetime_start, t.datetime_complete "
                              "FROM trials t WHERE " + where + " ORDER BY t.trial_id";
      detail::SqliteStatement s(statements_, db_, sql.c_str());
      s.bind(1, key);
      while (s.step()) {
        FrozenTrial t;
        t.trial_id = s.int64(0);
        t.number = s.is_null(1) ? -1 : s.int64(1);
        t.state = trial_state_from_string(s.text(2));
        if (!detail::state_selected(t.state, states)) continue;
        t.datetime_start = s.text(3);
        t.datetime_complete = s.text(4);
        index[t.trial_id] = trials.size();
        trials.push_back(std::move(t));
      }
    }
    if (trials.empty()) return trials;
    auto each = [&](const char* from_where_order, auto&& fn) {
      const std::string sql = std::string(from_where_order);
      detail::SqliteStatement s(statements_, db_, (sql + " WHERE " + where).c_str());
      s.bind(1, key);
      while (s.step()) {
        auto it = index.find(s.int64(0));
        if (it != index.end()) fn(trials[it->second], s);
      }
    };
    each("SELECT p.trial_id, p.param_name, p.param_value, p.distribution_json FROM trial_params p "
         "JOIN trials t ON t.trial_id = p.trial_id",
         [&](FrozenTrial& t, const detail::SqliteStatement& s) {
           const std::string name = s.text(1);
           t.params[name] = s.real(2);
           t.distributions.insert_or_assign(name, distributions_.parse(s.text(3)));
         });
    each("SELECT v.trial_id, v.value, v.value_type FROM trial_values v JOIN trials t ON t.trial_id = v.trial_id "
         "AND v.objective = 0",
         [&](FrozenTrial& t, const detail::SqliteStatement& s) { t.value = stored_value(s, 1, 2); });
    each("SELECT v.trial_id, v.step, v.intermediate_value, v.intermediate_value_type FROM trial_intermediate_values v "
         "JOIN trials t ON t.trial_id = v.trial_id",
         [&](FrozenTrial& t, const detail::SqliteStatement& s) { t.intermediate_values[s.int64(1)] = stored_value(s, 2, 3); });
    each("SELECT a.trial_id, a.\"key\", a.value_json FROM trial_user_attributes a JOIN trials t ON t.trial_id = a.trial_id",
         [&](FrozenTrial& t, const detail::SqliteStatement& s) { t.user_attrs[s.text(1)] = s.text(2); });
    each("SELECT a.trial_id, a.\"key\", a.value_json FROM trial_system_attributes a "
         "JOIN trials t ON t.trial_id = a.trial_id",
         [&](FrozenTrial& t, const detail::SqliteStatement& s) { t.system_attrs[s.text(1)] = s.text(2); });
    return trials;
  }

  std::string path_;
  SchemaVersion schema_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
  detail::SqliteStatementCache statements_;
  detail::KnownDistributions distributions_;
  bool wal_checked_ = false, wal_ = false;
  int64_t data_version_ = -1;
  std::unordered_map<int64_t, CachedStudy> cache_;  // by study_id
  std::vector<PendingPatch> pending_;
};

}  // namespace normlab::study
