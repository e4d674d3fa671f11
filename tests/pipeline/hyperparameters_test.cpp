// Hyper-parameters at run time: Pipeline::optimizer_options and scheduler_options start from the
// policies' compile-time constants; a study over lr needs one instantiation, not one per value.
#include <catch2/catch.hpp>
#include <normlab/normlab.hpp>

#include "../fixture_run.hpp"
#include "../golden.hpp"

using namespace normlab;

namespace {
RunOptions small() {
  RunOptions o = testing::fixture_run(2, 256, 200);
  o.normalization = NormalizationValues::uniform(0.1307, 0.3081);
  return o;
}
using Protocol = Pipeline<normalize::Runtime, LeNet, Adadelta<>, ReduceOnPlateau<>, compensate::Notebook, device::Cpu>;
}  // namespace

TEST_CASE("run-time options start at the compile-time constants and give the same run", "[pipeline][options]") {
  Protocol p;
  CHECK(p.optimizer_options == Adadelta<>::options());
  CHECK(p.optimizer_options.lr() == 1.0);
  CHECK(p.scheduler_options.patience() == 10);
  const auto data = data::Mnist::load(testing::test_data_dir());
  const auto a = p.run(small(), data);
  const auto b = Protocol{}.run(small(), data);
  CHECK(a.correct == b.correct);
  CHECK(a.history[1].train_loss == b.history[1].train_loss);
}

TEST_CASE("an lr given at run time is the lr the same policy takes at compile time, bit for bit",
          "[pipeline][options]") {
  const auto data = data::Mnist::load(testing::test_data_dir());
  Protocol at_run_time;
  at_run_time.optimizer_options.lr(0.25);
  at_run_time.scheduler_options.patience(0).factor(0.5);
  const auto a = at_run_time.run(small(), data);
  using Fixed = Pipeline<normalize::Runtime, LeNet, Adadelta<0.25>, ReduceOnPlateau<schedule::PlateauMode::max, 0.5, 0>,
                         compensate::Notebook, device::Cpu>;
  const auto b = Fixed{}.run(small(), data);
  REQUIRE(a.history.size() == 2);
  CHECK(a.history[0].lr == 0.25);
  CHECK(a.history[0].train_loss == b.history[0].train_loss);
  CHECK(a.history[1].lr == b.history[1].lr);
  CHECK(a.correct == b.correct);
}

TEST_CASE("a study over lr: one Pipeline type, the lr set per trial", "[pipeline][options][study]") {
  const auto data = data::Mnist::load(testing::test_data_dir());
  study::StudyOptions so;
  so.name = "lr";
  auto s = study::Study::create(so, search::make_sampler("random", 3));
  std::vector<double> lrs;
  s.optimize(
      [&](study::Trial& trial) {
        Protocol p;
        p.optimizer_options.lr(trial.suggest_float("lr", 0.01, 2.0, true));
        auto o = small();
        o.epochs = 1;
        const auto r = p.run(o, data);
        lrs.push_back(r.history[0].lr);
        return r.accuracy;
      },
      3);
  REQUIRE(lrs.size() == 3);
  const auto trials = s.trials();
  for (std::size_t i = 0; i < 3; ++i) CHECK(lrs[i] == trials[i].params.at("lr"));
}

TEST_CASE("run-time options are checked as PyTorch checks them, with a normlab sentence", "[pipeline][options]") {
  const auto data = data::Mnist::load(testing::test_data_dir());
  Protocol bad_lr;
  bad_lr.optimizer_options.lr(-0.1);
  CHECK_THROWS_WITH(bad_lr.run(small(), data), Catch::StartsWith("normlab::Adadelta: lr >= 0, 0 <= rho <= 1"));
  Pipeline<normalize::Runtime, LeNet, Sgd<>, StepLr<>, device::Cpu> sgd;
  sgd.optimizer_options.momentum(-1);
  CHECK_THROWS_WITH(sgd.run(small(), data), Catch::StartsWith("normlab::Sgd: lr, momentum and weight_decay must be >= 0"));
  sgd.optimizer_options.momentum(0.9);
  sgd.scheduler_options.gamma(0);
  CHECK_THROWS_WITH(sgd.run(small(), data), "normlab::StepLr: gamma must be > 0 (got 0.000000)");
}

TEST_CASE("RunOptions::fast trains with the compile-time constants and refuses other options", "[pipeline][options]") {
  const auto data = data::Mnist::load(testing::test_data_dir());
  Protocol p;
  p.optimizer_options.lr(0.5);
  auto o = small();
  o.fast = true;
  CHECK_THROWS_WITH(p.run(o, data), Catch::StartsWith("normlab::Pipeline: RunOptions::fast trains with the policies' "
                                                      "compile-time constants"));
}
