#pragma once
// The storage contract: what every Storage (memory, SQLite, PostgreSQL) must do, as function
// templates on a backend (an object whose make() returns a new, empty std::unique_ptr<Storage>).
// tests/study/storage_test.cpp runs them on InMemoryStorage and SqliteStorage,
// tests/study/postgres_storage_test.cpp on PostgresStorage; each is one Catch2 test case there.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "normlab/study/json.hpp"
#include "normlab/study/storage.hpp"

namespace normlab::testing::storage_contract {

namespace search = normlab::search;
using namespace normlab::study;

inline const search::FloatDistribution kMean{-3, 3, false, std::nullopt};
inline const search::FloatDistribution kStd{0.1, 2, true, std::nullopt};
inline const search::IntDistribution kEpochs{1, 5, false, 1};
inline const std::regex kDatetime(R"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6})");

/// storage: studies are created once, found by name, keep their direction
template <class TestType>
void studies() {
  TestType backend;
  auto s = backend.make();
  const int64_t a = s->create_new_study("MNIST", StudyDirection::Maximize);
  const int64_t b = s->create_new_study("other", StudyDirection::Minimize);
  CHECK(a != b);
  CHECK(s->find_study("MNIST") == a);
  CHECK(s->find_study("other") == b);
  CHECK(!s->find_study("nope"));
  CHECK(s->study_direction(a) == StudyDirection::Maximize);
  CHECK(s->study_direction(b) == StudyDirection::Minimize);
  CHECK(s->study_name(b) == "other");
  CHECK(s->study_names() == std::vector<std::string>{"MNIST", "other"});
  CHECK_THROWS_AS(s->create_new_study("MNIST", StudyDirection::Maximize), DuplicatedStudyError);
  CHECK_THROWS_WITH(s->create_new_study("MNIST", StudyDirection::Minimize), Catch::Contains("'MNIST' already exists"));
  CHECK_THROWS_AS(s->study_direction(12345), NotFoundError);
  CHECK_THROWS_AS(s->get_all_trials(12345), NotFoundError);
  CHECK_THROWS_AS(s->get_trial(12345), NotFoundError);
}

/// storage: trials are numbered per study in creation order
template <class TestType>
void numbering() {
  TestType backend;
  auto s = backend.make();
  const int64_t a = s->create_new_study("a", StudyDirection::Maximize);
  const int64_t b = s->create_new_study("b", StudyDirection::Maximize);
  const FrozenTrial a0 = s->create_new_trial(a);
  const FrozenTrial b0 = s->create_new_trial(b);
  const FrozenTrial a1 = s->create_new_trial(a);
  const FrozenTrial b1 = s->create_new_trial(b);
  const FrozenTrial a2 = s->create_new_trial(a);
  CHECK(a0.number == 0);
  CHECK(a1.number == 1);
  CHECK(a2.number == 2);
  CHECK(b0.number == 0);
  CHECK(b1.number == 1);
  CHECK(std::set<int64_t>{a0.trial_id, a1.trial_id, a2.trial_id, b0.trial_id, b1.trial_id}.size() == 5);
  CHECK(a1.state == TrialState::Running);
  CHECK(std::regex_match(a1.datetime_start, kDatetime));
  CHECK(a1.datetime_complete.empty());

  const FrozenTrial got = s->get_trial(a1.trial_id);
  CHECK(got.number == 1);
  CHECK(got.state == TrialState::Running);
  CHECK(got.datetime_start == a1.datetime_start);

  REQUIRE(s->set_trial_state_values(a1.trial_id, TrialState::Complete, 0.5));
  const auto all = s->get_all_trials(a);
  REQUIRE(all.size() == 3);
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].number == static_cast<int64_t>(i));
  const auto complete = s->get_all_trials(a, {TrialState::Complete});
  REQUIRE(complete.size() == 1);
  CHECK(complete[0].trial_id == a1.trial_id);
  CHECK(s->get_all_trials(a, {TrialState::Running, TrialState::Complete}).size() == 3);
  CHECK(s->count_trials(a) == 3);
  CHECK(s->count_trials(a, {TrialState::Running}) == 2);
  CHECK(s->count_trials(b, {TrialState::Complete}) == 0);
}

/// storage: params keep their internal value and distribution
template <class TestType>
void params() {
  TestType backend;
  auto s = backend.make();
  const int64_t study = s->create_new_study("MNIST", StudyDirection::Maximize);
  const FrozenTrial t = s->create_new_trial(study);
  const double mean = -2.769092812898994, std_value = 0.50529774178950234;
  s->set_trial_param(t.trial_id, "mean", mean, kMean);
  s->set_trial_param(t.trial_id, "std", std_value, kStd);  // linear even though log=true
  s->set_trial_param(t.trial_id, "epochs", 3.0, kEpochs);
  const FrozenTrial got = s->get_trial(t.trial_id);
  CHECK(got.params.at("mean") == mean);  // bit for bit
  CHECK(got.params.at("std") == std_value);
  CHECK(got.params.at("epochs") == 3.0);
  CHECK(got.distributions.at("std") == search::Distribution(kStd));
  CHECK(got.distributions.at("epochs") == search::Distribution(kEpochs));
  CHECK_THROWS_AS(s->set_trial_param(t.trial_id, "nan", std::nan(""), kMean), std::invalid_argument);
}

/// storage: a conflicting distribution is refused, says why, and stores nothing
template <class TestType>
void conflicting_distribution() {
  TestType backend;
  auto s = backend.make();
  const int64_t study = s->create_new_study("MNIST", StudyDirection::Maximize);
  const FrozenTrial t0 = s->create_new_trial(study);
  s->set_trial_param(t0.trial_id, "std", 0.5, kStd);
  const FrozenTrial t1 = s->create_new_trial(study);

  search::FloatDistribution wider = kStd;
  wider.high = 10;
  search::FloatDistribution linear = kStd;
  linear.log = false;
  search::FloatDistribution stepped{0.1, 2, false, 0.1};
  CHECK_THROWS_WITH(s->set_trial_param(t1.trial_id, "std", 0.5, wider),
                    Catch::Contains("parameter 'std' of study 'MNIST'") &&
                        Catch::Contains("a different high (stored 2.0, new 10.0)"));
  CHECK_THROWS_WITH(s->set_trial_param(t1.trial_id, "std", 0.5, linear),
                    Catch::Contains("a different log configuration (stored log=True, new log=False)"));
  CHECK_THROWS_WITH(s->set_trial_param(t1.trial_id, "std", 1, search::IntDistribution{1, 2, true, 1}),
                    Catch::Contains("a different distribution kind"));
  CHECK_THROWS_AS(s->set_trial_param(t1.trial_id, "std", 0.5, stepped), SearchSpaceError);
  CHECK(s->get_trial(t1.trial_id).params.empty());
  CHECK(s->get_trial(t0.trial_id).distributions.at("std") == search::Distribution(kStd));

  // Optuna's own rule only compares the kind and the log flag.
  s->set_trial_param(t1.trial_id, "std", 5.0, wider, SpaceCheck::KindAndLog);
  CHECK(s->get_trial(t1.trial_id).params.at("std") == 5.0);
  CHECK_THROWS_AS(s->set_trial_param(t1.trial_id, "std", 0.5, linear, SpaceCheck::KindAndLog), SearchSpaceError);
}

/// storage: finished trials cannot change, and state changes follow Optuna
template <class TestType>
void finished_trials() {
  TestType backend;
  auto s = backend.make();
  const int64_t study = s->create_new_study("MNIST", StudyDirection::Maximize);
  const FrozenTrial t = s->create_new_trial(study);
  CHECK_FALSE(s->set_trial_state_values(t.trial_id, TrialState::Running));  // not WAITING
  s->set_trial_intermediate_value(t.trial_id, 0, 0.5);
  REQUIRE(s->set_trial_state_values(t.trial_id, TrialState::Complete, 0.9876));
  const FrozenTrial done = s->get_trial(t.trial_id);
  CHECK(done.state == TrialState::Complete);
  CHECK(done.value == 0.9876);
  CHECK(std::regex_match(done.datetime_complete, kDatetime));

  CHECK_FALSE(s->set_trial_state_values(t.trial_id, TrialState::Fail));
  CHECK_FALSE(s->set_trial_state_values(t.trial_id, TrialState::Complete, 0.1));
  CHECK(s->get_trial(t.trial_id).value == 0.9876);
  CHECK_THROWS_WITH(s->set_trial_param(t.trial_id, "mean", 0, kMean),
                    Catch::Contains("trial #0 has already finished (COMPLETE)"));
  CHECK_THROWS_AS(s->set_trial_intermediate_value(t.trial_id, 1, 0.5), TrialFinishedError);
  CHECK_THROWS_AS(s->set_trial_user_attr(t.trial_id, "k", "1"), TrialFinishedError);
  CHECK_THROWS_AS(s->set_trial_system_attr(t.trial_id, "k", "1"), TrialFinishedError);

  // Infinite values are stored (Optuna's INF_POS / INF_NEG); NaN is not a value.
  const FrozenTrial inf = s->create_new_trial(study);
  REQUIRE(s->set_trial_state_values(inf.trial_id, TrialState::Complete, -HUGE_VAL));
  CHECK(s->get_trial(inf.trial_id).value == -HUGE_VAL);
  const FrozenTrial nan = s->create_new_trial(study);
  CHECK_THROWS_AS(s->set_trial_state_values(nan.trial_id, TrialState::Complete, std::nan("")), std::invalid_argument);
  REQUIRE(s->set_trial_state_values(nan.trial_id, TrialState::Pruned));
  CHECK(!s->get_trial(nan.trial_id).value);
}

/// storage: intermediate values and attributes
template <class TestType>
void intermediate_and_attrs() {
  TestType backend;
  auto s = backend.make();
  const int64_t study = s->create_new_study("MNIST", StudyDirection::Maximize);
  const FrozenTrial t = s->create_new_trial(study);
  s->set_trial_intermediate_value(t.trial_id, 0, 0.25);
  s->set_trial_intermediate_value(t.trial_id, 1, std::nan(""));
  s->set_trial_intermediate_value(t.trial_id, 2, HUGE_VAL);
  s->set_trial_intermediate_value(t.trial_id, 3, -HUGE_VAL);
  s->set_trial_intermediate_value(t.trial_id, 7, 0.5);
  s->set_trial_intermediate_value(t.trial_id, 7, 0.75);  // the storage overwrites (Trial::report does not)
  s->set_trial_user_attr(t.trial_id, "note", "{\"epochs\": 14}");
  s->set_trial_system_attr(t.trial_id, "fixed_params", "{\"mean\": 0.5}");
  s->set_trial_user_attr(t.trial_id, "note", "\"hello\"");
  CHECK_THROWS_AS(s->set_trial_user_attr(t.trial_id, "bad", "not json"), JsonError);
  const FrozenTrial got = s->get_trial(t.trial_id);
  REQUIRE(got.intermediate_values.size() == 5);
  CHECK(got.intermediate_values.at(0) == 0.25);
  CHECK(std::isnan(got.intermediate_values.at(1)));
  CHECK(got.intermediate_values.at(2) == HUGE_VAL);
  CHECK(got.intermediate_values.at(3) == -HUGE_VAL);
  CHECK(got.intermediate_values.at(7) == 0.75);
  CHECK(got.last_step() == 7);
  CHECK(got.user_attrs.at("note") == "\"hello\"");
  CHECK(got.user_attrs.count("bad") == 0);
  CHECK(got.system_attrs.at("fixed_params") == "{\"mean\": 0.5}");
}

/// storage: study user attributes are per study and overwritten by key
template <class TestType>
void study_user_attrs() {
  TestType backend;
  auto s = backend.make();
  const int64_t a = s->create_new_study("MNIST", StudyDirection::Maximize);
  const int64_t b = s->create_new_study("other", StudyDirection::Maximize);
  CHECK(s->get_study_user_attrs(a).empty());
  s->set_study_user_attr(a, "normlab_kernels", "{\"openblas_core\": \"Haswell\"}");
  s->set_study_user_attr(a, "note", "1");
  s->set_study_user_attr(a, "note", "\"second\"");
  s->set_study_user_attr(b, "note", "2");
  CHECK_THROWS_AS(s->set_study_user_attr(a, "bad", "not json"), JsonError);
  CHECK_THROWS_AS(s->set_study_user_attr(12345, "note", "1"), NotFoundError);
  const auto attrs = s->get_study_user_attrs(a);
  CHECK(attrs == std::map<std::string, std::string>{{"normlab_kernels", "{\"openblas_core\": \"Haswell\"}"},
                                                    {"note", "\"second\""}});
  CHECK(s->get_study_user_attrs(b) == std::map<std::string, std::string>{{"note", "2"}});
}

/// storage: template trials and the WAITING queue
template <class TestType>
void templates_and_waiting() {
  TestType backend;
  auto s = backend.make();
  const int64_t study = s->create_new_study("MNIST", StudyDirection::Maximize);
  const FrozenTrial running = s->create_new_trial(study);
  CHECK(!s->pop_waiting_trial(study));

  FrozenTrial waiting;
  waiting.state = TrialState::Waiting;
  waiting.system_attrs["fixed_params"] = "{\"mean\": 0.5, \"std\": 1.0}";
  const FrozenTrial w1 = s->create_new_trial(study, waiting);
  const FrozenTrial w2 = s->create_new_trial(study, waiting);
  CHECK(w1.number == 1);
  CHECK(w2.number == 2);
  const FrozenTrial stored = s->get_trial(w1.trial_id);
  CHECK(stored.state == TrialState::Waiting);
  CHECK(stored.datetime_start.empty());
  CHECK(stored.system_attrs.at("fixed_params") == "{\"mean\": 0.5, \"std\": 1.0}");

  CHECK(s->pop_waiting_trial(study) == w1.trial_id);  // the oldest first
  const FrozenTrial popped = s->get_trial(w1.trial_id);
  CHECK(popped.state == TrialState::Running);
  CHECK(std::regex_match(popped.datetime_start, kDatetime));
  CHECK_FALSE(s->set_trial_state_values(w1.trial_id, TrialState::Running));  // already popped
  CHECK(s->set_trial_state_values(w2.trial_id, TrialState::Running));        // Optuna's way to pop
  CHECK(!s->pop_waiting_trial(study));

  // A finished template (Optuna's add_trial) keeps everything.
  FrozenTrial done;
  done.state = TrialState::Complete;
  done.value = 0.75;
  done.params = {{"mean", 1.5}, {"std", 0.2}};
  done.distributions = {{"mean", kMean}, {"std", kStd}};
  done.intermediate_values = {{0, 0.5}, {1, 0.75}};
  done.user_attrs["u"] = "[1, 2]";
  done.datetime_start = "2024-01-02 03:04:05.000001";
  done.datetime_complete = "2024-01-02 03:04:06.000002";
  const FrozenTrial added = s->create_new_trial(study, done);
  const FrozenTrial back = s->get_trial(added.trial_id);
  CHECK(back.number == 3);
  CHECK(back.state == TrialState::Complete);
  CHECK(back.value == 0.75);
  CHECK(back.params == done.params);
  CHECK(back.intermediate_values == done.intermediate_values);
  CHECK(back.user_attrs == done.user_attrs);
  CHECK(back.datetime_start == done.datetime_start);
  CHECK(back.datetime_complete == done.datetime_complete);
  (void)running;
}

/// storage: heartbeats fail stale RUNNING trials only
template <class TestType>
void heartbeats() {
  TestType backend;
  auto s = backend.make();
  const int64_t study = s->create_new_study("MNIST", StudyDirection::Maximize);
  const FrozenTrial beating = s->create_new_trial(study);
  const FrozenTrial silent = s->create_new_trial(study);  // never recorded one: left alone
  const FrozenTrial finished = s->create_new_trial(study);
  s->record_heartbeat(beating.trial_id);
  s->record_heartbeat(finished.trial_id);
  REQUIRE(s->set_trial_state_values(finished.trial_id, TrialState::Complete, 1.0));
  CHECK(s->fail_stale_trials(study, 100).empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(s->fail_stale_trials(study, 0.5) == std::vector<int64_t>{beating.trial_id});
  CHECK(s->get_trial(beating.trial_id).state == TrialState::Fail);
  CHECK(std::regex_match(s->get_trial(beating.trial_id).datetime_complete, kDatetime));
  CHECK(s->get_trial(silent.trial_id).state == TrialState::Running);
  CHECK(s->get_trial(finished.trial_id).state == TrialState::Complete);
  CHECK(s->fail_stale_trials(study, 0.5).empty());
}

/// storage: threads sharing one storage never duplicate a number
template <class TestType>
void threads() {
  TestType backend;
  auto s = backend.make();
  const int64_t study = s->create_new_study("MNIST", StudyDirection::Maximize);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        const FrozenTrial t = s->create_new_trial(study);
        s->set_trial_param(t.trial_id, "mean", 0.1 * i, kMean);
        s->set_trial_state_values(t.trial_id, TrialState::Complete, i);
      }
    });
  for (auto& t : threads) t.join();
  const auto all = s->get_all_trials(study);
  REQUIRE(all.size() == 100);
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].number == static_cast<int64_t>(i));
}

/// storage: a study-wide budget is counted and spent in one step
template <class TestType>
void budget() {
  TestType backend;
  auto s = backend.make();
  const int64_t study = s->create_new_study("MNIST", StudyDirection::Maximize);
  const std::vector<TrialState> counted = {TrialState::Complete, TrialState::Pruned, TrialState::Running};
  FrozenTrial failed = *s->create_new_trial_within(study, 10, counted);
  REQUIRE(s->set_trial_state_values(failed.trial_id, TrialState::Fail));  // FAIL is not counted
  std::atomic<int> created{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      while (auto t = s->create_new_trial_within(study, 10, counted)) {
        ++created;
        s->set_trial_state_values(t->trial_id, created % 2 ? TrialState::Complete : TrialState::Pruned, 1.0);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(created == 10);
  CHECK(s->count_trials(study, counted) == 10);
  const auto all = s->get_all_trials(study);
  REQUIRE(all.size() == 11);
  for (size_t i = 0; i < all.size(); ++i) CHECK(all[i].number == static_cast<int64_t>(i));
  CHECK(!s->create_new_trial_within(study, 10, counted));
  CHECK(s->create_new_trial_within(study, 12, counted)->number == 11);
  CHECK_THROWS_AS(s->create_new_trial_within(12345, 10, counted), NotFoundError);
}

/// storage: a queued trial is popped only within a study-wide budget
template <class TestType>
void queued_budget() {
  TestType backend;
  auto s = backend.make();
  const int64_t study = s->create_new_study("MNIST", StudyDirection::Maximize);
  const std::vector<TrialState> counted = {TrialState::Complete, TrialState::Running};
  FrozenTrial waiting;
  waiting.state = TrialState::Waiting;
  for (int k = 0; k < 6; ++k) s->create_new_trial(study, waiting);
  const FrozenTrial running = *s->create_new_trial_within(study, 4, counted);  // number 6, counted
  std::atomic<int> popped{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&] {
      while (auto id = s->pop_waiting_trial_within(study, 4, counted)) {
        ++popped;
        s->set_trial_state_values(*id, TrialState::Complete, 1.0);
      }
    });
  for (auto& t : threads) t.join();
  CHECK(popped == 3);  // 4 counted: the running trial and 3 popped
  CHECK(s->count_trials(study, counted) == 4);
  CHECK(s->count_trials(study, {TrialState::Waiting}) == 3);
  for (int64_t n = 0; n < 3; ++n) CHECK(s->get_all_trials(study)[static_cast<size_t>(n)].state == TrialState::Complete);
  REQUIRE(s->set_trial_state_values(running.trial_id, TrialState::Fail));  // FAIL frees its place
  const auto next = s->pop_waiting_trial_within(study, 4, counted);
  REQUIRE(next);
  CHECK(s->get_trial(*next).number == 3);  // the oldest waiting
  CHECK(!s->pop_waiting_trial_within(study, 4, counted));
  CHECK(!s->create_new_trial_within(study, 4, counted));
  CHECK_THROWS_AS(s->pop_waiting_trial_within(12345, 4, counted), NotFoundError);
}

}  // namespace normlab::testing::storage_contract
