// normlab/report/trial_progress.hpp: a line per finished trial, with the best so far.
#include <catch2/catch.hpp>
#include <normlab/report/trial_progress.hpp>
#include <sstream>

#include "report_fixture.hpp"

using namespace normlab;

TEST_CASE("trial_line shows the bar, the trial's parameters, its state, value and the best", "[report][progress]") {
  const auto owned = testing::known_study();
  const auto& s = *owned;
  const auto trials = s.trials();
  CHECK(report::trial_line(s, trials[1], 2, 4) ==
        "[##########..........] 2/4  trial 1 mean=0 std=1  COMPLETE 0.9300  best 0.9500");
  CHECK(report::trial_line(s, trials[3], 4, 4) == "[####################] 4/4  trial 3   FAIL   best 0.9500");
  CHECK(report::best_value(s) == 0.95);
}

TEST_CASE("progress_line writes one line per call and counts the calls", "[report][progress]") {
  const auto owned = testing::known_study();
  const auto& s = *owned;
  const auto trials = s.trials();
  std::ostringstream out;
  auto callback = report::progress_line(3, &out);
  callback(s, trials[0]);
  callback(s, trials[2]);
  CHECK(out.str() ==
        "[######..............] 1/3  trial 0 mean=0.1307 std=0.3081  COMPLETE 0.9500  best 0.9500\n"
        "[#############.......] 2/3  trial 2 mean=2.5 std=0.1  COMPLETE 0.1100  best 0.9500\n");
}

TEST_CASE("best_value follows the study's direction", "[report][progress]") {
  study::StudyOptions o;
  o.name = "min";
  o.direction = study::StudyDirection::Minimize;
  auto s = study::Study::create(o, std::make_unique<search::RandomSampler>(3));
  CHECK(std::isnan(report::best_value(s)));
  for (double v : {0.5, 0.2, 0.9}) {
    auto t = s.ask();
    s.tell(t, v);
  }
  CHECK(report::best_value(s) == 0.2);
}
