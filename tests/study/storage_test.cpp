// normlab/study/{memory,sqlite}_storage.hpp and open_storage.hpp: one behaviour suite run on both
// storages, then what only the SQLite file has: Optuna 3.1's exact schema and rows, the files it
// refuses, a study database written by Optuna 3.1 itself (tests/data/optuna), and sharing a file.
#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "../temp_dir.hpp"
#include "storage_contract.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "normlab/study/json.hpp"
#include "normlab/study/memory_storage.hpp"
#include "normlab/study/open_storage.hpp"
#include "normlab/study/sqlite_storage.hpp"

namespace fs = std::filesystem;
namespace search = normlab::search;
using namespace normlab::study;
namespace storage_contract = normlab::testing::storage_contract;

namespace {

struct TempDir : normlab::testing::TempDir {
  TempDir() : normlab::testing::TempDir("normlab_storage_test") {}
};

struct MemoryBackend {
  std::unique_ptr<Storage> make() { return std::make_unique<InMemoryStorage>(); }
};
struct SqliteBackend {
  TempDir dir;
  std::unique_ptr<Storage> make() { return std::make_unique<SqliteStorage>(dir.file("study.sqlite3")); }
};

using storage_contract::kEpochs;
using storage_contract::kMean;
using storage_contract::kStd;

/// Rows of a query on an SQLite file, each column as text ("NULL" for null; doubles as %.17g).
std::vector<std::vector<std::string>> rows(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::vector<std::vector<std::string>> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      switch (sqlite3_column_type(st, c)) {
        case SQLITE_NULL: row.push_back("NULL"); break;
        case SQLITE_FLOAT: {
          char buf[40];
          std::snprintf(buf, sizeof buf, "%.17g", sqlite3_column_double(st, c));
          row.push_back(buf);
          break;
        }
        default: row.push_back(reinterpret_cast<const char*>(sqlite3_column_text(st, c)));
      }
    }
    out.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

std::string g17(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void exec_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

using storage_contract::kDatetime;

std::string golden_dir() { return NORMLAB_TEST_DATA_DIR "/optuna"; }

}  // namespace

// ---- the behaviour suite, on both storages ------------------------------------------------------
// (the cases themselves are in storage_contract.hpp, which PostgreSQL's tests run too)

TEMPLATE_TEST_CASE("storage: studies are created once, found by name, keep their direction", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::studies<TestType>();
}

TEMPLATE_TEST_CASE("storage: trials are numbered per study in creation order", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::numbering<TestType>();
}

TEMPLATE_TEST_CASE("storage: params keep their internal value and distribution", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::params<TestType>();
}

TEMPLATE_TEST_CASE("storage: a conflicting distribution is refused, says why, and stores nothing", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::conflicting_distribution<TestType>();
}

TEMPLATE_TEST_CASE("storage: finished trials cannot change, and state changes follow Optuna", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::finished_trials<TestType>();
}

TEMPLATE_TEST_CASE("storage: intermediate values and attributes", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::intermediate_and_attrs<TestType>();
}

TEMPLATE_TEST_CASE("storage: study user attributes are per study and overwritten by key", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::study_user_attrs<TestType>();
}

TEMPLATE_TEST_CASE("storage: template trials and the WAITING queue", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::templates_and_waiting<TestType>();
}

TEMPLATE_TEST_CASE("storage: heartbeats fail stale RUNNING trials only", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::heartbeats<TestType>();
}

TEMPLATE_TEST_CASE("storage: threads sharing one storage never duplicate a number", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::threads<TestType>();
}

TEMPLATE_TEST_CASE("storage: a study-wide budget is counted and spent in one step", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::budget<TestType>();
}

TEMPLATE_TEST_CASE("storage: a queued trial is popped only within a study-wide budget", "[study][storage]",
                   MemoryBackend, SqliteBackend) {
  storage_contract::queued_budget<TestType>();
}

// ---- SQLite: Optuna's schema and rows ------------------------------------------------------------

TEST_CASE("sqlite: a new file has Optuna 3.1's DDL verbatim and its version rows", "[study][storage][sqlite]") {
  TempDir dir;
  const std::string path = dir.file("new.sqlite3");
  { SqliteStorage s(path); }
  // The golden file was created by Optuna 3.1 itself.
  const std::string sql = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name";
  CHECK(rows(path, sql) == rows(golden_dir() + "/optuna31_small.sqlite3", sql));
  CHECK(rows(path, "SELECT * FROM version_info") == std::vector<std::vector<std::string>>{{"1", "12", "3.1.0"}});
  CHECK(rows(path, "SELECT * FROM alembic_version") == std::vector<std::vector<std::string>>{{"v3.0.0.d"}});
  SqliteStorage again(path, SchemaVersion::v3_2_0_a);  // an existing file keeps its revision
  CHECK(again.schema_version() == SchemaVersion::v3_0_0_d);
}

TEST_CASE("sqlite: SchemaVersion::v3_2_0_a writes the revision of Optuna >= 3.2", "[study][storage][sqlite]") {
  TempDir dir;
  const std::string path = dir.file("v320.sqlite3");
  { SqliteStorage s(path, SchemaVersion::v3_2_0_a); }
  CHECK(rows(path, "SELECT * FROM alembic_version") == std::vector<std::vector<std::string>>{{"v3.2.0.a"}});
  CHECK(rows(path, "SELECT * FROM version_info") == std::vector<std::vector<std::string>>{{"1", "12", "3.2.0"}});
  CHECK(rows(path, "SELECT sql FROM sqlite_master WHERE name = 'ix_trials_study_id'") ==
        std::vector<std::vector<std::string>>{{"CREATE INDEX ix_trials_study_id ON trials (study_id)"}});
  SqliteStorage again(path);
  CHECK(again.schema_version() == SchemaVersion::v3_2_0_a);
}

TEST_CASE("sqlite: rows are written as Optuna 3.1 writes them", "[study][storage][sqlite]") {
  TempDir dir;
  const std::string path = dir.file("rows.sqlite3");
  SqliteStorage s(path);
  const int64_t study = s.create_new_study("MNIST", StudyDirection::Maximize);
  const FrozenTrial t = s.create_new_trial(study);
  s.set_trial_param(t.trial_id, "mean", -2.769092812898994, kMean);
  s.set_trial_param(t.trial_id, "std", 0.50529774178950234, kStd);
  s.set_trial_param(t.trial_id, "epochs", 3, kEpochs);
  s.set_trial_intermediate_value(t.trial_id, 0, 0.5);
  s.set_trial_intermediate_value(t.trial_id, 1, std::nan(""));
  s.set_trial_intermediate_value(t.trial_id, 2, -HUGE_VAL);
  s.set_trial_user_attr(t.trial_id, "note", json_quote("caf\xc3\xa9"));
  s.record_heartbeat(t.trial_id);
  REQUIRE(s.set_trial_state_values(t.trial_id, TrialState::Complete, HUGE_VAL));
  const FrozenTrial u = s.create_new_trial(study);
  REQUIRE(s.set_trial_state_values(u.trial_id, TrialState::Complete, 0.98));

  CHECK(rows(path, "SELECT study_id, study_name FROM studies") == std::vector<std::vector<std::string>>{{"1", "MNIST"}});
  CHECK(rows(path, "SELECT study_direction_id, direction, study_id, objective FROM study_directions") ==
        std::vector<std::vector<std::string>>{{"1", "MAXIMIZE", "1", "0"}});
  const auto trials = rows(path, "SELECT trial_id, number, study_id, state, datetime_start, datetime_complete FROM trials");
  REQUIRE(trials.size() == 2);
  CHECK(trials[0][0] == "1");
  CHECK(trials[0][1] == "0");
  CHECK(trials[1][1] == "1");
  CHECK(trials[0][3] == "COMPLETE");
  CHECK(std::regex_match(trials[0][4], kDatetime));
  CHECK(std::regex_match(trials[0][5], kDatetime));
  CHECK(rows(path, "SELECT param_name, typeof(param_value), param_value, distribution_json FROM trial_params ORDER BY param_id") ==
        std::vector<std::vector<std::string>>{
            {"mean", "real", g17(-2.769092812898994),
             "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, \"low\": -3.0, \"high\": 3.0, \"log\": false}}"},
            {"std", "real", g17(0.50529774178950234),
             "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, \"low\": 0.1, \"high\": 2.0, \"log\": true}}"},
            {"epochs", "real", "3",
             "{\"name\": \"IntDistribution\", \"attributes\": {\"log\": false, \"step\": 1, \"low\": 1, \"high\": 5}}"}});
  CHECK(rows(path, "SELECT trial_id, objective, value, value_type FROM trial_values ORDER BY trial_id") ==
        std::vector<std::vector<std::string>>{{"1", "0", "NULL", "INF_POS"}, {"2", "0", g17(0.98), "FINITE"}});
  CHECK(rows(path, "SELECT step, intermediate_value, intermediate_value_type FROM trial_intermediate_values ORDER BY step") ==
        std::vector<std::vector<std::string>>{{"0", "0.5", "FINITE"}, {"1", "NULL", "NAN"}, {"2", "NULL", "INF_NEG"}});
  CHECK(rows(path, "SELECT \"key\", value_json FROM trial_user_attributes") ==
        std::vector<std::vector<std::string>>{{"note", "\"caf\\u00e9\""}});
  const auto beat = rows(path, "SELECT trial_id, heartbeat FROM trial_heartbeats");
  REQUIRE(beat.size() == 1);
  CHECK(std::regex_match(beat[0][1], std::regex(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")));  // CURRENT_TIMESTAMP
}

TEST_CASE("sqlite: files that are not Optuna study databases are refused clearly", "[study][storage][sqlite]") {
  TempDir dir;
  const std::string text = dir.file("notes.txt");
  std::ofstream(text) << "this is not a database, just some text that is long enough to have a header\n";
  CHECK_THROWS_WITH(SqliteStorage(text), Catch::Contains("'" + text + "' is not an Optuna study database"));

  const std::string other = dir.file("other.sqlite3");
  exec_sql(other, "CREATE TABLE people (name TEXT)");
  CHECK_THROWS_WITH(SqliteStorage(other), Catch::Contains("is not an Optuna study database"));
  CHECK(rows(other, "SELECT count(*) FROM sqlite_master") == std::vector<std::vector<std::string>>{{"1"}});  // untouched

  const std::string newer = dir.file("newer.sqlite3");
  { SqliteStorage s(newer); }
  exec_sql(newer, "UPDATE alembic_version SET version_num = 'v9.9.9.z'");
  CHECK_THROWS_WITH(SqliteStorage(newer), Catch::Contains("schema revision 'v9.9.9.z', which normlab does not know"));
  exec_sql(newer, "UPDATE alembic_version SET version_num = 'v2.6.0.a'");
  CHECK_THROWS_WITH(SqliteStorage(newer), Catch::Contains("optuna storage upgrade"));

  const std::string ancient = dir.file("ancient.sqlite3");
  { SqliteStorage s(ancient); }
  exec_sql(ancient, "DELETE FROM alembic_version; UPDATE version_info SET schema_version = 11");
  CHECK_THROWS_WITH(SqliteStorage(ancient), Catch::Contains("schema_version 11"));

  CHECK_THROWS_WITH(SqliteStorage(dir.file("no/such/folder/x.sqlite3")), Catch::Contains("cannot open the study database"));
  CHECK_THROWS_AS(SqliteStorage(dir.path.string()), StorageError);
}

TEST_CASE("sqlite: a file with only Optuna's core tables is completed and stamped, as Optuna does",
          "[study][storage][sqlite]") {
  TempDir dir;
  const std::string path = dir.file("core.sqlite3");
  for (const auto& ddl : normlab::study::detail::kOptunaDdl) {
    const std::string name = ddl.name;
    if (name == "studies" || name == "study_directions" || name == "trials" || name == "trial_params" ||
        name == "trial_values")
      exec_sql(path, ddl.sql);
  }
  exec_sql(path, "INSERT INTO studies VALUES (1, 'old'); INSERT INTO study_directions VALUES (1, 'MINIMIZE', 1, 0)");
  SqliteStorage s(path);
  CHECK(s.find_study("old") == 1);
  CHECK(s.study_direction(1) == StudyDirection::Minimize);
  CHECK(rows(path, "SELECT * FROM alembic_version") == std::vector<std::vector<std::string>>{{"v3.0.0.d"}});
  CHECK(rows(path, "SELECT * FROM version_info") == std::vector<std::vector<std::string>>{{"1", "12", "3.1.0"}});
  CHECK(rows(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table'") ==
        std::vector<std::vector<std::string>>{{"13"}});
}

TEST_CASE("sqlite: a study database written by Optuna 3.1 reads as Optuna reads it", "[study][storage][sqlite]") {
  // tests/data/optuna/optuna31_small.{sqlite3,json}: scripts/interop/make_optuna_fixture.py
  const std::string golden = golden_dir() + "/optuna31_small.sqlite3";
  const std::string before = read_file(golden);
  REQUIRE(!before.empty());
  const Json expected = Json::parse(read_file(golden_dir() + "/optuna31_small.json"));
  SqliteStorage s(golden);  // opening and reading never writes
  CHECK(s.schema_version() == SchemaVersion::v3_0_0_d);
  std::vector<std::string> names;
  for (const Json& study : expected.at("studies").as_array()) names.push_back(study.at("name").as_string());
  CHECK(s.study_names() == names);
  int checked = 0;
  for (const Json& study : expected.at("studies").as_array()) {
    const auto id = s.find_study(study.at("name").as_string());
    REQUIRE(id);
    CHECK(to_string(s.study_direction(*id)) == study.at("direction").as_string());
    const auto trials = s.get_all_trials(*id);
    const auto& want = study.at("trials").as_array();
    REQUIRE(trials.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const FrozenTrial& t = trials[i];
      const Json& w = want[i];
      INFO("study " << study.at("name").as_string() << " trial " << i);
      CHECK(t.trial_id == w.at("trial_id").as_int());
      CHECK(t.number == w.at("number").as_int());
      CHECK(to_string(t.state) == w.at("state").as_string());
      if (w.at("value").is_null()) CHECK(!t.value);
      else CHECK(t.value == w.at("value").as_double());
      REQUIRE(t.params.size() == w.at("params").as_object().size());
      for (const auto& [name, v] : w.at("params").as_object()) {
        CHECK(t.params.at(name) == v.as_double());
        CHECK(search::to_json(t.distributions.at(name)) == w.at("distributions").at(name).as_string());
      }
      REQUIRE(t.intermediate_values.size() == w.at("intermediate_values").as_array().size());
      for (const Json& pair : w.at("intermediate_values").as_array()) {
        const double v = pair.as_array()[1].as_double();
        const double got = t.intermediate_values.at(pair.as_array()[0].as_int());
        if (std::isnan(v)) CHECK(std::isnan(got));
        else CHECK(got == v);
      }
      for (const auto& [k, v] : w.at("user_attrs").as_object()) CHECK(t.user_attrs.at(k) == v.as_string());
      for (const auto& [k, v] : w.at("system_attrs").as_object()) CHECK(t.system_attrs.at(k) == v.as_string());
      CHECK(t.user_attrs.size() == w.at("user_attrs").as_object().size());
      CHECK(t.system_attrs.size() == w.at("system_attrs").as_object().size());
      CHECK(t.datetime_start == w.at("datetime_start").as_string());
      CHECK(t.datetime_complete == w.at("datetime_complete").as_string());
      ++checked;
    }
  }
  CHECK(checked == 12);
  CHECK(read_file(golden) == before);
}

TEST_CASE("sqlite: the golden study continues here with Optuna's numbering", "[study][storage][sqlite]") {
  TempDir dir;
  const std::string path = dir.file("copy.sqlite3");
  fs::copy_file(golden_dir() + "/optuna31_small.sqlite3", path);
  SqliteStorage s(path);
  const int64_t mnist = *s.find_study("MNIST");
  const auto waiting = s.pop_waiting_trial(mnist);  // the trial Optuna's enqueue_trial made
  REQUIRE(waiting);
  CHECK(s.get_trial(*waiting).number == 7);
  CHECK(s.get_trial(*waiting).system_attrs.at("fixed_params") == "{\"mean\": 0.5, \"std\": 1.0}");
  const FrozenTrial next = s.create_new_trial(mnist);
  CHECK(next.number == 8);
  CHECK(next.trial_id == 13);  // trial ids are global across studies, as Optuna's
  search::FloatDistribution wider = kStd;
  wider.high = 10;
  CHECK_THROWS_AS(s.set_trial_param(next.trial_id, "std", 1.0, wider), SearchSpaceError);
  s.set_trial_param(next.trial_id, "std", 1.0, kStd);
  const int64_t ints = *s.find_study("ints");
  CHECK(s.create_new_trial(ints).number == 3);
}

TEST_CASE("sqlite: several storages on one file, from several threads, lose nothing", "[study][storage][sqlite]") {
  TempDir dir;
  const std::string path = dir.file("shared.sqlite3");
  const int64_t study = SqliteStorage(path).create_new_study("MNIST", StudyDirection::Maximize);
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      try {
        SqliteStorage own(path);  // its own connection: SQLite's file locks arbitrate
        for (int i = 0; i < 15; ++i) {
          const FrozenTrial t = own.create_new_trial(study);
          own.set_trial_param(t.trial_id, "mean", 0.01 * (k * 100 + i), kMean);
          own.set_trial_intermediate_value(t.trial_id, 0, i);
          own.set_trial_state_values(t.trial_id, TrialState::Complete, i);
          own.get_all_trials(study);
        }
      } catch (const std::exception& e) {
        ++errors;
        WARN(e.what());
      }
    });
  for (auto& t : threads) t.join();
  CHECK(errors == 0);
  const auto all = SqliteStorage(path).get_all_trials(study);
  REQUIRE(all.size() == 60);
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].number == static_cast<int64_t>(i));
    CHECK(all[i].state == TrialState::Complete);
    CHECK(all[i].params.size() == 1);
  }
}

// ---- open_storage --------------------------------------------------------------------------------

TEST_CASE("open_storage: the URLs Optuna accepts for SQLite, and clear errors for the rest", "[study][storage]") {
  CHECK(dynamic_cast<InMemoryStorage*>(open_storage("").get()));
  CHECK(dynamic_cast<InMemoryStorage*>(open_storage(":memory:").get()));
  CHECK(dynamic_cast<SqliteStorage*>(open_storage("sqlite:///:memory:").get()));

  TempDir dir;
  const std::string absolute = dir.file("abs.sqlite3");  // starts with '/': sqlite:////...
  auto a = open_storage("sqlite:///" + absolute);
  REQUIRE(dynamic_cast<SqliteStorage*>(a.get()));
  CHECK(fs::exists(absolute));
  const std::string relative = fs::relative(dir.file("rel.sqlite3"), fs::current_path()).string();
  REQUIRE(relative.front() != '/');
  auto r = open_storage("sqlite:///" + relative, SchemaVersion::v3_2_0_a);
  CHECK(dynamic_cast<SqliteStorage&>(*r).schema_version() == SchemaVersion::v3_2_0_a);
  CHECK(fs::exists(dir.file("rel.sqlite3")));

  for (const char* url : {"mysql://u@h/db", "sqlite://rel.db", "sqlite:///",
                          "sqlite:///x.db?timeout=10", "study.db", "file:///tmp/x.db"}) {
    INFO(url);
    CHECK_THROWS_AS(open_storage(url), std::invalid_argument);
    CHECK_THROWS_WITH(open_storage(url), Catch::Contains(std::string("'") + url + "'") &&
                                             Catch::Contains("sqlite:///relative/path.db"));
  }
  CHECK_THROWS_WITH(open_storage("mysql://user@host/db"), Catch::Contains("only SQLite and PostgreSQL are supported, not mysql"));
  // A password never reaches a message.
  CHECK_THROWS_WITH(open_storage("mysql://user:s3cret@host/db"),
                    !Catch::Contains("s3cret") && Catch::Contains("'mysql://user:***@host/db'"));
#if !NORMLAB_HAVE_POSTGRES
  for (const char* url : {"postgresql://user:s3cret@host/db", "postgresql+psycopg2://user@host/db"}) {
    INFO(url);
    CHECK_THROWS_WITH(open_storage(url), Catch::Contains("no PostgreSQL support") && !Catch::Contains("s3cret"));
  }
#endif
}
