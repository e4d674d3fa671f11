#include <catch2/catch.hpp>
#include <normlab/normlab.hpp>
#include <normlab/study/pruners.hpp>

#include "../golden.hpp"

using namespace normlab;

namespace {
RunOptions tiny() {
  RunOptions o;
  o.data_root = testing::test_data_dir();
  o.epochs = 2;
  o.train_limit = 256;
  o.test_limit = 100;
  o.threads = 1;
  o.log = nullptr;
  return o;
}
std::shared_ptr<const data::TrainTest> fixture() {
  return std::make_shared<const data::TrainTest>(data::Mnist::load(testing::test_data_dir()));
}
}  // namespace

TEST_CASE("the Pipeline's Search policy drives a normalization study", "[pipeline][study]") {
  static_assert(std::is_same_v<Pipeline<LeNet>::search_t, search::Tpe<>>);
  using RandomSearch = Pipeline<normalize::Runtime, LeNet, device::Cpu, search::Random>;
  static_assert(std::is_same_v<RandomSearch::search_t, search::Random>);

  study::StudyOptions options;
  options.name = "normalization";
  const auto s = run_study<RandomSearch>(options, tiny(), fixture(), 3);
  const auto trials = s->trials();
  REQUIRE(trials.size() == 3);
  // Optuna's RandomSampler(seed=1998) draws this first point (shared notes, optuna.md A.2).
  REQUIRE(trials[0].params.at("mean") == 0.3566734601543682);
  REQUIRE(trials[0].params.at("std") == 0.9788675268797683);
  for (const auto& t : trials) {
    REQUIRE(t.state == study::TrialState::Complete);
    REQUIRE(*t.value >= 0.0);
    REQUIRE(*t.value <= 1.0);
    REQUIRE(t.intermediate_values.size() == 2);            // one accuracy per epoch
    REQUIRE(t.intermediate_values.at(2) == *t.value);     // the last epoch's is the result
    REQUIRE(t.user_attrs.at("total") == "100");
  }
}

TEST_CASE("a trial of the study equals a plain run at its (mean, std)", "[pipeline][study]") {
  study::StudyOptions options;
  options.name = "replay";
  using Protocol = Pipeline<normalize::Runtime, LeNet, device::Cpu>;
  const auto s = run_study<Protocol>(options, tiny(), fixture(), 2);
  for (const auto& t : s->trials()) {
    auto o = tiny();
    o.normalization = NormalizationValues::uniform(t.params.at("mean"), t.params.at("std"));
    const auto plain = Protocol{}.run(o);
    REQUIRE(plain.accuracy == *t.value);
  }
}

TEST_CASE("a median pruner stops poor trials after an epoch", "[pipeline][study]") {
  study::StudyOptions options;
  options.name = "pruned";
  auto base = tiny();
  base.epochs = 3;
  using Protocol = Pipeline<normalize::Runtime, LeNet, device::Cpu, search::Random>;
  const auto s = run_study<Protocol>(options, base, fixture(), 8, {},
                                     study::make_pruner(study::MedianPruner(2)));
  int pruned = 0;
  for (const auto& t : s->trials())
    if (t.state == study::TrialState::Pruned) {
      ++pruned;
      REQUIRE(t.intermediate_values.size() < 3);
      REQUIRE(*t.value == t.intermediate_values.rbegin()->second);  // Optuna keeps the last value
    }
  REQUIRE(pruned >= 1);
}
