// normlab/study/heartbeat.hpp: a running trial's heartbeat thread, seen through InMemoryStorage's
// fail_stale_trials (which FAILs a RUNNING trial whose last heartbeat is older than the grace
// period, and leaves alone a trial that never had one).
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include "normlab/study/heartbeat.hpp"
#include "normlab/study/memory_storage.hpp"

using namespace normlab::study;
using Clock = std::chrono::steady_clock;

namespace {

struct OneRunningTrial {
  InMemoryStorage storage;
  int64_t study = storage.create_new_study("heartbeat", StudyDirection::Maximize);
  int64_t trial = storage.create_new_trial(study).trial_id;
};

}  // namespace

TEST_CASE("a heartbeat without an interval records nothing", "[study][heartbeat]") {
  OneRunningTrial s;
  { detail::Heartbeat none(s.storage, s.trial, std::nullopt); }
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  CHECK(s.storage.fail_stale_trials(s.study, 0.0).empty());  // never beat: left alone
  CHECK(s.storage.get_trial(s.trial).state == TrialState::Running);
}

TEST_CASE("the first heartbeat is recorded before the constructor returns", "[study][heartbeat]") {
  OneRunningTrial s;
  detail::Heartbeat beat(s.storage, s.trial, 1000.0);  // the thread's next beat is 1000 s away
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  CHECK(s.storage.fail_stale_trials(s.study, 1000.0).empty());
  CHECK(s.storage.fail_stale_trials(s.study, 0.0) == std::vector<int64_t>{s.trial});
  CHECK(s.storage.get_trial(s.trial).state == TrialState::Fail);
}

TEST_CASE("heartbeats keep a trial fresh while they run, and stop with the destructor", "[study][heartbeat]") {
  OneRunningTrial s;
  {
    detail::Heartbeat beat(s.storage, s.trial, 0.02);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // 75 intervals, past the grace period
    CHECK(s.storage.fail_stale_trials(s.study, 1.0).empty());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK(s.storage.fail_stale_trials(s.study, 1.0) == std::vector<int64_t>{s.trial});
}

TEST_CASE("the destructor wakes the heartbeat thread instead of waiting out the interval", "[study][heartbeat]") {
  OneRunningTrial s;
  const auto start = Clock::now();
  { detail::Heartbeat slow(s.storage, s.trial, 30.0); }
  CHECK(std::chrono::duration<double>(Clock::now() - start).count() < 10.0);
}

TEST_CASE("a first heartbeat that the storage refuses throws from the constructor", "[study][heartbeat]") {
  OneRunningTrial s;
  CHECK_THROWS_AS(detail::Heartbeat(s.storage, s.trial + 99, 1.0), NotFoundError);
}
