// Studies and their options from elsewhere (issue 14): non-UTF-8 names, heartbeat intervals that
// overflow the clock, resuming a study whose database does not exist, a first heartbeat that
// cannot be written.
#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "../temp_dir.hpp"
#include "normlab/search/samplers.hpp"
#include "normlab/study/study.hpp"

using namespace normlab;
using namespace normlab::study;

namespace {

struct TempDir : normlab::testing::TempDir {
  TempDir() : normlab::testing::TempDir("normlab_study_hostile") {}
};

StudyOptions options(const std::string& url, const std::string& name = "s") {
  StudyOptions o;
  o.storage_url = url;
  o.name = name;
  return o;
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

}  // namespace

TEST_CASE("a study name that is not UTF-8 is refused before the database is touched", "[study][hostile]") {
  TempDir dir;
  for (const std::string bad : {std::string("a\xff"), std::string("\xc3"), std::string("\xc0\xaf"),
                                std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80")}) {
    INFO(bad.size());
    REQUIRE_THROWS_WITH(Study::create(options(dir.url("s.sqlite3"), bad), search::make_sampler("random", 1)),
                        Catch::Contains("the study name is not valid UTF-8"));
  }
  REQUIRE_FALSE(std::filesystem::exists(dir.file("s.sqlite3")));
  // Valid UTF-8 of every length is kept as it is.
  const std::string good = "MNIST \xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
  auto s = Study::create(options(dir.url("s.sqlite3"), good), search::make_sampler("random", 1));
  REQUIRE(s.name() == good);
}

TEST_CASE("heartbeat intervals and grace periods that are not > 0 and <= 1e8 seconds are refused", "[study][hostile]") {
  for (const double bad : {0.0, -1.0, std::numeric_limits<double>::infinity(), std::nan(""), 1e10}) {
    auto o = options("");
    o.heartbeat_interval = bad;
    REQUIRE_THROWS_WITH(Study::create(o, search::make_sampler("random", 1)),
                        Catch::Contains("StudyOptions::heartbeat_interval must be > 0 and <= 1e8 seconds"));
    auto g = options("");
    g.grace_period = bad;
    REQUIRE_THROWS_WITH(Study::create(g, search::make_sampler("random", 1)),
                        Catch::Contains("StudyOptions::grace_period must be > 0 and <= 1e8 seconds"));
    auto s = Study::create(options(""), search::make_sampler("random", 1));
    OptimizeOptions run;
    run.heartbeat_interval = bad;
    REQUIRE_THROWS_WITH(s.optimize([](Trial&) { return 1.0; }, 1, run),
                        Catch::Contains("OptimizeOptions::heartbeat_interval must be > 0 and <= 1e8 seconds"));
    REQUIRE(s.trials().empty());
  }
}

TEST_CASE("resuming a study whose database does not exist creates no file", "[study][hostile]") {
  TempDir dir;
  auto o = options(dir.url("missing.sqlite3"), "MNIST");
  o.require_existing = true;
  REQUIRE_THROWS_AS(Study::create(o, search::make_sampler("random", 1)), NotFoundError);
  REQUIRE_THROWS_WITH(Study::create(o, search::make_sampler("random", 1)),
                      Catch::Contains("no study 'MNIST' to resume: the study database '") &&
                          Catch::Contains("missing.sqlite3' does not exist (nothing was created)"));
  REQUIRE_FALSE(std::filesystem::exists(dir.file("missing.sqlite3")));
}

TEST_CASE("a trial whose first heartbeat cannot be written is failed, not left RUNNING", "[study][hostile]") {
  TempDir dir;
  const auto path = dir.file("beat.sqlite3");
  auto s = Study::create(options("sqlite:///" + path), search::make_sampler("random", 1));
  // As a full disk would: every heartbeat write fails, the rest of the database still works.
  exec_sql(path,
           "CREATE TRIGGER no_insert BEFORE INSERT ON trial_heartbeats BEGIN SELECT RAISE(ABORT, 'disk full'); END;"
           "CREATE TRIGGER no_update BEFORE UPDATE ON trial_heartbeats BEGIN SELECT RAISE(ABORT, 'disk full'); END;");
  OptimizeOptions run;
  run.heartbeat_interval = 5;
  bool ran = false;
  REQUIRE_THROWS_WITH(s.optimize([&](Trial&) { ran = true; return 1.0; }, 1, run), Catch::Contains("disk full"));
  REQUIRE_FALSE(ran);
  const auto trials = s.trials();
  REQUIRE(trials.size() == 1);
  REQUIRE(trials[0].state == TrialState::Fail);
  REQUIRE_THAT(trials[0].system_attrs.at(kFailReasonKey), Catch::Contains("its first heartbeat could not be recorded") &&
                                                              Catch::Contains("disk full"));
}

TEST_CASE("JSON strings with invalid UTF-8 are refused, as Python's decoder refuses them", "[study][json][hostile]") {
  // fuzz_json's first finding: two keys that differ only in invalid bytes both dumped as
  // "\ufffd\ufffd\ufffd\ufffd", so the dump did not parse back to itself.
  const std::string found = "{\"\x92\x9e\x92\x93\": \"x\", \"low\": 0.0, \"\x91high\": 1.0, \"log\": false, \"\x8d\x8b\x9a\x94\": null}";
  REQUIRE_THROWS_WITH(Json::parse(found), Catch::Contains("malformed JSON at offset 2: invalid UTF-8 in a string"));
  for (const std::string bad : {std::string("\"\xc3\""), std::string("\"\xc0\xaf\""), std::string("\"\xed\xa0\x80\""),
                                std::string("\"\xf4\x90\x80\x80\""), std::string("\"\x80\"")})
    REQUIRE_THROWS_WITH(Json::parse(bad), Catch::Contains("invalid UTF-8 in a string"));
  REQUIRE(Json::parse("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"").as_string() == "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
}
