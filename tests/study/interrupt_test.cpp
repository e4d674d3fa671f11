// normlab/interrupt.hpp with Study::optimize: Ctrl-C records the running trial, queues it again,
// starts nothing new, and the next run reruns it first.
#include <catch2/catch.hpp>

#include <signal.h>

#include <csignal>
#include <string>

#include "normlab/interrupt.hpp"
#include "normlab/search/samplers.hpp"
#include "normlab/study/study.hpp"

using namespace normlab;
using namespace normlab::study;

namespace {
Study memory_study() {
  StudyOptions options;
  options.name = "interrupt";
  options.direction = StudyDirection::Maximize;
  return Study::create(options, search::make_sampler("random", 1998));
}
}  // namespace

TEST_CASE("SIGINT during a trial: FAIL with the reason, queued again, optimize stops, the next run reruns it",
          "[study][interrupt]") {
  auto s = memory_study();
  int calls = 0;
  double interrupted_mean = 0;
  auto objective = [&](Trial& t) {
    const double mean = t.suggest_float("mean", -3, 3);
    if (++calls == 2) {  // the second trial is interrupted mid-way, as a training loop sees it
      interrupted_mean = mean;
      std::raise(SIGINT);
      interrupt::check();
    }
    return mean;
  };
  struct sigaction before {};
  sigaction(SIGINT, nullptr, &before);
  REQUIRE_THROWS_AS(s.optimize(objective, 5), Interrupted);
  CHECK(calls == 2);  // no trial started after the signal
  auto trials = s.trials();
  REQUIRE(trials.size() == 3);
  CHECK(trials[0].state == TrialState::Complete);
  CHECK(trials[1].state == TrialState::Fail);
  CHECK(trials[1].system_attrs.at("fail_reason") == "\"interrupted by SIGINT\"");
  CHECK(trials[2].state == TrialState::Waiting);
  CHECK(trials[2].params.at("mean") == interrupted_mean);
  CHECK(trials[2].system_attrs.at("failed_trial") == "1");
  CHECK(trials[2].system_attrs.at("retry_history") == "[1]");
  // The handler is gone with optimize(): the process's own one is back, and the request is handled.
  struct sigaction after {};
  sigaction(SIGINT, nullptr, &after);
  CHECK(after.sa_handler == before.sa_handler);
  CHECK(interrupt::requested() == 0);

  // Resume: the queued trial runs first, with the interrupted trial's parameters.
  calls = 10;
  s.optimize(objective, 1);
  trials = s.trials();
  REQUIRE(trials.size() == 3);
  CHECK(trials[2].state == TrialState::Complete);
  CHECK(*trials[2].value == interrupted_mean);
}

TEST_CASE("SIGINT in an objective that does not check: its trial completes, and no other starts",
          "[study][interrupt]") {
  auto s = memory_study();
  int calls = 0;
  auto objective = [&](Trial& t) {
    ++calls;
    std::raise(SIGINT);
    return t.suggest_float("mean", -3, 3);
  };
  try {
    s.optimize(objective, 4);
    FAIL("optimize() returned after SIGINT");
  } catch (const Interrupted& e) {
    CHECK(e.signal == SIGINT);
    CHECK(e.exit_code() == 130);
  }
  CHECK(calls == 1);
  const auto trials = s.trials();
  REQUIRE(trials.size() == 1);
  CHECK(trials[0].state == TrialState::Complete);
}

TEST_CASE("enqueue_retry keeps the first failed trial and the whole history", "[study][interrupt]") {
  auto s = memory_study();
  Trial t = s.ask();
  t.suggest_float("mean", -3, 3);
  const FrozenTrial first = s.tell(t, TrialState::Fail, "first");
  s.enqueue_retry(first);
  Trial again = s.ask();
  CHECK(again.suggest_float("mean", -3, 3) == first.params.at("mean"));
  const FrozenTrial second = s.tell(again, TrialState::Fail, "second");
  s.enqueue_retry(second);
  const auto trials = s.trials();
  REQUIRE(trials.size() == 3);
  CHECK(trials[2].system_attrs.at("failed_trial") == "0");
  CHECK(trials[2].system_attrs.at("retry_history") == "[0, 1]");
}
