// normlab/study/study.hpp: Optuna 3.1's Study semantics (create / load, ask / tell, optimize with
// threads and processes, enqueue, failures, pruning, heartbeats, CSV) on memory and SQLite.
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "../temp_dir.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "normlab/study/study.hpp"

namespace fs = std::filesystem;
namespace search = normlab::search;
using namespace normlab::study;

namespace {

struct TempDir : normlab::testing::TempDir {
  TempDir() : normlab::testing::TempDir("normlab_study_test") {}
};

/// A tiny deterministic sampler: a 64-bit LCG, uniform in the (log-)range, snapped to the grid.
class TestSampler final : public search::Sampler {
 public:
  explicit TestSampler(uint64_t seed = 1) : state_(seed) {}
  double sample_independent(const search::StudyView& study, const FrozenTrial&, const std::string&,
                            const search::Distribution& d) override {
    ++calls;
    last_view_size = study.trials.size();
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    const double u = static_cast<double>(state_ >> 11) * 0x1.0p-53;
    if (const auto* f = std::get_if<search::FloatDistribution>(&d)) {
      if (f->log) return std::exp(std::log(f->low) + u * (std::log(f->high) - std::log(f->low)));
      if (f->step) return f->low + std::floor(u * ((f->high - f->low) / *f->step + 1)) * *f->step;
      return f->low + u * (f->high - f->low);
    }
    const auto& i = std::get<search::IntDistribution>(d);
    return static_cast<double>(i.low + static_cast<long long>(u * static_cast<double>((i.high - i.low) / i.step + 1)) * i.step);
  }
  void before_trial(const search::StudyView&, const FrozenTrial&) override { ++trials_started; }
  void reseed(uint64_t seed) override { state_ = seed; }
  std::string name() const override { return "test"; }

  std::atomic<int> calls{0};
  std::atomic<int> trials_started{0};
  size_t last_view_size = 0;

 private:
  uint64_t state_;
};

std::unique_ptr<search::Sampler> sampler(uint64_t seed = 1) { return std::make_unique<TestSampler>(seed); }
TestSampler& test_sampler(Study& s) { return static_cast<TestSampler&>(s.sampler()); }

/// The notebook's objective shape: mean in [-3, 3], std in [0.1, 2] (log).
double notebook_objective(Trial& t) {
  const double mean = t.suggest_float("mean", -3, 3);
  const double std_value = t.suggest_float("std", 0.1, 2, true);
  return 1.0 - std::abs(mean) / 10 - std::abs(std::log(std_value)) / 10;
}

StudyOptions options(const std::string& url, const std::string& name = "MNIST") {
  StudyOptions o;
  o.name = name;
  o.storage_url = url;
  return o;
}

OptimizeOptions jobs(int n) {
  OptimizeOptions o;
  o.n_jobs = n;
  return o;
}
OptimizeOptions rethrowing() {
  OptimizeOptions o;
  o.rethrow_exceptions = true;
  return o;
}
OptimizeOptions max_trials(int64_t n, std::vector<TrialState> states = {TrialState::Complete}) {
  OptimizeOptions o;
  o.max_trials = n;
  o.max_trials_states = std::move(states);
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

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void check_numbers_are_0_to(const std::vector<FrozenTrial>& trials, size_t n) {
  REQUIRE(trials.size() == n);
  std::set<int64_t> numbers, ids;
  for (const FrozenTrial& t : trials) numbers.insert(t.number), ids.insert(t.trial_id);
  CHECK(numbers.size() == n);
  CHECK(ids.size() == n);
  CHECK(*numbers.begin() == 0);
  CHECK(*numbers.rbegin() == static_cast<int64_t>(n) - 1);
}

}  // namespace

TEST_CASE("study: ask and tell, in memory and in SQLite", "[study]") {
  TempDir dir;
  for (const std::string& url : {std::string(), dir.url("ask.sqlite3")}) {
    INFO("storage " << url);
    Study study = Study::create(options(url), sampler());
    CHECK(study.created());
    CHECK(study.direction() == StudyDirection::Maximize);
    Trial t = study.ask();
    CHECK(t.number() == 0);
    CHECK(test_sampler(study).trials_started == 1);
    const double mean = t.suggest_float("mean", -3, 3);
    const double s = t.suggest_float("std", 0.1, 2, true);
    CHECK(mean >= -3);
    CHECK(mean <= 3);
    CHECK(s >= 0.1);
    CHECK(s <= 2);
    CHECK(t.suggest_float("mean", -3, 3) == mean);  // the same name: the first value
    CHECK(test_sampler(study).calls == 2);
    CHECK(test_sampler(study).last_view_size == 1);  // the sampler sees the study, this trial included
    const long long epochs = t.suggest_int("epochs", 1, 10, 4);  // the grid 1, 5, 9
    CHECK((epochs == 1 || epochs == 5 || epochs == 9));
    CHECK(t.suggest_float("const", 2.5, 2.5) == 2.5);  // one value: no sampling
    CHECK(test_sampler(study).calls == 3);
    t.set_user_attr("note", Json::object({{"epochs", 14}}));
    const FrozenTrial done = study.tell(t, 0.75);
    CHECK(done.state == TrialState::Complete);
    CHECK(done.value == 0.75);
    CHECK(done.params.at("mean") == mean);
    CHECK(done.user_attrs.at("note") == "{\"epochs\": 14}");
    CHECK(std::get<search::IntDistribution>(done.distributions.at("epochs")).high == 9);  // Optuna adjusts high
    CHECK_THROWS_WITH(study.tell(t, 0.5), Catch::Contains("cannot tell trial #0") && Catch::Contains("COMPLETE"));
    CHECK_THROWS_AS(study.tell(t, TrialState::Running), std::invalid_argument);

    Trial t2 = study.ask();
    CHECK(t2.number() == 1);
    notebook_objective(t2);
    study.tell(t2, 0.25);
    CHECK(study.best_trial().number == 0);
    CHECK(study.best_value() == 0.75);
    CHECK(study.best_params().at("mean") == mean);
    CHECK(study.trials().size() == 2);
  }
}

TEST_CASE("study: suggest_float with a step adjusts high with Optuna's decimal arithmetic", "[study]") {
  Study study = Study::create(options(""), sampler());
  Trial t = study.ask();
  t.suggest_float("x", 0, 1, false, 0.3);
  t.suggest_float("y", 0.1, 0.75, false, 0.2);
  t.suggest_float("z", 0, 1, false, 0.25);
  const auto& d = t.distributions();
  CHECK(std::get<search::FloatDistribution>(d.at("x")).high == 0.9);  // float(Decimal("0.9"))
  CHECK(std::get<search::FloatDistribution>(d.at("y")).high == 0.7);
  CHECK(std::get<search::FloatDistribution>(d.at("z")).high == 1.0);
  CHECK_THROWS_AS(t.suggest_float("bad", 1, 0), std::invalid_argument);
  CHECK_THROWS_AS(t.suggest_float("bad", 0, 1, true), std::invalid_argument);
  CHECK_THROWS_AS(t.suggest_int("bad", 1, 8, 2, true), std::invalid_argument);
  // The generic entry takes any distribution, and adjusts it the same way.
  t.suggest("w", search::IntDistribution{0, 10, false, 3});
  CHECK(std::get<search::IntDistribution>(t.distributions().at("w")).high == 9);
  CHECK(t.suggest("x", search::FloatDistribution{0, 1, false, 0.3}) == t.params().at("x"));
}

TEST_CASE("study: create, load and the errors Optuna's create_study / load_study give", "[study]") {
  TempDir dir;
  const std::string url = dir.url("errors.sqlite3");
  { Study s = Study::create(options(url), sampler()); }
  {
    Study again = Study::create(options(url), sampler());  // load_if_exists=true: continue it
    CHECK_FALSE(again.created());
  }
  StudyOptions missing = options(url, "ResNet");
  missing.require_existing = true;
  CHECK_THROWS_AS(Study::create(missing, sampler()), NotFoundError);
  CHECK_THROWS_WITH(Study::create(missing, sampler()),
                    Catch::Contains("no study named 'ResNet'") && Catch::Contains("'MNIST'"));
  StudyOptions fresh = options(url);
  fresh.load_if_exists = false;
  CHECK_THROWS_AS(Study::create(fresh, sampler()), DuplicatedStudyError);
  CHECK_THROWS_WITH(Study::create(fresh, sampler()), Catch::Contains("'MNIST' already exists"));
  StudyOptions minimize = options(url);
  minimize.direction = StudyDirection::Minimize;
  CHECK_THROWS_WITH(Study::create(minimize, sampler()),
                    Catch::Contains("stored with direction MAXIMIZE") && Catch::Contains("MINIMIZE"));
  CHECK_THROWS_WITH(Study::create(options(url), nullptr), Catch::Contains("needs a sampler"));

  Study unnamed = Study::create(options("", ""), sampler());
  CHECK(unnamed.name().rfind("no-name-", 0) == 0);
  CHECK(unnamed.name().size() == 8 + 36);

  CHECK_THROWS_WITH(Study::create(options("mysql://localhost/optuna"), sampler()),
                    Catch::Contains("unsupported storage URL 'mysql://localhost/optuna'"));
#if NORMLAB_HAVE_POSTGRES  // nothing listens on port 1: the message says where, never the password
  CHECK_THROWS_WITH(Study::create(options("postgresql://u:s3cret@127.0.0.1:1/optuna"), sampler()),
                    Catch::Contains("cannot connect to PostgreSQL at host 127.0.0.1 port 1 database 'optuna' user 'u'") &&
                        !Catch::Contains("s3cret"));
#else
  CHECK_THROWS_WITH(Study::create(options("postgresql://localhost/optuna"), sampler()),
                    Catch::Contains("no PostgreSQL support"));
#endif
  CHECK_THROWS_WITH(Study::create(options("optuna-MNIST.sqlite3"), sampler()),
                    Catch::Contains("sqlite:///relative/path.db"));
  const std::string text = dir.file("notes.txt");
  std::ofstream(text) << "not a database at all, only some words in a text file of reasonable length\n";
  CHECK_THROWS_WITH(Study::create(options("sqlite:///" + text), sampler()),
                    Catch::Contains("is not an Optuna study database"));
}

TEST_CASE("study: a reopened SQLite study continues its numbering", "[study]") {
  TempDir dir;
  const std::string url = dir.url("resume.sqlite3");
  {
    Study study = Study::create(options(url), sampler());
    study.optimize(notebook_objective, 5);
  }
  Study study = Study::create(options(url), sampler(2));
  study.optimize(notebook_objective, 3);
  const auto trials = study.trials();
  check_numbers_are_0_to(trials, 8);
  for (const FrozenTrial& t : trials) CHECK(t.state == TrialState::Complete);
}

TEST_CASE("study: optimize with n_jobs=2 on SQLite loses and duplicates no trial", "[study]") {
  TempDir dir;
  Study study = Study::create(options(dir.url("threads.sqlite3")), sampler());
  std::atomic<int> running{0}, overlap{0};
  study.optimize(
      [&](Trial& t) {
        if (++running > 1) ++overlap;
        const double v = notebook_objective(t);
        t.report(v, 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        --running;
        return v;
      },
      40, jobs(2));
  const auto trials = study.trials();
  check_numbers_are_0_to(trials, 40);
  for (const FrozenTrial& t : trials) {
    CHECK(t.state == TrialState::Complete);
    CHECK(t.params.size() == 2);
    CHECK(t.intermediate_values.size() == 1);
  }
  CHECK(overlap > 0);  // the objectives did run concurrently
  CHECK(test_sampler(study).calls == 80);
}

TEST_CASE("study: two processes on one SQLite file number their trials 0..39", "[study]") {
  TempDir dir;
  const std::string url = dir.url("processes.sqlite3");
  { Study create = Study::create(options(url), sampler()); }
  std::vector<pid_t> children;
  for (int k = 0; k < 2; ++k) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // the child opens its own connection and leaves without Catch's cleanup
      int code = 0;
      try {
        Study study = Study::create(options(url), sampler(100 + k));
        study.optimize(notebook_objective, 20);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", k, e.what());
        code = 1;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  Study study = Study::create(options(url), sampler());
  const auto trials = study.trials();
  check_numbers_are_0_to(trials, 40);
  for (const FrozenTrial& t : trials) CHECK(t.state == TrialState::Complete);
}

TEST_CASE("study: enqueue() fixes parameters as Optuna's enqueue_trial", "[study]") {
  TempDir dir;
  const std::string url = dir.url("enqueue.sqlite3");
  Study study = Study::create(options(url), sampler());
  study.enqueue({{"mean", 0.5}, {"std", 1.0}});
  study.enqueue({{"mean", 0.5}, {"std", 1.0}}, true);  // skip_if_exists: already queued
  study.enqueue({{"mean", -1.25}});
  auto trials = study.trials();
  REQUIRE(trials.size() == 2);
  CHECK(trials[0].state == TrialState::Waiting);
  CHECK(trials[0].datetime_start.empty());
  CHECK(trials[0].system_attrs.at("fixed_params") == "{\"mean\": 0.5, \"std\": 1.0}");  // byte for byte as Optuna

  Trial first = study.ask();
  CHECK(first.number() == 0);
  CHECK(first.suggest_float("mean", -3, 3) == 0.5);
  CHECK(first.suggest_float("std", 0.1, 2, true) == 1.0);
  CHECK(test_sampler(study).calls == 0);
  study.tell(first, 0.5);
  Trial second = study.ask();
  CHECK(second.number() == 1);
  CHECK(second.suggest_float("mean", -3, 3) == -1.25);
  second.suggest_float("std", 0.1, 2, true);  // not fixed: sampled
  CHECK(test_sampler(study).calls == 1);
  study.tell(second, 0.25);
  CHECK(study.ask().number() == 2);  // the queue is empty: a new trial
  trials = study.trials({TrialState::Complete});
  REQUIRE(trials.size() == 2);
  CHECK(trials[0].params.at("mean") == 0.5);
  CHECK(std::regex_search(trials[0].datetime_start, std::regex("^\\d{4}-")));
}

TEST_CASE("study: NaN and infinite values FAIL with the reason stored", "[study]") {
  Study study = Study::create(options(""), sampler());
  Trial t = study.ask();
  const FrozenTrial nan = study.tell(t, std::nan(""));
  CHECK(nan.state == TrialState::Fail);
  CHECK(!nan.value);
  CHECK(nan.system_attrs.at(kFailReasonKey) == "\"The value nan is not acceptable.\"");
  Trial u = study.ask();
  const FrozenTrial inf = study.tell(u, HUGE_VAL);
  CHECK(inf.state == TrialState::Fail);
  CHECK(Json::parse(inf.system_attrs.at(kFailReasonKey)).as_string().find("The value inf is not acceptable.") == 0);

  StudyOptions optuna_like = options("", "inf");
  optuna_like.infinite_values_fail = false;  // Optuna 3.1: +-inf is a value
  Study s2 = Study::create(optuna_like, sampler());
  Trial v = s2.ask();
  CHECK(s2.tell(v, -HUGE_VAL).value == -HUGE_VAL);
  Trial w = s2.ask();
  CHECK(s2.tell(w, std::nan("")).state == TrialState::Fail);

  // optimize() the same way.
  study.optimize([](Trial&) { return std::nan(""); }, 2);
  CHECK(study.trials({TrialState::Fail}).size() == 4);
}

TEST_CASE("study: an objective's exception FAILs its trial and the study goes on", "[study]") {
  TempDir dir;
  Study study = Study::create(options(dir.url("exceptions.sqlite3")), sampler());
  int calls = 0;
  auto objective = [&](Trial& t) {
    const double v = notebook_objective(t);
    if (++calls == 2) throw std::runtime_error("CUDA out of memory");
    return v;
  };
  study.optimize(objective, 4);
  auto trials = study.trials();
  REQUIRE(trials.size() == 4);
  CHECK(trials[1].state == TrialState::Fail);
  CHECK(trials[1].params.size() == 2);
  CHECK(trials[1].system_attrs.at(kFailReasonKey) == "\"CUDA out of memory\"");
  CHECK(study.trials({TrialState::Complete}).size() == 3);

  // Optuna's behaviour on request: recorded as FAIL, then rethrown.
  calls = 1;
  CHECK_THROWS_WITH(study.optimize(objective, 10, rethrowing()), "CUDA out of memory");
  trials = study.trials();
  REQUIRE(trials.size() == 5);
  CHECK(trials[4].state == TrialState::Fail);
}

namespace {
/// Prunes a trial once it has reported step 2.
class PruneAtStep2 final : public Pruner {
 public:
  bool prune(const std::vector<FrozenTrial>& trials, StudyDirection direction, const FrozenTrial& trial) override {
    seen_trials = trials.size();
    seen_direction = direction;
    return trial.last_step() && *trial.last_step() >= 2;
  }
  size_t seen_trials = 0;
  StudyDirection seen_direction = StudyDirection::NotSet;
};
}  // namespace

TEST_CASE("study: pruning keeps the last intermediate value, as Optuna 3.1", "[study]") {
  TempDir dir;
  auto pruner = std::make_unique<PruneAtStep2>();
  PruneAtStep2& p = *pruner;
  Study study = Study::create(options(dir.url("prune.sqlite3")), sampler(), std::move(pruner));
  study.optimize(
      [](Trial& t) {
        notebook_objective(t);
        for (int epoch = 0; epoch < 5; ++epoch) {
          t.report(0.1 * (epoch + 1), epoch);
          t.report(99.0, epoch);  // a second report of a step is ignored
          if (t.should_prune()) throw TrialPruned("epoch " + std::to_string(epoch));
        }
        return 1.0;
      },
      2);
  const auto trials = study.trials();
  REQUIRE(trials.size() == 2);
  for (const FrozenTrial& t : trials) {
    CHECK(t.state == TrialState::Pruned);
    CHECK(t.value == 0.30000000000000004);  // 0.1 * 3, the last report
    CHECK(t.intermediate_values.size() == 3);
  }
  CHECK(p.seen_trials == 2);
  CHECK(p.seen_direction == StudyDirection::Maximize);

  Trial t = study.ask();
  t.report(0.5, 0);
  t.report(std::nan(""), 1);
  const FrozenTrial pruned = study.tell(t, TrialState::Pruned);
  CHECK(pruned.state == TrialState::Pruned);
  CHECK(!pruned.value);  // a NaN last value is not kept
  Trial u = study.ask();
  CHECK_THROWS_AS(u.report(0.5, -1), std::invalid_argument);
  CHECK(study.tell(u, TrialState::Fail, "gave up").system_attrs.at(kFailReasonKey) == "\"gave up\"");
  Study no_pruner = Study::create(options("", "nop"), sampler());
  Trial v = no_pruner.ask();
  v.report(1, 5);
  CHECK_FALSE(v.should_prune());
}

TEST_CASE("study: a conflicting search space is refused and stored trials stay intact", "[study]") {
  TempDir dir;
  Study study = Study::create(options(dir.url("space.sqlite3")), sampler());
  study.optimize(notebook_objective, 3);
  const auto before = study.trials();

  Trial t = study.ask();
  t.suggest_float("mean", -3, 3);
  const int sampled = test_sampler(study).calls;
  CHECK_THROWS_AS(t.suggest_float("std", 0.1, 10, true), SearchSpaceError);
  CHECK_THROWS_WITH(t.suggest_float("std", 0.1, 10, true),
                    Catch::Contains("parameter 'std' of study 'MNIST'") && Catch::Contains("different high"));
  CHECK_THROWS_WITH(t.suggest_float("std", 0.1, 2, false), Catch::Contains("different log configuration"));
  CHECK_THROWS_WITH(t.suggest_int("mean", -3, 3), Catch::Contains("different distribution kind"));
  CHECK(test_sampler(study).calls == sampled);  // the sampler was not asked
  CHECK(study.storage().get_trial(t.id()).params.size() == 1);
  study.tell(t, TrialState::Fail);

  // In optimize(): the trial FAILs with the message, nothing else changes.
  study.optimize([](Trial& u) { return u.suggest_float("mean", -1, 1); }, 1);
  const auto after = study.trials();
  REQUIRE(after.size() == 5);
  for (size_t i = 0; i < before.size(); ++i) {
    CHECK(after[i].state == before[i].state);
    CHECK(after[i].params == before[i].params);
    CHECK(after[i].value == before[i].value);
  }
  CHECK(after[4].state == TrialState::Fail);
  CHECK(after[4].params.empty());
  CHECK(after[4].system_attrs.at(kFailReasonKey).find("different low (stored -3.0, new -1.0)") != std::string::npos);

  // Optuna's looser rule, on request: the bounds may change.
  StudyOptions loose = options(dir.url("space.sqlite3"));
  loose.space_check = SpaceCheck::KindAndLog;
  Study widened = Study::create(loose, sampler());
  widened.optimize([](Trial& u) { return u.suggest_float("std", 0.1, 10, true); }, 1);
  CHECK(widened.trials({TrialState::Complete}).size() == 4);
}

TEST_CASE("study: stale RUNNING trials are failed by heartbeat when a worker resumes", "[study]") {
  TempDir dir;
  const std::string path = dir.file("heartbeat.sqlite3");
  int64_t dead_id = -1, silent_id = -1;
  {
    StudyOptions o = options("sqlite:///" + path);
    o.heartbeat_interval = 1;
    Study crashed = Study::create(o, sampler());
    Trial dead = crashed.ask();  // a worker that died while running it
    notebook_objective(dead);
    crashed.storage().record_heartbeat(dead.id());
    dead_id = dead.id();
    silent_id = Study::create(options("sqlite:///" + path), sampler()).ask().id();  // no heartbeat: left alone
  }
  exec_sql(path, "UPDATE trial_heartbeats SET heartbeat = datetime('now', '-1 hour')");
  Study resumed = Study::create(options("sqlite:///" + path), sampler());
  OptimizeOptions beating;
  beating.heartbeat_interval = 1;  // for this call (or StudyOptions::heartbeat_interval for the study)
  resumed.optimize(
      [](Trial& t) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return notebook_objective(t);
      },
      1, beating);
  CHECK(resumed.storage().get_trial(dead_id).state == TrialState::Fail);
  CHECK(resumed.storage().get_trial(silent_id).state == TrialState::Running);
  const auto complete = resumed.trials({TrialState::Complete});
  REQUIRE(complete.size() == 1);
  // optimize() recorded a heartbeat for its own trial.
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM trial_heartbeats WHERE trial_id = ?", -1, &st, nullptr) == SQLITE_OK);
  sqlite3_bind_int64(st, 1, complete[0].trial_id);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int(st, 0) == 1);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_CASE("study: retry_failed_trials queues a dead worker's trial again, within max_trials", "[study]") {
  TempDir dir;
  const std::string path = dir.file("retry.sqlite3");
  auto die_in_trial = [&](Study& s) {  // a worker that died while running a trial
    Trial dead = s.ask();
    notebook_objective(dead);
    s.storage().record_heartbeat(dead.id());
    exec_sql(path, "UPDATE trial_heartbeats SET heartbeat = datetime('now', '-1 hour')");
    return s.storage().get_trial(dead.id());
  };
  StudyOptions o = options("sqlite:///" + path);
  o.retry_failed_trials = true;
  o.max_retry = 1;
  const FrozenTrial dead = [&] {
    Study crashed = Study::create(o, sampler());
    return die_in_trial(crashed);
  }();
  Study resumed = Study::create(o, sampler(2));  // another worker's seed: new points differ from the dead one's
  OptimizeOptions run;
  run.heartbeat_interval = 1;
  run.max_trials = 3;
  run.max_trials_states = {TrialState::Complete, TrialState::Running};
  std::vector<std::map<std::string, double>> ran;
  resumed.optimize(
      [&](Trial& t) {
        const double value = notebook_objective(t);
        ran.push_back(t.params());
        return value;
      },
      10, run);
  CHECK(resumed.storage().get_trial(dead.trial_id).state == TrialState::Fail);
  const auto all = resumed.trials();
  REQUIRE(all.size() == 4);  // the dead trial, its retry and two new ones: 3 COMPLETE, the budget
  CHECK(resumed.trials({TrialState::Complete}).size() == 3);
  const FrozenTrial& retry = all[1];
  CHECK(retry.state == TrialState::Complete);
  CHECK(retry.params == dead.params);  // the same (mean, std), run first
  REQUIRE(!ran.empty());
  CHECK(ran.front() == dead.params);
  CHECK(retry.system_attrs.at("failed_trial") == "0");  // Optuna's RetryFailedTrialCallback attributes
  CHECK(retry.system_attrs.at("retry_history") == "[0]");
  CHECK(all[2].params != dead.params);

  // The retry dies too: max_retry = 1 queues it no more.
  Study again = Study::create(o, sampler());
  const FrozenTrial dead_retry = [&] {
    again.enqueue_retry(all[1]);  // a WAITING copy of the retry (retry_history [0, 1])
    return die_in_trial(again);
  }();
  CHECK(dead_retry.system_attrs.at("retry_history") == "[0, 1]");
  again.optimize([](Trial& t) { return notebook_objective(t); }, 1, run);
  CHECK(again.storage().get_trial(dead_retry.trial_id).state == TrialState::Fail);
  CHECK(again.trials({TrialState::Waiting}).empty());
  CHECK(again.trials({TrialState::Complete}).size() == 3);  // the budget was already spent

  StudyOptions bad = o;
  bad.max_retry = -1;
  CHECK_THROWS_WITH(Study::create(bad, sampler()), Catch::Contains("max_retry must be >= 0"));
}

TEST_CASE("study: max_trials, callbacks, stop() and progress", "[study]") {
  Study study = Study::create(options(""), sampler());
  study.optimize(notebook_objective, 3);
  study.optimize([](Trial&) -> double { throw std::runtime_error("x"); }, 2);  // FAIL: not counted
  // MaxTrialsCallback(5, states=(COMPLETE,)): stop once the study holds 5 COMPLETE trials.
  study.optimize(notebook_objective, 100, max_trials(5));
  CHECK(study.trials({TrialState::Complete}).size() == 5);
  CHECK(study.trials().size() == 7);
  study.optimize(notebook_objective, 100, max_trials(8, {}));  // every state counts
  CHECK(study.trials().size() == 8);

  int called = 0, progressed = 0;
  OptimizeOptions o;
  o.callbacks.push_back([&](Study& s, const FrozenTrial& t) {
    CHECK(t.state == TrialState::Complete);
    if (++called == 3) s.stop();
  });
  o.progress = [&](const OptimizeProgress& p) {
    ++progressed;
    CHECK(p.n_trials == 50);
    CHECK(p.finished == progressed);
    REQUIRE(p.last);
    REQUIRE(p.best);
    CHECK(p.best->state == TrialState::Complete);
  };
  study.optimize(notebook_objective, 50, o);
  CHECK(called == 3);
  CHECK(progressed == 3);
  study.optimize(notebook_objective, 0);
  CHECK(study.trials().size() == 11);
  CHECK_THROWS_AS(study.optimize(notebook_objective, 1, jobs(0)), std::invalid_argument);
}

TEST_CASE("study: best_trial follows the direction and needs a COMPLETE trial", "[study]") {
  StudyOptions o = options("");
  o.direction = StudyDirection::Minimize;
  Study study = Study::create(o, sampler());
  CHECK_THROWS_WITH(study.best_trial(), Catch::Contains("has no COMPLETE trial yet"));
  for (double v : {0.5, 0.25, 0.75, 0.25}) {
    Trial t = study.ask();
    study.tell(t, v);
  }
  CHECK(study.best_trial().number == 1);
  CHECK(study.best_value() == 0.25);
}

TEST_CASE("study: export_csv writes Optuna's trials_dataframe columns", "[study]") {
  auto storage = std::make_shared<InMemoryStorage>();
  const int64_t id = storage->create_new_study("MNIST", StudyDirection::Maximize);
  FrozenTrial t;
  t.state = TrialState::Complete;
  t.value = 0.9876;
  t.params = {{"mean", 0.1307}, {"std", 0.3081}, {"epochs", 14}};
  t.distributions = {{"mean", search::FloatDistribution{-3, 3, false, std::nullopt}},
                     {"std", search::FloatDistribution{0.1, 2, true, std::nullopt}},
                     {"epochs", search::IntDistribution{1, 20, false, 1}}};
  t.datetime_start = "2024-01-02 03:04:05.000001";
  t.datetime_complete = "2024-01-02 03:05:06.500001";
  storage->create_new_trial(id, t);
  FrozenTrial f;
  f.state = TrialState::Fail;
  f.params = {{"mean", -1.0}};
  f.distributions = {{"mean", search::FloatDistribution{-3, 3, false, std::nullopt}}};
  f.datetime_start = "2024-01-02 23:59:59.000000";
  f.datetime_complete = "2024-01-04 00:00:00.000000";
  storage->create_new_trial(id, f);
  FrozenTrial w;
  w.state = TrialState::Waiting;
  storage->create_new_trial(id, w);

  Study study(storage, options(""), sampler());
  std::ostringstream csv;
  study.write_csv(csv);
  CHECK(csv.str() ==
        "number,value,datetime_start,datetime_complete,duration,params_epochs,params_mean,params_std,state\n"
        "0,0.9876,2024-01-02 03:04:05.000001,2024-01-02 03:05:06.500001,0 days 00:01:01.500000,14,0.1307,0.3081,COMPLETE\n"
        "1,,2024-01-02 23:59:59.000000,2024-01-04 00:00:00.000000,1 days 00:00:01,,-1.0,,FAIL\n"
        "2,,,,,,,,WAITING\n");
  TempDir dir;
  study.export_csv(dir.file("trials.csv"));
  CHECK(read_file(dir.file("trials.csv")) == csv.str());
  CHECK_THROWS_WITH(study.export_csv(dir.file("no/such/dir/t.csv")), Catch::Contains("cannot write the CSV file"));
}

TEST_CASE("study: a study written by Optuna 3.1 continues here", "[study]") {
  TempDir dir;
  const std::string path = dir.file("optuna.sqlite3");
  fs::copy_file(std::string(NORMLAB_TEST_DATA_DIR) + "/optuna/optuna31_small.sqlite3", path);
  StudyOptions o = options("sqlite:///" + path);
  o.require_existing = true;
  Study study = Study::create(o, sampler());
  CHECK(study.best_trial().number == 4);  // value +inf, as Optuna's best_trial
  Trial popped = study.ask();             // the trial Optuna's enqueue_trial made
  CHECK(popped.number() == 7);
  CHECK(popped.suggest_float("mean", -3, 3) == 0.5);
  CHECK(popped.suggest_float("std", 0.1, 2, true) == 1.0);
  CHECK(test_sampler(study).calls == 0);
  study.tell(popped, 0.5);
  study.optimize(notebook_objective, 2);
  const auto trials = study.trials();
  check_numbers_are_0_to(trials, 10);
  CHECK(trials[7].state == TrialState::Complete);
  CHECK(trials[9].state == TrialState::Complete);
}
