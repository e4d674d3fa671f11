#pragma once
// PostgresStorage: a study in a PostgreSQL database with Optuna 3.1's own schema there, so that
// `optuna.load_study(storage="postgresql+psycopg2://...")` (and optuna-dashboard) read what normlab
// writes while it runs, and normlab continues studies Optuna created. Many worker processes on many
// machines share one study through it (docs/distributed.md). No LibTorch; libpq through
// postgres.hpp. Built only where libpq is found (NORMLAB_HAVE_POSTGRES; CMake links it to
// normlab::study then).
//
// What is written (checked against a database Optuna 3.1 itself created with psycopg2):
// - Optuna's tables as SQLAlchemy creates them on PostgreSQL (optuna_schema.hpp: ENUM types,
//   SERIAL keys and their sequences, FLOAT(53), TIMESTAMP WITHOUT TIME ZONE), `version_info =
//   (1, 12, '3.1.0')` and `alembic_version = 'v3.0.0.d'` (or SchemaVersion::v3_2_0_a, as
//   SqliteStorage); created in one transaction under an advisory lock, so workers starting together
//   on an empty database create them once.
// - The rows as SqliteStorage writes them: naive local datetimes, parameters in the internal
//   representation (doubles sent as their shortest exact text: bit for bit), values with their
//   FINITE / INF_POS / INF_NEG type, heartbeats as LOCALTIMESTAMP (the server's clock, as Optuna's
//   `func.now()`).
//
// Concurrency, the way Optuna's RDBStorage does it on PostgreSQL, plus a budget:
// - a new trial locks its study's row (`SELECT ... FOR UPDATE`, as Optuna) and is numbered by the
//   trials before it in the same transaction: numbers are unique and dense across every worker,
//   normlab's or Optuna's;
// - create_new_trial_within() counts the study's trials and creates one under that same lock, so a
//   study-wide budget is never overshot however many workers run;
// - parameters are checked against the study's first distribution for the name under the same
//   lock; a trial's state changes under its row's lock; a WAITING trial is popped with
//   `FOR UPDATE SKIP LOCKED`;
// - every statement is prepared (PQprepare) with its values as parameters: a study name with quotes
//   or SQL in it is stored verbatim.
// Each PostgresStorage owns one connection, guarded by a mutex (threads may share the object; calls
// are serialised). Never use one across fork(): open one in the child.
//
// Connection loss: a transaction that meets a broken connection reconnects (waiting 0.1 s, 0.2 s,
// ... up to reconnect_patience, 60 s by default) and runs again; one whose COMMIT was sent but not
// answered is not run again (it may have been stored: a trial would be created twice) and throws
// StorageError, as does a server that stays away. Messages name host, port, database and user,
// never the password; the URL goes to libpq as it is, so PGPASSWORD, ~/.pgpass, PGSSLMODE /
// `?sslmode=` and the other libpq settings work as in psql.

#include <chrono>
#include <cmath>
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
#include "normlab/study/postgres.hpp"
#include "normlab/study/storage.hpp"

namespace normlab::study {

/// A Storage in a PostgreSQL database with Optuna 3.1's schema (see the top of this header).
class PostgresStorage final : public Storage {
 public:
  /// Connects to `url` and creates Optuna's tables there when they are missing.
  /// @param url    `postgresql://user[:password]@host[:port]/database[?sslmode=...]`; also
  ///               `postgresql+psycopg2://...` (Optuna's form) and `postgres://...`
  /// @param schema the revision a new database gets (default v3_0_0_d, Optuna 3.1); an existing
  ///               one keeps its own (see schema_version())
  /// @throws StorageError when the server cannot be reached or refuses the connection (the message
  ///         names host, port, database and user), or the database holds a schema revision normlab
  ///         cannot read.
  explicit PostgresStorage(const std::string& url, SchemaVersion schema = SchemaVersion::v3_0_0_d)
      : conn_(std::make_unique<detail::PgConnection>(url)), schema_(schema) {
    initialize();
  }
  PostgresStorage(const PostgresStorage&) = delete;
  PostgresStorage& operator=(const PostgresStorage&) = delete;

  /// "host H port P database 'D' user 'U'": where the storage is, for messages.
  std::string where() const { return conn_->target().describe(); }
  /// The database's revision: the one asked for when it was created here, else the one it had.
  SchemaVersion schema_version() const { return schema_; }
  /// How long a call waits for a lost server to come back before it throws StorageError.
  void set_reconnect_patience(std::chrono::duration<double> patience) {
    std::lock_guard lock(mutex_);
    patience_ = patience;
  }

  int64_t create_new_study(const std::string& name, StudyDirection direction) override {
    return write([&] {
      const detail::PgResult r = conn_->query(
          "INSERT INTO studies (study_name) VALUES ($1) ON CONFLICT (study_name) DO NOTHING RETURNING study_id", {name});
      if (r.rows() == 0)
        throw DuplicatedStudyError("normlab: a study named '" + name + "' already exists in PostgreSQL at " + where());
      const int64_t id = r.int64(0, 0);
      conn_->query("INSERT INTO study_directions (direction, study_id, objective) VALUES ($1, $2, 0)",
                   {to_string(direction), id});
      return id;
    });
  }

  std::optional<int64_t> find_study(const std::string& name) override {
    return read([&]() -> std::optional<int64_t> {
      const detail::PgResult r = conn_->query("SELECT study_id FROM studies WHERE study_name = $1", {name});
      if (r.rows() == 0) return std::nullopt;
      return r.int64(0, 0);
    });
  }

  StudyDirection study_direction(int64_t study_id) override {
    return read([&] {
      require_study(study_id);
      const detail::PgResult r = conn_->query(
          "SELECT direction FROM study_directions WHERE study_id = $1 ORDER BY objective", {study_id});
      if (r.rows() == 0) return StudyDirection::NotSet;
      return study_direction_from_string(r.text(0, 0));
    });
  }

  std::string study_name(int64_t study_id) override {
    return read([&] { return require_study(study_id); });
  }

  std::vector<std::string> study_names() override {
    return read([&] {
      const detail::PgResult r = conn_->query("SELECT study_name FROM studies ORDER BY study_id");
      std::vector<std::string> names;
      for (int i = 0; i < r.rows(); ++i) names.push_back(r.text(i, 0));
      return names;
    });
  }

  void set_study_user_attr(int64_t study_id, const std::string& key, const std::string& json) override {
    Json::parse(json);  // only valid JSON text goes in: Optuna json.loads every value_json
    write([&] {
      require_study(study_id);
      conn_->query("INSERT INTO study_user_attributes (study_id, key, value_json) VALUES ($1, $2, $3) "
                   "ON CONFLICT (study_id, key) DO UPDATE SET value_json = excluded.value_json",
                   {study_id, key, json});
    });
  }
  bool add_study_user_attr(int64_t study_id, const std::string& key, const std::string& json) override {
    Json::parse(json);
    return write([&] {
      require_study(study_id);
      return conn_->query("INSERT INTO study_user_attributes (study_id, key, value_json) VALUES ($1, $2, $3) "
                          "ON CONFLICT (study_id, key) DO NOTHING",
                          {study_id, key, json})
                 .affected() > 0;
    });
  }
  std::map<std::string, std::string> get_study_user_attrs(int64_t study_id) override {
    return read([&] {
      require_study(study_id);
      const detail::PgResult r =
          conn_->query("SELECT key, value_json FROM study_user_attributes WHERE study_id = $1", {study_id});
      std::map<std::string, std::string> attrs;
      for (int i = 0; i < r.rows(); ++i) attrs[r.text(i, 0)] = r.text(i, 1);
      return attrs;
    });
  }

  FrozenTrial create_new_trial(int64_t study_id, const std::optional<FrozenTrial>& tmpl = std::nullopt) override {
    return write([&] {
      const std::string name = lock_study(study_id);
      return insert_trial(study_id, name, tmpl);
    });
  }

  std::optional<FrozenTrial> create_new_trial_within(int64_t study_id, int64_t max_trials,
                                                     const std::vector<TrialState>& counted) override {
    return write([&]() -> std::optional<FrozenTrial> {
      const std::string name = lock_study(study_id);
      if (count_locked(study_id, counted) >= max_trials) return std::nullopt;
      return insert_trial(study_id, name, std::nullopt);
    });
  }

  void set_trial_param(int64_t trial_id, const std::string& name, double internal_value,
                       const search::Distribution& distribution, SpaceCheck check = SpaceCheck::Strict) override {
    if (std::isnan(internal_value))
      throw std::invalid_argument("normlab: parameter '" + name + "' cannot be NaN");
    write([&] {
      // The study's lock first (as trial creation takes it), then the trial's: no deadlock.
      const TrialRow row = trial_row(trial_id, false);
      const std::string study_name = lock_study(row.study_id);
      updatable(trial_id);
      put_param(row.study_id, study_name, trial_id, name, internal_value, distribution, check);
    });
  }

  bool set_trial_state_values(int64_t trial_id, TrialState state, std::optional<double> value = std::nullopt) override {
    if (value && std::isnan(*value))
      throw std::invalid_argument("normlab: a trial value cannot be NaN (tell() fails such a trial instead)");
    return write([&] {
      const TrialRow row = trial_row(trial_id, true);
      if (is_finished(row.state)) return false;
      if (state == TrialState::Running && row.state != TrialState::Waiting) return false;
      if (value) put_value(trial_id, *value);
      const std::string now = detail::local_datetime_now();
      if (state == TrialState::Running)
        conn_->query("UPDATE trials SET state = $1, datetime_start = $2 WHERE trial_id = $3",
                     {to_string(state), now, trial_id});
      else if (is_finished(state))
        conn_->query("UPDATE trials SET state = $1, datetime_complete = $2 WHERE trial_id = $3",
                     {to_string(state), now, trial_id});
      else
        conn_->query("UPDATE trials SET state = $1 WHERE trial_id = $2", {to_string(state), trial_id});
      return true;
    });
  }

  void set_trial_intermediate_value(int64_t trial_id, int64_t step, double value) override {
    write([&] {
      updatable(trial_id);
      put_intermediate(trial_id, step, value);
    });
  }
  void set_trial_user_attr(int64_t trial_id, const std::string& key, const std::string& json) override {
    set_attr(kUserAttrUpsert, trial_id, json, key);
  }
  void set_trial_system_attr(int64_t trial_id, const std::string& key, const std::string& json) override {
    set_attr(kSystemAttrUpsert, trial_id, json, key);
  }

  FrozenTrial get_trial(int64_t trial_id) override {
    return read([&] {
      const TrialRow row = trial_row(trial_id, false);
      std::vector<FrozenTrial> one = load_trials(row.study_id, trial_id);
      if (one.empty()) throw NotFoundError("normlab: no trial with id " + std::to_string(trial_id));
      return std::move(one.front());
    });
  }

  std::vector<FrozenTrial> get_all_trials(int64_t study_id, const std::vector<TrialState>& states = {}) override {
    std::vector<FrozenTrial> all = read([&] {
      require_study(study_id);
      return load_trials(study_id, std::nullopt);
    });
    if (states.empty()) return all;
    std::vector<FrozenTrial> out;
    for (FrozenTrial& t : all)
      if (detail::state_selected(t.state, states)) out.push_back(std::move(t));
    return out;
  }

  int64_t count_trials(int64_t study_id, const std::vector<TrialState>& states = {}) override {
    return read([&] {
      require_study(study_id);
      return count_locked(study_id, states);
    });
  }

  std::optional<int64_t> pop_waiting_trial(int64_t study_id) override {
    return write([&]() -> std::optional<int64_t> {
      require_study(study_id);
      return pop_locked(study_id);
    });
  }

  std::optional<int64_t> pop_waiting_trial_within(int64_t study_id, int64_t max_trials,
                                                  const std::vector<TrialState>& counted) override {
    return write([&]() -> std::optional<int64_t> {
      lock_study(study_id);  // as create_new_trial_within: the count holds until COMMIT
      if (count_locked(study_id, counted) >= max_trials) return std::nullopt;
      return pop_locked(study_id);
    });
  }

  void record_heartbeat(int64_t trial_id) override {
    write([&] {
      trial_row(trial_id, false);
      conn_->query("INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES ($1, LOCALTIMESTAMP) "
                   "ON CONFLICT (trial_id) DO UPDATE SET heartbeat = LOCALTIMESTAMP",
                   {trial_id});
    });
  }

  std::vector<int64_t> fail_stale_trials(int64_t study_id, double grace_seconds) override {
    return write([&] {
      require_study(study_id);
      // Both times from the server's clock, as Optuna compares them (it uses timedelta.seconds,
      // which wraps after a day; normlab the full difference). A trial whose row another worker
      // holds (telling it now) is skipped.
      const detail::PgResult r = conn_->query(
          "SELECT t.trial_id, EXTRACT(EPOCH FROM (LOCALTIMESTAMP - h.heartbeat)) "
          "FROM trials t JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
          "WHERE t.study_id = $1 AND t.state = 'RUNNING' ORDER BY t.trial_id FOR UPDATE OF t SKIP LOCKED",
          {study_id});
      std::vector<int64_t> stale;
      for (int i = 0; i < r.rows(); ++i)
        if (r.real(i, 1) > grace_seconds) stale.push_back(r.int64(i, 0));
      const std::string now = detail::local_datetime_now();
      for (int64_t id : stale)
        conn_->query("UPDATE trials SET state = 'FAIL', datetime_complete = $1 WHERE trial_id = $2 AND state = 'RUNNING'",
                     {now, id});
      return stale;
    });
  }

 private:
  static constexpr int kRetries = 10;
  static constexpr const char* kUserAttrUpsert =
      "INSERT INTO trial_user_attributes (trial_id, key, value_json) VALUES ($1, $2, $3) "
      "ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json";
  static constexpr const char* kSystemAttrUpsert =
      "INSERT INTO trial_system_attributes (trial_id, key, value_json) VALUES ($1, $2, $3) "
      "ON CONFLICT (trial_id, key) DO UPDATE SET value_json = excluded.value_json";

  struct TrialRow {
    int64_t study_id;
    int64_t number;
    TrialState state;
  };

  // ---- transactions ----------------------------------------------------------------------------
  /// Runs `f` in one transaction under the mutex. A lost connection (before COMMIT) reconnects
  /// and runs it again; a serialization failure or deadlock rolls back and runs it again.
  template <class F>
  auto transaction(const char* begin, F&& f) -> std::invoke_result_t<F&> {
    std::lock_guard lock(mutex_);
    std::string last;
    for (int attempt = 0; attempt < kRetries; ++attempt) {
      try {
        if (broken_ || !conn_->ok()) {
          conn_->reconnect(patience_);
          broken_ = false;
        }
        conn_->exec(begin);
        if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
          f();
          conn_->exec("COMMIT");
          return;
        } else {
          auto result = f();
          conn_->exec("COMMIT");
          return result;
        }
      } catch (const detail::PgConnectionLost& lost) {
        distributions_.forget();
        broken_ = true;
        if (lost.during_commit)
          throw StorageError("normlab: lost the connection to PostgreSQL at " + where() +
                             " while committing; the change may or may not be stored, so it is not repeated: " +
                             lost.message);
        last = lost.message;  // reconnects at the top of the loop
      } catch (const detail::PgRetry& retry) {
        rollback_quietly();
        last = retry.message;
        std::this_thread::sleep_for(std::chrono::milliseconds(5 * (attempt + 1)));
      } catch (...) {
        rollback_quietly();
        throw;
      }
    }
    throw StorageError("normlab: PostgreSQL at " + where() + ": a transaction failed " + std::to_string(kRetries) +
                       " times: " + last);
  }
  template <class F>
  std::invoke_result_t<F&> write(F&& f) {
    return transaction("BEGIN", std::forward<F>(f));
  }
  /// One snapshot for every statement of the read (a trial list and its rows agree).
  template <class F>
  std::invoke_result_t<F&> read(F&& f) {
    return transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", std::forward<F>(f));
  }
  void rollback_quietly() {
    distributions_.forget();  // it may hold a row of the rolled-back transaction
    if (!conn_->ok()) return;
    try {
      conn_->exec("ROLLBACK");
    } catch (...) {
    }
  }

  // ---- opening ---------------------------------------------------------------------------------
  void initialize() {
    if (read([&] { return inspect(false); }))
      write([&] {
        // Workers starting together on an empty database: one creates the tables, the others
        // wait here and then find them.
        conn_->query("SELECT pg_advisory_xact_lock($1)", {kSchemaLockKey});
        return inspect(true);
      });
  }
  static constexpr int64_t kSchemaLockKey = 0x6e6f726d6c6162;  // "normlab"

  /// Validates the schema. With `apply` false, returns whether anything must be created; with it
  /// true, creates it (Optuna's `create_all` plus its alembic stamping).
  bool inspect(bool apply) {
    std::set<std::string> objects;
    {
      const detail::PgResult r = conn_->query(
          "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
          "WHERE n.nspname = current_schema() UNION "
          "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
          "WHERE n.nspname = current_schema()");
      for (int i = 0; i < r.rows(); ++i) objects.insert(r.text(i, 0));
    }
    std::optional<std::string> revision;
    if (objects.count("alembic_version")) {
      const detail::PgResult r = conn_->query("SELECT version_num FROM alembic_version");
      if (r.rows() > 0) revision = r.text(0, 0);
    }
    std::optional<int64_t> schema_number;
    if (objects.count("version_info")) {
      const detail::PgResult r = conn_->query("SELECT schema_version FROM version_info WHERE version_info_id = 1");
      if (r.rows() > 0 && !r.is_null(0, 0)) schema_number = r.int64(0, 0);
    }
    const std::string here = "the database at " + where();
    const std::string upgrade = "optuna storage upgrade --storage postgresql+psycopg2://" + conn_->target().user +
                                "@" + conn_->target().host + ":" +
                                (conn_->target().port.empty() ? std::string("5432") : conn_->target().port) + "/" +
                                conn_->target().dbname;
    if (revision) {
      if (*revision == "v3.0.0.d") schema_ = SchemaVersion::v3_0_0_d;
      else if (*revision == "v3.2.0.a") schema_ = SchemaVersion::v3_2_0_a;
      else throw StorageError(detail::refused_revision_message(here, *revision, upgrade));
    } else if (schema_number && *schema_number != 12) {
      throw StorageError("normlab: " + here + " holds an Optuna study database from before Optuna 1.x (schema_version " +
                         std::to_string(*schema_number) + "); upgrade it with `" + upgrade + "` first");
    }
    bool missing = !revision || !schema_number;
    for (const auto& ddl : detail::kOptunaPostgresDdl) missing = missing || !objects.count(ddl.name);
    const bool index = schema_ == SchemaVersion::v3_2_0_a && !revision && !objects.count(detail::kOptunaV320Index.name);
    missing = missing || index;
    if (!apply || !missing) return missing;

    for (const auto& ddl : detail::kOptunaPostgresDdl)
      if (!objects.count(ddl.name)) conn_->exec(ddl.sql);
    if (index) conn_->exec(detail::kOptunaV320Index.sql);
    if (!schema_number)
      conn_->query("INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, 12, $1) "
                   "ON CONFLICT (version_info_id) DO NOTHING",
                   {schema_ == SchemaVersion::v3_0_0_d ? "3.1.0" : "3.2.0"});
    if (!revision) conn_->query("INSERT INTO alembic_version (version_num) VALUES ($1)", {alembic_revision(schema_)});
    return missing;
  }

  // ---- rows ------------------------------------------------------------------------------------
  std::string require_study(int64_t study_id) {
    const detail::PgResult r = conn_->query("SELECT study_name FROM studies WHERE study_id = $1", {study_id});
    if (r.rows() == 0) throw NotFoundError("normlab: no study with id " + std::to_string(study_id) + " at " + where());
    return r.text(0, 0);
  }
  /// The study's name, its row locked until the transaction ends: what serialises trial creation
  /// in a study, for normlab's workers and Optuna's alike.
  std::string lock_study(int64_t study_id) {
    const detail::PgResult r =
        conn_->query("SELECT study_name FROM studies WHERE study_id = $1 FOR UPDATE", {study_id});
    if (r.rows() == 0) throw NotFoundError("normlab: no study with id " + std::to_string(study_id) + " at " + where());
    return r.text(0, 0);
  }
  TrialRow trial_row(int64_t trial_id, bool for_update) {
    const detail::PgResult r =
        for_update ? conn_->query("SELECT study_id, number, state FROM trials WHERE trial_id = $1 FOR UPDATE", {trial_id})
                   : conn_->query("SELECT study_id, number, state FROM trials WHERE trial_id = $1", {trial_id});
    if (r.rows() == 0) throw NotFoundError("normlab: no trial with id " + std::to_string(trial_id) + " at " + where());
    return TrialRow{r.int64(0, 0), r.is_null(0, 1) ? -1 : r.int64(0, 1), trial_state_from_string(r.text(0, 2))};
  }
  TrialRow updatable(int64_t trial_id) {
    TrialRow row = trial_row(trial_id, true);
    if (is_finished(row.state)) throw detail::trial_finished_error(row.number, row.state);
    return row;
  }
  /// Takes the oldest WAITING trial (pop_waiting_trial's work, in its transaction). A trial another
  /// worker is popping right now is skipped, not waited for.
  std::optional<int64_t> pop_locked(int64_t study_id) {
    const detail::PgResult r = conn_->query(
        "SELECT trial_id FROM trials WHERE study_id = $1 AND state = 'WAITING' ORDER BY trial_id LIMIT 1 "
        "FOR UPDATE SKIP LOCKED",
        {study_id});
    if (r.rows() == 0) return std::nullopt;
    const int64_t id = r.int64(0, 0);
    conn_->query("UPDATE trials SET state = 'RUNNING', datetime_start = $1 WHERE trial_id = $2",
                 {detail::local_datetime_now(), id});
    return id;
  }
  int64_t count_locked(int64_t study_id, const std::vector<TrialState>& states) {
    const detail::PgResult r =
        conn_->query("SELECT state, count(trial_id) FROM trials WHERE study_id = $1 GROUP BY state", {study_id});
    int64_t n = 0;
    for (int i = 0; i < r.rows(); ++i)
      if (detail::state_selected(trial_state_from_string(r.text(i, 0)), states)) n += r.int64(i, 1);
    return n;
  }

  /// As Optuna: insert RUNNING, fill in the template, then set the state and the number (the
  /// study's row is locked by the caller).
  FrozenTrial insert_trial(int64_t study_id, const std::string& study_name, const std::optional<FrozenTrial>& tmpl) {
    FrozenTrial t = tmpl ? *tmpl : FrozenTrial{};
    if (!tmpl) {
      t.state = TrialState::Running;
      t.datetime_start = detail::local_datetime_now();
    }
    const detail::PgResult inserted = conn_->query(
        "INSERT INTO trials (number, study_id, state, datetime_start, datetime_complete) "
        "VALUES (NULL, $1, 'RUNNING', $2, $3) RETURNING trial_id",
        {study_id, detail::PgParam::or_null(t.datetime_start), detail::PgParam::or_null(t.datetime_complete)});
    t.trial_id = inserted.int64(0, 0);
    if (tmpl) {
      if (t.value) put_value(t.trial_id, *t.value);
      for (const auto& [name, value] : t.params) {
        auto d = t.distributions.find(name);
        if (d == t.distributions.end())
          throw std::invalid_argument("normlab: template trial parameter '" + name + "' has no distribution");
        put_param(study_id, study_name, t.trial_id, name, value, d->second, SpaceCheck::Strict);
      }
      for (const auto& [k, v] : t.user_attrs) conn_->query(kUserAttrUpsert, {t.trial_id, k, v});
      for (const auto& [k, v] : t.system_attrs) conn_->query(kSystemAttrUpsert, {t.trial_id, k, v});
      for (const auto& [step, v] : t.intermediate_values) put_intermediate(t.trial_id, step, v);
    }
    const detail::PgResult count =
        conn_->query("SELECT count(trial_id) FROM trials WHERE study_id = $1 AND trial_id < $2", {study_id, t.trial_id});
    t.number = count.int64(0, 0);
    conn_->query("UPDATE trials SET number = $1, state = $2 WHERE trial_id = $3",
                 {t.number, to_string(t.state), t.trial_id});
    return t;
  }

  void put_param(int64_t study_id, const std::string& study_name, int64_t trial_id, const std::string& name,
                 double internal_value, const search::Distribution& distribution, SpaceCheck check) {
    distributions_.check(study_id, study_name, name, distribution, check, [&]() -> std::optional<std::string> {
      const detail::PgResult first = conn_->query(
          "SELECT p.distribution_json FROM trial_params p JOIN trials t ON t.trial_id = p.trial_id "
          "WHERE t.study_id = $1 AND p.param_name = $2 ORDER BY p.param_id LIMIT 1",
          {study_id, name});
      if (first.rows() == 0) return std::nullopt;
      return first.text(0, 0);
    });
    conn_->query("INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) "
                 "VALUES ($1, $2, $3, $4) ON CONFLICT (trial_id, param_name) DO UPDATE SET "
                 "param_value = excluded.param_value, distribution_json = excluded.distribution_json",
                 {trial_id, name, internal_value, search::to_json(distribution)});
  }
  void put_value(int64_t trial_id, double value) {
    const char* sql =
        "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES ($1, 0, $2, $3) "
        "ON CONFLICT (trial_id, objective) DO UPDATE SET value = excluded.value, value_type = excluded.value_type";
    if (std::isinf(value)) conn_->query(sql, {trial_id, std::nullopt, value > 0 ? "INF_POS" : "INF_NEG"});
    else conn_->query(sql, {trial_id, value, "FINITE"});
  }
  void put_intermediate(int64_t trial_id, int64_t step, double value) {
    const char* sql =
        "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (trial_id, step) DO UPDATE SET "
        "intermediate_value = excluded.intermediate_value, intermediate_value_type = excluded.intermediate_value_type";
    if (std::isnan(value)) conn_->query(sql, {trial_id, step, std::nullopt, "NAN"});
    else if (std::isinf(value)) conn_->query(sql, {trial_id, step, std::nullopt, value > 0 ? "INF_POS" : "INF_NEG"});
    else conn_->query(sql, {trial_id, step, value, "FINITE"});
  }
  void set_attr(const char* upsert, int64_t trial_id, const std::string& json, const std::string& key) {
    Json::parse(json);  // only valid JSON text goes in: Optuna json.loads every value_json
    write([&] {
      updatable(trial_id);
      conn_->query(upsert, {trial_id, key, json});
    });
  }

  static double stored_value(const detail::PgResult& r, int row, int value_col, int type_col) {
    const std::string type = r.text(row, type_col);
    if (type == "INF_POS") return HUGE_VAL;
    if (type == "INF_NEG") return -HUGE_VAL;
    if (type == "NAN" || r.is_null(row, value_col)) return std::nan("");
    return r.real(row, value_col);
  }

  /// The study's trials (or only `only_trial`), ordered by trial_id (= by number). A finished
  /// trial never changes: those read before come from the cache, the others are read.
  std::vector<FrozenTrial> load_trials(int64_t study_id, std::optional<int64_t> only_trial) {
    const detail::PgResult list =
        only_trial ? conn_->query("SELECT trial_id, number, state, to_char(datetime_start, 'YYYY-MM-DD HH24:MI:SS.US'), "
                                  "to_char(datetime_complete, 'YYYY-MM-DD HH24:MI:SS.US') FROM trials WHERE trial_id = $1",
                                  {*only_trial})
                   : conn_->query("SELECT trial_id, number, state, to_char(datetime_start, 'YYYY-MM-DD HH24:MI:SS.US'), "
                                  "to_char(datetime_complete, 'YYYY-MM-DD HH24:MI:SS.US') FROM trials "
                                  "WHERE study_id = $1 ORDER BY trial_id",
                                  {study_id});
    std::vector<FrozenTrial> trials;
    std::unordered_map<int64_t, std::size_t> unread;  // trial_id -> position, for those to read
    std::string ids = "{";
    for (int i = 0; i < list.rows(); ++i) {
      const int64_t id = list.int64(i, 0);
      const TrialState state = trial_state_from_string(list.text(i, 2));
      if (is_finished(state)) {
        const auto cached = finished_.find(id);
        if (cached != finished_.end() && cached->second.state == state) {
          trials.push_back(cached->second);
          continue;
        }
      }
      FrozenTrial& t = trials.emplace_back();
      t.trial_id = id;
      t.number = list.is_null(i, 1) ? -1 : list.int64(i, 1);
      t.state = state;
      t.datetime_start = list.text(i, 3);
      t.datetime_complete = list.text(i, 4);
      unread[id] = trials.size() - 1;
      ids += (ids.size() > 1 ? "," : "") + std::to_string(id);
    }
    ids += "}";
    if (unread.empty()) return trials;
    // Everything else about those trials in one round trip: (kind, trial_id, key, number, text, step).
    const detail::PgResult r = conn_->query(
        "SELECT 'p', trial_id, param_name, param_value, distribution_json, NULL::integer FROM trial_params "
        "WHERE trial_id = ANY($1::integer[]) "
        "UNION ALL SELECT 'v', trial_id, NULL, value, value_type::text, NULL FROM trial_values "
        "WHERE objective = 0 AND trial_id = ANY($1::integer[]) "
        "UNION ALL SELECT 'i', trial_id, NULL, intermediate_value, intermediate_value_type::text, step "
        "FROM trial_intermediate_values WHERE trial_id = ANY($1::integer[]) "
        "UNION ALL SELECT 'u', trial_id, key, NULL, value_json, NULL FROM trial_user_attributes "
        "WHERE trial_id = ANY($1::integer[]) "
        "UNION ALL SELECT 's', trial_id, key, NULL, value_json, NULL FROM trial_system_attributes "
        "WHERE trial_id = ANY($1::integer[])",
        {ids});
    for (int i = 0; i < r.rows(); ++i) {
      const auto it = unread.find(r.int64(i, 1));
      if (it == unread.end()) continue;
      FrozenTrial& t = trials[it->second];
      switch (r.text(i, 0)[0]) {
        case 'p': {
          const std::string name = r.text(i, 2);
          t.params[name] = r.real(i, 3);
          t.distributions.insert_or_assign(name, distributions_.parse(r.text(i, 4)));
          break;
        }
        case 'v': t.value = stored_value(r, i, 3, 4); break;
        case 'i': t.intermediate_values[r.int64(i, 5)] = stored_value(r, i, 3, 4); break;
        case 'u': t.user_attrs[r.text(i, 2)] = r.text(i, 4); break;
        case 's': t.system_attrs[r.text(i, 2)] = r.text(i, 4); break;
      }
    }
    for (const auto& [id, pos] : unread)
      if (is_finished(trials[pos].state)) finished_[id] = trials[pos];
    return trials;
  }

  std::unique_ptr<detail::PgConnection> conn_;
  SchemaVersion schema_;
  std::mutex mutex_;
  std::chrono::duration<double> patience_{60.0};
  bool broken_ = false;  // the connection was lost: reconnect before the next transaction
  detail::KnownDistributions distributions_;
  std::unordered_map<int64_t, FrozenTrial> finished_;  // finished trials read so far, by trial_id
};

}  // namespace normlab::study
