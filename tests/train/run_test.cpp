// normlab/train/run.hpp: the run vocabulary the Pipeline, the K-variant trainer and the studies share.
#include <catch2/catch.hpp>
#include <normlab/train/run.hpp>

using namespace normlab;

TEST_CASE("RunOptions' defaults are the notebook's protocol", "[train]") {
  const RunOptions o;
  REQUIRE(o.epochs == 25);
  REQUIRE(o.seed == 1998);
  REQUIRE(o.train_batch == 64);
  REQUIRE(o.test_batch == 1000);
  REQUIRE(o.train_limit == 0);
  REQUIRE(o.test_limit == 0);
  REQUIRE_FALSE(o.fast);
  REQUIRE_FALSE(o.normalization.has_value());
  REQUIRE_FALSE(o.shuffle.has_value());  // the device decides: shuffled on CUDA only
}

TEST_CASE("TrainingDiverged names the epoch, the loss and the values, and keeps what finished", "[train]") {
  RunResult partial;
  partial.history.resize(2);
  const auto message = normlab::detail::diverged_message(3, std::nan(""), NormalizationValues::uniform(-2.5, 0.1), 1.0,
                                                partial.history.size());
  REQUIRE(message == "normlab: training diverged at epoch 3: mean training loss is nan (mean=-2.5 std=0.1, lr 1); "
                     "2 finished epoch(s) are kept");
  const TrainingDiverged error(message, partial);
  REQUIRE(std::string(error.what()) == message);
  REQUIRE(error.partial.history.size() == 2);
}
