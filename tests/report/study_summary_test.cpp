// normlab/report/study_summary.hpp: a study in three lines.
#include <catch2/catch.hpp>
#include <normlab/report/study_summary.hpp>
#include <sstream>

#include "report_fixture.hpp"

using namespace normlab;

TEST_CASE("summarize counts trials by state, spreads the complete values and names the best", "[report][summary]") {
  const auto owned = testing::known_study();
  const auto& s = *owned;
  const auto spread = report::value_spread(s);
  CHECK(spread.count == 3);
  CHECK(spread.min == 0.11);
  CHECK(spread.median == 0.93);
  CHECK(spread.max == 0.95);
  CHECK(spread.mean == Approx((0.95 + 0.93 + 0.11) / 3).epsilon(1e-15));
  std::ostringstream out;
  report::summarize(s, out);
  CHECK(out.str() ==
        "study 'known': 5 trials (3 complete, 0 pruned, 1 failed, 0 running, 1 waiting)\n"
        "accuracy across complete trials: min 0.1100  median 0.9300  max 0.9500  mean 0.6633  std 0.3914\n"
        "best trial 0: mean=0.1307 std=0.3081 accuracy=0.9500\n");
}

TEST_CASE("summarize of a study without complete trials is its first line only", "[report][summary]") {
  study::StudyOptions o;
  o.name = "empty";
  auto s = study::Study::create(o, std::make_unique<search::RandomSampler>(1));
  std::ostringstream out;
  report::summarize(s, out, "loss");
  CHECK(out.str() == "study 'empty': 0 trials (0 complete, 0 pruned, 0 failed, 0 running, 0 waiting)\n");
  CHECK(report::value_spread(s).count == 0);
}
