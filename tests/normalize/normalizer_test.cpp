// normalize/normalizer.hpp: what a Normalization policy is. The policy below is a user's, written here,
// outside include/: per-image min-max scaling, which is not an affine in (mean, std) of a fixed input
// (so compensate::Notebook and Exact refuse it at compile time: compile_fail/
// compensation_wrong_normalizer.cpp). It runs in a Pipeline and in a study with no library change.
#include <catch2/catch.hpp>
#include <normlab/normlab.hpp>

#include "../fixture_run.hpp"
#include "../golden.hpp"

using namespace normlab;

namespace {

/// out = ((x - min) / (max - min)) ^ (1 / std) + mean per image: (mean, std) enter non-affinely.
class MinMaxScaler {
 public:
  MinMaxScaler(NormalizationValues values, torch::Device) : values_(std::move(values)) {}
  torch::Tensor operator()(const torch::Tensor& raw) const {
    const auto x = raw.to(torch::kFloat32);
    const auto low = x.amin({1, 2, 3}, true), high = x.amax({1, 2, 3}, true);
    const auto scaled = (x - low) / (high - low).clamp_min(1.0);
    return scaled.pow(1.0 / values_.std[0]) + values_.mean[0];
  }

 private:
  NormalizationValues values_;
};

struct MinMax {
  using normlab_policy = policy::Normalization;
  using normalizer = MinMaxScaler;
  static constexpr const char* name = "test::MinMax";
  static constexpr bool takes_runtime_values = true;
  static NormalizationValues values() { return NormalizationValues::uniform(0.0, 1.0); }
};

using MinMaxLeNet = Pipeline<MinMax, LeNet, compensate::None, device::Cpu, search::Random>;
using AffineLeNet = Pipeline<normalize::Runtime, LeNet, compensate::None, device::Cpu>;

static_assert(Normalizer<MinMaxScaler>);
static_assert(!affine_in_values<MinMax>);
static_assert(!compensation_applies<compensate::Notebook, MinMax>);
static_assert(!compensation_applies<compensate::Exact, MinMax>);
static_assert(compensation_applies<compensate::None, MinMax>);
static_assert(MinMaxLeNet::takes_runtime_normalization);
static_assert(std::is_same_v<MinMaxLeNet::normalizer_t, MinMaxScaler>);
// The built-in policies and their normalizers.
static_assert(std::is_same_v<Pipeline<LeNet>::normalizer_t, BatchNormalizer>);
static_assert(std::is_same_v<Pipeline<normalize::Identity, LeNet>::normalizer_t, ToTensorOnly>);
static_assert(std::is_same_v<Pipeline<normalize::PerImageStandardize, LeNet>::normalizer_t,
                             normalize::PerImageStandardizer>);
static_assert(normlab::detail::uses_batch_normalizer<Normalize<0.5, 0.5>>);
static_assert(!normlab::detail::uses_batch_normalizer<normalize::LearnedAffine>);

RunOptions tiny(NormalizationValues v) {
  RunOptions o = testing::fixture_run(1, 256, 100);
  o.record_losses = 4;
  o.normalization = std::move(v);
  return o;
}

}  // namespace

TEST_CASE("a user's normalizer, defined outside the library, trains a Pipeline", "[normalize][pipeline]") {
  const auto v = NormalizationValues::uniform(0.25, 0.5);
  const auto mine = MinMaxLeNet{}.run(tiny(v));
  const auto affine = AffineLeNet{}.run(tiny(v));
  REQUIRE(mine.normalization.same_as(v));
  REQUIRE(mine.history.size() == 1);
  REQUIRE(mine.total == 100);
  REQUIRE(std::isfinite(mine.history[0].train_loss));
  // Its input is not the affine one, so neither is its first loss (same seed, same net).
  REQUIRE(mine.first_losses.size() == 4);
  REQUIRE(mine.first_losses[0] != affine.first_losses[0]);
  // Deterministic: the same run twice gives the same bits.
  REQUIRE(MinMaxLeNet{}.run(tiny(v)).first_losses == mine.first_losses);
}

TEST_CASE("a user's normalizer runs in a study over (mean, std)", "[normalize][study]") {
  study::StudyOptions options;
  options.name = "minmax";
  auto base = tiny(NormalizationValues::uniform(0, 1));
  base.normalization.reset();  // the study's trials give them
  const auto data = std::make_shared<const data::TrainTest>(data::Mnist::load(testing::test_data_dir()));
  const auto s = run_study<MinMaxLeNet>(options, base, data, 2);
  const auto trials = s->trials();
  REQUIRE(trials.size() == 2);
  for (const auto& t : trials) {
    INFO("trial " << t.number);
    REQUIRE(t.state == study::TrialState::Complete);
    // The trial's value is the run at its (mean, std), through the user's normalizer.
    const auto alone = MinMaxLeNet{}.run(tiny(NormalizationValues::uniform(t.params.at("mean"), t.params.at("std"))));
    REQUIRE(*t.value == alone.accuracy);
  }
}

TEST_CASE("fast mode refuses a normalizer it does not implement, before any work", "[normalize][pipeline]") {
  auto o = tiny(NormalizationValues::uniform(0, 1));
  o.fast = true;
  REQUIRE_THROWS_WITH(MinMaxLeNet{}.run(o), Catch::Contains("test::MinMax has a normalizer of its own"));
}

TEST_CASE("make_normalizer validates the values once, where the normalizer is made", "[normalize]") {
  REQUIRE_THROWS_WITH(make_normalizer<MinMax>(NormalizationValues::uniform(0, 0), torch::kCPU),
                      Catch::Contains("std = 0"));
  REQUIRE_THROWS_WITH(MinMaxLeNet{}.run(tiny(NormalizationValues::uniform(0, -1))), Catch::Contains("std = -1"));
}
