// normlab/study/postgres_storage.hpp on a throwaway PostgreSQL server: the storage contract that
// memory and SQLite pass (storage_contract.hpp), Optuna's schema and rows on PostgreSQL, hostile
// study names, many processes sharing one budget, a worker that dies, connection loss and a server
// restart, and passwords that never reach a message.
//
// Every case is hidden ([.postgres]): ctest runs them with the fixture that starts the server
// (tests/CMakeLists.txt: study.postgres_server_start, the URL in NORMLAB_TEST_POSTGRES_URL_FILE),
// or registers one visible SKIP where no server binaries are installed. Run by hand
// (`normlab_search_tests "[postgres]"`), the process starts a server of its own with
// tests/study/postgres_server.sh and stops it at exit. Each case works in a database of its own.
#if NORMLAB_HAVE_POSTGRES

#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "../temp_dir.hpp"
#include "storage_contract.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "normlab/search/samplers.hpp"
#include "normlab/study/open_storage.hpp"
#include "normlab/study/postgres_storage.hpp"
#include "normlab/study/study.hpp"

namespace search = normlab::search;
using namespace normlab::study;
namespace storage_contract = normlab::testing::storage_contract;
using storage_contract::kDatetime;
using storage_contract::kMean;
using storage_contract::kStd;

namespace {

const std::string kServerScript = NORMLAB_TEST_DATA_DIR "/../study/postgres_server.sh";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

/// `url` with its database replaced by `db`.
std::string with_database(const std::string& url, const std::string& db) { return url.substr(0, url.rfind('/') + 1) + db; }

/// Rows of a query (run with libpq directly, as a superuser), each column as text ("NULL" for null).
std::vector<std::vector<std::string>> rows(const std::string& url, const std::string& sql,
                                           const std::vector<std::string>& params = {}) {
  PGconn* c = PQconnectdb(url.c_str());
  INFO(PQerrorMessage(c));
  REQUIRE(PQstatus(c) == CONNECTION_OK);
  PQsetNoticeProcessor(c, [](void*, const char*) {}, nullptr);
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* r = PQexecParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                             nullptr, 0);
  const auto status = PQresultStatus(r);
  const std::string error = PQresultErrorMessage(r);
  std::vector<std::vector<std::string>> out;
  for (int i = 0; i < PQntuples(r); ++i) {
    std::vector<std::string> row;
    for (int j = 0; j < PQnfields(r); ++j) row.push_back(PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j));
    out.push_back(row);
  }
  PQclear(r);
  PQfinish(c);
  INFO(sql << ": " << error);
  REQUIRE((status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK));
  return out;
}

/// The PostgreSQL server of these tests (see the top of this file).
class TestServer {
 public:
  static TestServer& get() {
    static TestServer server;
    return server;
  }
  /// postgresql://postgres@127.0.0.1:PORT/postgres (a superuser, trusted on 127.0.0.1).
  const std::string& admin_url() const { return admin_url_; }
  /// A new, empty database; its URL (as the superuser).
  std::string fresh_database() {
    static std::atomic<int> counter{0};
    const std::string name = "normlab_t" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    rows(admin_url_, "DROP DATABASE IF EXISTS " + name);
    rows(admin_url_, "CREATE DATABASE " + name);
    return with_database(admin_url_, name);
  }

 private:
  TestServer() {
    if (const char* file = std::getenv("NORMLAB_TEST_POSTGRES_URL_FILE")) {
      admin_url_ = slurp(file);
      if (admin_url_.empty())
        throw std::runtime_error(std::string("no server URL in ") + file + " (did study.postgres_server_start run?)");
      return;
    }
    own_ = std::make_unique<normlab::testing::TempDir>("normlab_pg_server");
    dir_ = own_->file("server");
    const int rc = std::system(("bash '" + kServerScript + "' start '" + dir_ + "' >/dev/null").c_str());
    if (rc != 0)
      throw std::runtime_error("could not start a PostgreSQL server with " + kServerScript + " (status " +
                               std::to_string(rc) + "; 77: no server binaries, apt-get install postgresql)");
    admin_url_ = slurp(dir_ + "/url");
  }
  ~TestServer() {
    if (own_) std::system(("bash '" + kServerScript + "' stop '" + dir_ + "' >/dev/null").c_str());
  }
  std::unique_ptr<normlab::testing::TempDir> own_;
  std::string dir_;
  std::string admin_url_;
};

/// A fresh database per backend object: make() connects to it (a second make() to the same one).
struct PostgresBackend {
  std::string url = TestServer::get().fresh_database();
  std::unique_ptr<Storage> make() { return std::make_unique<PostgresStorage>(url); }
};

/// A server of a test's own (for restarting it), stopped at the end.
struct PrivateServer {
  normlab::testing::TempDir dir{"normlab_pg_private"};
  std::string url;
  PrivateServer() {
    REQUIRE(std::system(("bash '" + kServerScript + "' start '" + dir.file("server") + "' >/dev/null").c_str()) == 0);
    url = slurp(dir.file("server") + "/url");
  }
  void restart() {
    REQUIRE(std::system(("bash '" + kServerScript + "' restart '" + dir.file("server") + "'").c_str()) == 0);
  }
  ~PrivateServer() { std::system(("bash '" + kServerScript + "' stop '" + dir.file("server") + "'").c_str()); }
};

}  // namespace

// ---- the storage contract, as memory and SQLite pass it -----------------------------------------

#define NORMLAB_POSTGRES_CONTRACT(fn, name)                      \
  TEST_CASE("postgres: " name, "[.postgres][study][storage]") { \
    storage_contract::fn<PostgresBackend>();                     \
  }
NORMLAB_POSTGRES_CONTRACT(studies, "studies are created once, found by name, keep their direction")
NORMLAB_POSTGRES_CONTRACT(numbering, "trials are numbered per study in creation order")
NORMLAB_POSTGRES_CONTRACT(params, "params keep their internal value and distribution")
NORMLAB_POSTGRES_CONTRACT(conflicting_distribution, "a conflicting distribution is refused, says why, and stores nothing")
NORMLAB_POSTGRES_CONTRACT(finished_trials, "finished trials cannot change, and state changes follow Optuna")
NORMLAB_POSTGRES_CONTRACT(intermediate_and_attrs, "intermediate values and attributes")
NORMLAB_POSTGRES_CONTRACT(study_user_attrs, "study user attributes are per study and overwritten by key")
NORMLAB_POSTGRES_CONTRACT(templates_and_waiting, "template trials and the WAITING queue")
NORMLAB_POSTGRES_CONTRACT(heartbeats, "heartbeats fail stale RUNNING trials only")
NORMLAB_POSTGRES_CONTRACT(threads, "threads sharing one storage never duplicate a number")
NORMLAB_POSTGRES_CONTRACT(budget, "a study-wide budget is counted and spent in one step")
NORMLAB_POSTGRES_CONTRACT(queued_budget, "a queued trial is popped only within a study-wide budget")
#undef NORMLAB_POSTGRES_CONTRACT

// ---- Optuna's schema and rows on PostgreSQL --------------------------------------------------------

TEST_CASE("postgres: a new database gets Optuna 3.1's types, tables, sequences and version rows",
          "[.postgres][study][storage]") {
  PostgresBackend backend;
  auto s = backend.make();
  CHECK(dynamic_cast<PostgresStorage&>(*s).schema_version() == SchemaVersion::v3_0_0_d);
  std::set<std::string> tables;
  for (const auto& r : rows(backend.url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
    tables.insert(r[0]);
  CHECK(tables == std::set<std::string>{"alembic_version", "studies", "study_directions", "study_system_attributes",
                                        "study_user_attributes", "trial_heartbeats", "trial_intermediate_values",
                                        "trial_params", "trial_system_attributes", "trial_user_attributes",
                                        "trial_values", "trials", "version_info"});
  CHECK(rows(backend.url, "SELECT * FROM version_info") == std::vector<std::vector<std::string>>{{"1", "12", "3.1.0"}});
  CHECK(rows(backend.url, "SELECT * FROM alembic_version") == std::vector<std::vector<std::string>>{{"v3.0.0.d"}});
  CHECK(rows(backend.url, "SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e "
                          "JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = 'trialstate'") ==
        std::vector<std::vector<std::string>>{{"RUNNING,COMPLETE,PRUNED,FAIL,WAITING"}});
  CHECK(rows(backend.url, "SELECT data_type, udt_name FROM information_schema.columns "
                          "WHERE table_name = 'trial_params' AND column_name = 'param_value'") ==
        std::vector<std::vector<std::string>>{{"double precision", "float8"}});
  CHECK(rows(backend.url, "SELECT column_default FROM information_schema.columns "
                          "WHERE table_name = 'trials' AND column_name = 'trial_id'") ==
        std::vector<std::vector<std::string>>{{"nextval('trials_trial_id_seq'::regclass)"}});
  CHECK(rows(backend.url, "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_trials_study_id'").empty());

  // A second storage on the same database creates nothing more; v3.2.0.a adds its index.
  auto again = backend.make();
  CHECK(rows(backend.url, "SELECT count(*) FROM alembic_version") == std::vector<std::vector<std::string>>{{"1"}});
  PostgresBackend newer;
  PostgresStorage v320(newer.url, SchemaVersion::v3_2_0_a);
  CHECK(rows(newer.url, "SELECT * FROM alembic_version") == std::vector<std::vector<std::string>>{{"v3.2.0.a"}});
  CHECK(rows(newer.url, "SELECT indexname FROM pg_indexes WHERE indexname = 'ix_trials_study_id'").size() == 1);

  // A revision normlab does not know is refused, as on SQLite.
  rows(newer.url, "UPDATE alembic_version SET version_num = 'v9.9.9.z'");
  CHECK_THROWS_WITH(PostgresStorage(newer.url), Catch::Contains("schema revision 'v9.9.9.z'") &&
                                                    Catch::Contains("probably written by a newer Optuna"));
}

TEST_CASE("postgres: workers starting together on an empty database create the schema once",
          "[.postgres][study][storage]") {
  PostgresBackend backend;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int k = 0; k < 6; ++k)
    threads.emplace_back([&] {
      PostgresStorage s(backend.url);
      ok += s.study_names().empty();
    });
  for (auto& t : threads) t.join();
  CHECK(ok == 6);
  CHECK(rows(backend.url, "SELECT count(*) FROM alembic_version") == std::vector<std::vector<std::string>>{{"1"}});
  CHECK(rows(backend.url, "SELECT count(*) FROM version_info") == std::vector<std::vector<std::string>>{{"1"}});
}

TEST_CASE("postgres: rows are written as Optuna 3.1 writes them", "[.postgres][study][storage]") {
  PostgresBackend backend;
  auto s = backend.make();
  const int64_t study = s->create_new_study("MNIST", StudyDirection::Maximize);
  const FrozenTrial t = s->create_new_trial(study);
  const double mean = -2.769092812898994, std_value = 0.50529774178950234;
  s->set_trial_param(t.trial_id, "mean", mean, kMean);
  s->set_trial_param(t.trial_id, "std", std_value, kStd);
  s->set_trial_intermediate_value(t.trial_id, 0, std::nan(""));
  s->set_trial_intermediate_value(t.trial_id, 1, -HUGE_VAL);
  s->set_trial_intermediate_value(t.trial_id, 2, 0.1 + 0.2);
  REQUIRE(s->set_trial_state_values(t.trial_id, TrialState::Complete, HUGE_VAL));

  CHECK(rows(backend.url, "SELECT direction FROM study_directions") == std::vector<std::vector<std::string>>{{"MAXIMIZE"}});
  const auto params = rows(backend.url, "SELECT param_name, param_value::text, distribution_json FROM trial_params ORDER BY param_id");
  REQUIRE(params.size() == 2);
  CHECK(std::strtod(params[0][1].c_str(), nullptr) == mean);  // bit for bit
  CHECK(std::strtod(params[1][1].c_str(), nullptr) == std_value);
  CHECK(params[1][2] == R"({"name": "FloatDistribution", "attributes": {"step": null, "low": 0.1, "high": 2.0, "log": true}})");
  CHECK(rows(backend.url, "SELECT value, value_type FROM trial_values") ==
        std::vector<std::vector<std::string>>{{"NULL", "INF_POS"}});
  const auto iv = rows(backend.url, "SELECT step, intermediate_value::text, intermediate_value_type "
                                    "FROM trial_intermediate_values ORDER BY step");
  REQUIRE(iv.size() == 3);
  CHECK(iv[0] == std::vector<std::string>{"0", "NULL", "NAN"});
  CHECK(iv[1] == std::vector<std::string>{"1", "NULL", "INF_NEG"});
  CHECK(std::strtod(iv[2][1].c_str(), nullptr) == 0.1 + 0.2);
  const auto trial = rows(backend.url, "SELECT number, state, to_char(datetime_start, 'YYYY-MM-DD HH24:MI:SS.US'), "
                                       "datetime_complete IS NOT NULL FROM trials");
  CHECK(trial == std::vector<std::vector<std::string>>{{"0", "COMPLETE", t.datetime_start, "t"}});
  const FrozenTrial back = s->get_trial(t.trial_id);
  CHECK(back.value == HUGE_VAL);
  CHECK(std::isnan(back.intermediate_values.at(0)));
  CHECK(back.intermediate_values.at(2) == 0.1 + 0.2);
  CHECK(std::regex_match(back.datetime_complete, kDatetime));
}

TEST_CASE("postgres: a study name with quotes or SQL in it is stored verbatim", "[.postgres][study][storage]") {
  PostgresBackend backend;
  auto s = backend.make();
  const std::vector<std::string> names = {
      "x'); DROP TABLE trials; --", "O'Brien \"quoted\" $1 \\ %s ?", "caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80",
      "Robert'); DELETE FROM studies WHERE ('1'='1", std::string(512, '\'')};
  std::vector<int64_t> ids;
  for (const auto& name : names) ids.push_back(s->create_new_study(name, StudyDirection::Minimize));
  CHECK(s->study_names() == names);
  for (size_t i = 0; i < names.size(); ++i) {
    CHECK(s->find_study(names[i]) == ids[i]);
    CHECK(s->study_name(ids[i]) == names[i]);
    CHECK(rows(backend.url, "SELECT study_name FROM studies WHERE study_id = $1", {std::to_string(ids[i])}) ==
          std::vector<std::vector<std::string>>{{names[i]}});
    const FrozenTrial t = s->create_new_trial(ids[i]);
    s->set_trial_user_attr(t.trial_id, names[i], Json(names[i]).dump());
    CHECK(s->get_trial(t.trial_id).user_attrs.at(names[i]) == Json(names[i]).dump());
  }
  CHECK_THROWS_AS(s->create_new_study(names[0], StudyDirection::Minimize), DuplicatedStudyError);
  CHECK(rows(backend.url, "SELECT count(*) FROM trials") == std::vector<std::vector<std::string>>{{"5"}});
}

// ---- many workers --------------------------------------------------------------------------------

TEST_CASE("postgres: worker processes share a study-wide budget exactly, numbers dense and unique",
          "[.postgres][study][storage]") {
  PostgresBackend backend;
  int64_t study = 0;
  {
    PostgresStorage s(backend.url);
    study = s.create_new_study("shared", StudyDirection::Maximize);
  }
  const int kWorkers = 6, kBudget = 40;
  const std::vector<TrialState> counted = {TrialState::Complete, TrialState::Pruned, TrialState::Running};
  std::vector<pid_t> children;
  for (int w = 0; w < kWorkers; ++w) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // a worker: its own connection, no Catch2 here
      int status = 0;
      try {
        PostgresStorage s(backend.url);
        while (auto t = s.create_new_trial_within(study, kBudget, counted)) {
          s.set_trial_param(t->trial_id, "mean", 0.01 * static_cast<double>(t->number), kMean);
          s.record_heartbeat(t->trial_id);
          if (!s.set_trial_state_values(t->trial_id, TrialState::Complete, static_cast<double>(w))) status = 3;
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "worker %d: %s\n", w, e.what());
        status = 2;
      }
      std::_Exit(status);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  PostgresStorage s(backend.url);
  const auto all = s.get_all_trials(study);
  REQUIRE(all.size() == static_cast<size_t>(kBudget));
  std::set<double> workers;
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].number == static_cast<int64_t>(i));
    CHECK(all[i].state == TrialState::Complete);
    CHECK(all[i].params.at("mean") == 0.01 * static_cast<double>(i));
    workers.insert(*all[i].value);
  }
  CHECK(workers.size() > 1);  // the work was shared
  CHECK(rows(backend.url, "SELECT count(DISTINCT number), min(number), max(number) FROM trials") ==
        std::vector<std::vector<std::string>>{{std::to_string(kBudget), "0", std::to_string(kBudget - 1)}});
}

TEST_CASE("postgres: Study::optimize in 4 processes with max_trials 8 runs exactly 8 trials",
          "[.postgres][study][storage]") {
  PostgresBackend backend;
  auto options = [&] {
    StudyOptions o;
    o.name = "MNIST";
    o.storage_url = "postgresql+psycopg2://" + backend.url.substr(std::string("postgresql://").size());
    o.load_if_exists = true;
    return o;
  };
  std::vector<pid_t> children;
  for (int w = 0; w < 4; ++w) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int status = 0;
      try {
        Study study = Study::create(options(), search::make_sampler("random", static_cast<uint64_t>(w)));
        OptimizeOptions run;
        run.max_trials = 8;
        run.max_trials_states = {TrialState::Complete, TrialState::Pruned, TrialState::Running};
        run.heartbeat_interval = 1;
        run.n_jobs = 2;
        study.optimize(
            [](Trial& t) {
              std::this_thread::sleep_for(std::chrono::milliseconds(20));
              return t.suggest_float("mean", -3, 3);
            },
            100, run);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "worker %d: %s\n", w, e.what());
        status = 2;
      }
      std::_Exit(status);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WEXITSTATUS(status) == 0);
  }
  Study study = Study::create(options(), search::make_sampler("random", 9));
  const auto all = study.trials();
  REQUIRE(all.size() == 8);
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].number == static_cast<int64_t>(i));
    CHECK(all[i].state == TrialState::Complete);
  }
}

TEST_CASE("postgres: a worker killed mid-trial: its trial FAILs (or is retried) and the others still reach max_trials",
          "[.postgres][study][storage]") {
  const bool retry = GENERATE(false, true);
  CAPTURE(retry);
  PostgresBackend backend;
  StudyOptions o;
  o.name = "MNIST";
  o.storage_url = backend.url;
  o.retry_failed_trials = retry;  // mnist_study --retry-failed
  auto work = [&](uint64_t seed, double sleep_seconds) {
    Study study = Study::create(o, search::make_sampler("random", seed));
    OptimizeOptions run;
    run.max_trials = 6;
    run.max_trials_states = {TrialState::Complete, TrialState::Pruned, TrialState::Running};
    run.heartbeat_interval = 0.5;
    study.optimize(
        [&](Trial& t) {
          const double mean = t.suggest_float("mean", -3, 3);
          std::this_thread::sleep_for(std::chrono::duration<double>(sleep_seconds));
          return mean;
        },
        100, run);
  };
  std::vector<pid_t> children;
  for (int w = 0; w < 3; ++w) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      int status = 0;
      try {
        work(static_cast<uint64_t>(w), w == 0 ? 30.0 : 0.3);  // worker 0 hangs in its first trial
      } catch (const std::exception& e) {
        std::fprintf(stderr, "worker %d: %s\n", w, e.what());
        status = 2;
      }
      std::_Exit(status);
    }
    children.push_back(pid);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  REQUIRE(::kill(children[0], SIGKILL) == 0);  // mid-trial: its trial stays RUNNING, its heart stops
  for (size_t k = 0; k < children.size(); ++k) {
    int status = 0;
    REQUIRE(waitpid(children[k], &status, 0) == children[k]);
    if (k > 0) CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  }
  PostgresStorage s(backend.url);
  const auto all = s.get_all_trials(*s.find_study("MNIST"));
  int complete = 0, failed = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].number == static_cast<int64_t>(i));
    complete += all[i].state == TrialState::Complete;
    failed += all[i].state == TrialState::Fail;
    CHECK(all[i].state != TrialState::Running);
  }
  CHECK(complete == 6);
  REQUIRE(failed == 1);
  // With retries, the killed trial's mean ran again, in a trial that names it.
  const auto killed = std::find_if(all.begin(), all.end(), [](const FrozenTrial& t) { return t.state == TrialState::Fail; });
  const auto retried = std::find_if(all.begin(), all.end(), [&](const FrozenTrial& t) {
    const auto it = t.system_attrs.find("failed_trial");
    return it != t.system_attrs.end() && it->second == std::to_string(killed->number);
  });
  CHECK((retried != all.end()) == retry);
  if (retried != all.end()) {
    CHECK(retried->state == TrialState::Complete);
    CHECK(retried->params == killed->params);
  }
}

TEST_CASE("postgres: the trial of a worker that died is failed once its heartbeat lapses",
          "[.postgres][study][storage]") {
  PostgresBackend backend;
  PostgresStorage s(backend.url);
  const int64_t study = s.create_new_study("MNIST", StudyDirection::Maximize);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // starts a trial, beats once and dies without a word (as under SIGKILL)
    try {
      PostgresStorage mine(backend.url);
      const FrozenTrial t = mine.create_new_trial(study);
      mine.record_heartbeat(t.trial_id);
    } catch (...) {
      std::_Exit(2);
    }
    std::_Exit(0);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WEXITSTATUS(status) == 0);
  const FrozenTrial alive = s.create_new_trial(study);
  s.record_heartbeat(alive.trial_id);
  CHECK(s.fail_stale_trials(study, 5).empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  s.record_heartbeat(alive.trial_id);
  const auto stale = s.fail_stale_trials(study, 1);
  REQUIRE(stale.size() == 1);
  const FrozenTrial dead = s.get_trial(stale[0]);
  CHECK(dead.number == 0);
  CHECK(dead.state == TrialState::Fail);
  CHECK(s.get_trial(alive.trial_id).state == TrialState::Running);
  // The next worker can take the budget the dead one left (FAIL is not counted).
  CHECK(s.create_new_trial_within(study, 2, {TrialState::Complete, TrialState::Running})->number == 2);
}

// ---- connections ----------------------------------------------------------------------------------

TEST_CASE("postgres: a server that cannot be reached is named in the error, without the password",
          "[.postgres][study][storage]") {
  for (const std::string url : {"postgresql://normlab:s3cret-pw@127.0.0.1:1/nodb",
                                "postgresql+psycopg2://normlab:s3cret-pw@127.0.0.1:1/nodb?sslmode=disable",
                                "postgres://normlab@127.0.0.1:1/nodb?password=s3cret-pw"}) {
    INFO(url);
    CHECK_THROWS_AS(open_storage(url), StorageError);
    CHECK_THROWS_WITH(open_storage(url), Catch::Contains("cannot connect to PostgreSQL at host 127.0.0.1 port 1 "
                                                         "database 'nodb' user 'normlab'") &&
                                             !Catch::Contains("s3cret"));
  }
  // Study's own messages show the URL without its password too.
  StudyOptions o;
  o.name = "x";
  o.storage_url = "postgresql://normlab:s3cret-pw@127.0.0.1:1/nodb";
  CHECK(normlab::study::detail::redact_url(o.storage_url) == "postgresql://normlab:***@127.0.0.1:1/nodb");
}

TEST_CASE("postgres: a password comes from the URL, PGPASSWORD or a password file", "[.postgres][study][storage]") {
  PostgresBackend backend;  // a database owned by a role that must give its password (postgres_server.sh)
  const std::string db = backend.url.substr(backend.url.rfind('/') + 1);
  rows(TestServer::get().admin_url(), "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'normlab_pw') "
                                      "THEN CREATE ROLE normlab_pw LOGIN PASSWORD 'pw-s3cret'; END IF; END $$");
  rows(TestServer::get().admin_url(), "ALTER DATABASE " + db + " OWNER TO normlab_pw");
  const std::string hostport = backend.url.substr(backend.url.find('@') + 1, backend.url.rfind('/') - backend.url.find('@') - 1);
  const std::string base = "postgresql://normlab_pw@" + hostport + "/" + db;
  ::unsetenv("PGPASSWORD");
  normlab::testing::TempDir home("normlab_pgpass");
  ::setenv("PGPASSFILE", home.file("none").c_str(), 1);

  CHECK_THROWS_WITH(PostgresStorage(base), Catch::Contains("password") && Catch::Contains("user 'normlab_pw'"));
  CHECK_THROWS_WITH(PostgresStorage("postgresql://normlab_pw:wrong-guess@" + hostport + "/" + db),
                    Catch::Contains("password authentication failed") && !Catch::Contains("wrong-guess"));
  {
    PostgresStorage s("postgresql://normlab_pw:pw-s3cret@" + hostport + "/" + db);
    s.create_new_study("from the URL", StudyDirection::Maximize);
  }
  ::setenv("PGPASSWORD", "pw-s3cret", 1);
  CHECK(PostgresStorage(base).study_names() == std::vector<std::string>{"from the URL"});
  ::unsetenv("PGPASSWORD");
  {
    std::ofstream(home.file("pgpass")) << "127.0.0.1:*:" << db << ":normlab_pw:pw-s3cret\n";
    REQUIRE(::chmod(home.file("pgpass").c_str(), 0600) == 0);
    ::setenv("PGPASSFILE", home.file("pgpass").c_str(), 1);
    CHECK(PostgresStorage(base).study_names() == std::vector<std::string>{"from the URL"});
  }
  ::unsetenv("PGPASSFILE");
  CHECK(rows(backend.url, "SELECT tableowner FROM pg_tables WHERE tablename = 'trials'") ==
        std::vector<std::vector<std::string>>{{"normlab_pw"}});
}

TEST_CASE("postgres: a connection cut by the server is reopened on the next call", "[.postgres][study][storage]") {
  PostgresBackend backend;
  PostgresStorage s(backend.url);
  const int64_t study = s.create_new_study("MNIST", StudyDirection::Maximize);
  const FrozenTrial t0 = s.create_new_trial(study);
  const std::string db = backend.url.substr(backend.url.rfind('/') + 1);
  const auto killed = rows(TestServer::get().admin_url(),
                           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND "
                           "application_name = 'normlab'",
                           {db});
  REQUIRE(killed.size() == 1);
  const FrozenTrial t1 = s.create_new_trial(study);  // reconnects, runs once
  CHECK(t1.number == 1);
  REQUIRE(s.set_trial_state_values(t0.trial_id, TrialState::Complete, 0.5));
  CHECK(s.count_trials(study) == 2);
}

TEST_CASE("postgres: a server restart mid-study loses no trial and counts none twice", "[.postgres][study][storage]") {
  PrivateServer server;
  PostgresStorage s(server.url);
  s.set_reconnect_patience(std::chrono::seconds(30));
  const int64_t study = s.create_new_study("MNIST", StudyDirection::Maximize);
  const std::vector<TrialState> counted = {TrialState::Complete, TrialState::Running};
  int made = 0;
  for (; made < 3; ++made) {
    const auto t = s.create_new_trial_within(study, 6, counted);
    REQUIRE(t);
    REQUIRE(s.set_trial_state_values(t->trial_id, TrialState::Complete, made));
  }
  const auto running = s.create_new_trial_within(study, 6, counted);
  REQUIRE(running);
  server.restart();  // every connection is cut
  REQUIRE(s.set_trial_state_values(running->trial_id, TrialState::Complete, 3.0));
  while (auto t = s.create_new_trial_within(study, 6, counted)) {
    REQUIRE(s.set_trial_state_values(t->trial_id, TrialState::Complete, 9.0));
    ++made;
  }
  CHECK(made == 5);
  const auto all = s.get_all_trials(study);
  REQUIRE(all.size() == 6);
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].number == static_cast<int64_t>(i));
    CHECK(all[i].state == TrialState::Complete);
  }
}

TEST_CASE("postgres: open_storage takes Optuna's URL forms", "[.postgres][study][storage]") {
  PostgresBackend backend;
  const std::string psycopg2 = "postgresql+psycopg2://" + backend.url.substr(std::string("postgresql://").size());
  const std::string short_form = "postgres://" + backend.url.substr(std::string("postgresql://").size());
  for (const std::string& url : {backend.url, psycopg2, short_form}) {
    INFO(url);
    auto s = open_storage(url);
    REQUIRE(dynamic_cast<PostgresStorage*>(s.get()));
  }
  StudyOptions o;
  o.name = "via Study";
  o.storage_url = psycopg2;
  o.load_if_exists = true;
  Study study = Study::create(o, search::make_sampler("random", 1));
  study.optimize([](Trial& t) { return t.suggest_float("mean", -3, 3); }, 3);
  CHECK(study.trials({TrialState::Complete}).size() == 3);
  CHECK(rows(backend.url, "SELECT count(*) FROM trials WHERE state = 'COMPLETE'") ==
        std::vector<std::vector<std::string>>{{"3"}});
}

#endif  // NORMLAB_HAVE_POSTGRES
