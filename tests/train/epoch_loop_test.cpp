// normlab/train/epoch_loop.hpp: the one epoch loop, driven by a toy stepper that records the calls.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include <normlab/train/epoch_loop.hpp>

using namespace normlab;

namespace {
/// K lanes whose training losses are given per epoch; every call is written to `calls`.
struct ToyStepper {
  std::vector<std::vector<double>> losses;  ///< [epoch - 1][lane]
  std::vector<std::string> calls;
  std::vector<double> lrs;
  bool tests = true;

  std::size_t lanes() const { return lrs.size(); }
  double lr(std::size_t k) {
    calls.push_back("lr " + std::to_string(k));
    return lrs[k];
  }
  std::vector<TrainStats> train(int epoch, int epochs, std::size_t record_losses, Progress&,
                                const std::vector<bool>& active) {
    calls.push_back("train " + std::to_string(epoch) + "/" + std::to_string(epochs) + " record " +
                    std::to_string(record_losses) + " active " + std::to_string(count(active)));
    std::vector<TrainStats> out(lanes());
    for (std::size_t k = 0; k < lanes(); ++k) {
      out[k].mean_loss = losses.at(static_cast<std::size_t>(epoch - 1)).at(k);
      for (std::size_t i = 0; i < record_losses; ++i) out[k].losses.push_back(10.0 * k + i);
    }
    return out;
  }
  std::vector<TestStats> test(const std::vector<bool>& active) {
    calls.push_back("test active " + std::to_string(count(active)));
    std::vector<TestStats> out(lanes());
    for (std::size_t k = 0; k < lanes(); ++k) out[k] = {0.5, static_cast<int64_t>(k + 1), 4};
    return out;
  }
  void step_scheduler(std::size_t k, const EpochRecord& r) {
    calls.push_back("scheduler " + std::to_string(k) + " epoch " + std::to_string(r.epoch));
    lrs[k] /= 2;
  }
  void retire(std::size_t k) { calls.push_back("retire " + std::to_string(k)); }

  static std::size_t count(const std::vector<bool>& v) { return static_cast<std::size_t>(std::count(v.begin(), v.end(), true)); }
};
static_assert(EpochStepper<ToyStepper>);

std::vector<VariantRun> lanes_named(std::size_t k) {
  std::vector<VariantRun> runs(k);
  for (std::size_t i = 0; i < k; ++i) runs[i].result.normalization = NormalizationValues::uniform(0.1 * i, 1.0);
  return runs;
}

const double kNan = std::numeric_limits<double>::quiet_NaN();
}  // namespace

TEST_CASE("the epoch loop records lr, trains, tests, steps the scheduler, keeps the history, in that order",
          "[train][epoch_loop]") {
  ToyStepper s{{{0.9}, {0.7}}, {}, {1.0}};
  EpochLoopOptions o;
  o.epochs = 2;
  o.record_losses = 3;
  o.log = nullptr;
  o.on_epoch = [&](std::size_t k, const EpochRecord& r) {
    s.calls.push_back("on_epoch " + std::to_string(k) + " epoch " + std::to_string(r.epoch));
    return true;
  };
  const auto runs = run_epochs(s, lanes_named(1), o, std::chrono::steady_clock::now());
  CHECK(s.calls == std::vector<std::string>{"lr 0", "train 1/2 record 3 active 1", "test active 1",
                                            "scheduler 0 epoch 1", "on_epoch 0 epoch 1",
                                            "lr 0", "train 2/2 record 0 active 1", "test active 1",
                                            "scheduler 0 epoch 2", "on_epoch 0 epoch 2"});
  REQUIRE(runs.size() == 1);
  const auto& r = runs[0].result;
  REQUIRE(r.history.size() == 2);
  CHECK(r.history[0].lr == 1.0);
  CHECK(r.history[1].lr == 0.5);  // the scheduler's step shows in the next epoch's record
  CHECK(r.history[0].train_loss == 0.9);
  CHECK(r.history[1].train_loss == 0.7);
  CHECK(r.history[1].test_loss == 0.5);
  CHECK(r.history[1].correct == 1);
  CHECK(r.history[1].total == 4);
  CHECK(r.accuracy == 0.25);
  CHECK(r.first_losses == std::vector<double>{0, 1, 2});  // epoch 1's only
  CHECK(runs[0].diverged.empty());
  CHECK_FALSE(runs[0].stopped_early);
}

TEST_CASE("a NaN training loss throws TrainingDiverged with the finished epochs, before the test",
          "[train][epoch_loop]") {
  ToyStepper s{{{0.9}, {kNan}, {0.5}}, {}, {1.0}};
  EpochLoopOptions o;
  o.epochs = 3;
  o.log = nullptr;
  try {
    run_epochs(s, lanes_named(1), o, std::chrono::steady_clock::now());
    FAIL("no TrainingDiverged");
  } catch (const TrainingDiverged& e) {
    CHECK(std::string(e.what()) == "normlab: training diverged at epoch 2: mean training loss is nan (mean=0 std=1, "
                                   "lr 0.5); 1 finished epoch(s) are kept");
    CHECK(e.partial.history.size() == 1);
  }
  CHECK(s.calls.back() == "train 2/3 record 0 active 1");
}

TEST_CASE("with OnDivergence::Retire a diverged lane stops and the others go on, and on_epoch false stops a lane",
          "[train][epoch_loop]") {
  ToyStepper s{{{0.9, 0.8, 0.7}, {kNan, 0.6, 0.5}, {0.4, 0.3, 0.2}}, {}, {1.0, 1.0, 1.0}};
  EpochLoopOptions o;
  o.epochs = 3;
  o.on_divergence = OnDivergence::Retire;
  o.lane_lines = true;
  std::ostringstream log;
  o.log = &log;
  o.on_epoch = [](std::size_t k, const EpochRecord& r) { return !(k == 2 && r.epoch == 1); };
  const auto runs = run_epochs(s, lanes_named(3), o, std::chrono::steady_clock::now());
  CHECK(s.calls == std::vector<std::string>{
                       "lr 0", "lr 1", "lr 2", "train 1/3 record 0 active 3", "test active 3",
                       "scheduler 0 epoch 1", "scheduler 1 epoch 1", "scheduler 2 epoch 1", "retire 2",
                       "lr 0", "lr 1", "train 2/3 record 0 active 2", "retire 0", "test active 1",
                       "scheduler 1 epoch 2",
                       "lr 1", "train 3/3 record 0 active 1", "test active 1", "scheduler 1 epoch 3"});
  CHECK(runs[0].diverged == "normlab: training diverged at epoch 2: mean training loss is nan (mean=0 std=1, lr 0.5); "
                            "1 finished epoch(s) are kept");
  CHECK(runs[0].result.history.size() == 1);
  CHECK(runs[1].result.history.size() == 3);
  CHECK(runs[2].stopped_early);
  CHECK(runs[2].result.history.size() == 1);
  CHECK(log.str().rfind("variant 0 (mean=0 std=1) epoch 1/3  train_loss 0.9  test_loss 0.5  accuracy 0.25 (1/4)  lr 1", 0) == 0);
}

TEST_CASE("the loop stops when every lane has stopped", "[train][epoch_loop]") {
  ToyStepper s{{{0.9}, {0.8}, {0.7}}, {}, {1.0}};
  EpochLoopOptions o;
  o.epochs = 3;
  o.log = nullptr;
  o.on_epoch = [](std::size_t, const EpochRecord& r) { return r.epoch < 2; };
  const auto runs = run_epochs(s, lanes_named(1), o, std::chrono::steady_clock::now());
  CHECK(runs[0].result.history.size() == 2);
  CHECK(runs[0].stopped_early);
  CHECK(s.calls.back() == "retire 0");
}

namespace {
struct TrainOnly : ToyStepper {
  static constexpr bool tests_each_epoch = false;
};
}  // namespace

TEST_CASE("a stepper that does not test each epoch is not tested and its records' test fields stay 0",
          "[train][epoch_loop]") {
  TrainOnly s;
  s.losses = {{0.9}, {0.8}};
  s.lrs = {1.0};
  EpochLoopOptions o;
  o.epochs = 2;
  o.log = nullptr;
  const auto runs = run_epochs(s, lanes_named(1), o, std::chrono::steady_clock::now());
  CHECK(std::find(s.calls.begin(), s.calls.end(), "test active 1") == s.calls.end());
  CHECK(runs[0].result.history.size() == 2);
  CHECK(runs[0].result.history[1].train_loss == 0.8);
  CHECK(runs[0].result.history[1].total == 0);
}

namespace {
struct ThreeArgs {
  static void step(double& s, double accuracy, double) { s = accuracy; }
};
struct FourArgs {
  static void step(double& s, double, double) { s = -1; }
  static void step(double& s, double, double, double train_loss) { s = train_loss; }
};
}  // namespace

TEST_CASE("step_scheduler gives a policy the training loss when its step takes it", "[train][epoch_loop]") {
  EpochRecord r;
  r.accuracy = 0.75;
  r.test_loss = 0.5;
  r.train_loss = 0.25;
  double state = 0;
  step_scheduler<ThreeArgs>(state, r);
  CHECK(state == 0.75);
  step_scheduler<FourArgs>(state, r);
  CHECK(state == 0.25);
}
