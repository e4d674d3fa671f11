#include <catch2/catch.hpp>
#include <normlab/normlab.hpp>
#include <sstream>

#include "../golden.hpp"
#include "../kernel_golden.hpp"

using namespace normlab;

// --- composition: policies found by kind, in any order, defaults for the missing slots ---------
using Seed = Pipeline<Normalize<0.1307, 0.3081>, LeNet, Adadelta<>, ReduceOnPlateau<>,
                      compensate::Notebook, device::Auto, data::Mnist>;
using Shuffled = Pipeline<data::FashionMnist, device::Cpu, compensate::Exact, LeNet, StepLr<1, 0.7>,
                          Normalize<0.0, 1.0>>;
using Minimal = Pipeline<LeNet>;

static_assert(std::is_same_v<Seed::normalization_t, Normalize<0.1307, 0.3081>>);
static_assert(std::is_same_v<Seed::model_t, LeNet>);
static_assert(std::is_same_v<Shuffled::compensation_t, compensate::Exact>);
static_assert(std::is_same_v<Shuffled::scheduler_t, StepLr<1, 0.7>>);
static_assert(std::is_same_v<Shuffled::dataset_t, data::FashionMnist>);
static_assert(std::is_same_v<Shuffled::optimizer_t, Adadelta<>>);
static_assert(std::is_same_v<Minimal::normalization_t, normalize::Identity>);
static_assert(std::is_same_v<Minimal::compensation_t, compensate::Notebook>);
static_assert(std::is_same_v<Minimal::scheduler_t, ReduceOnPlateau<>>);
static_assert(std::is_same_v<Minimal::device_t, device::Auto>);
static_assert(std::is_same_v<Minimal::dataset_t, data::Mnist>);

using CpuLeNet = Pipeline<LeNet, device::Cpu>;

namespace {
RunOptions quiet(int epochs, int64_t train_limit, int64_t test_limit) {
  RunOptions o;
  o.data_root = testing::test_data_dir();
  o.epochs = epochs;
  o.train_limit = train_limit;
  o.test_limit = test_limit;
  o.threads = 1;  // the goldens were made with one thread
  o.log = nullptr;
  return o;
}
double field(const std::map<std::string, std::string>& f, const char* key) { return std::stod(f.at(key)); }
}  // namespace

TEST_CASE("LeNet's initial parameters for seed 1998 are PyTorch's, bit for bit", "[pipeline][parity]") {
  torch::manual_seed(1998);
  models::LeNet net;
  const auto rows = testing::golden_rows("lenet_init.txt");
  const auto params = net->named_parameters();
  REQUIRE(rows.size() == params.size());
  std::size_t i = 0;
  for (const auto& p : params) {
    const auto& row = rows[i++];
    INFO(p.key());
    REQUIRE(row[0] == p.key());
    const auto t = p.value().detach().contiguous();
    REQUIRE(std::stoll(row[1]) == t.numel());
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(testing::fnv1a64(t.data_ptr<float>(), t.numel() * sizeof(float))));
    REQUIRE(row[2] == hex);
    for (int k = 0; k < 8; ++k) REQUIRE(t.view(-1)[k].item<float>() == std::stof(row[3 + k]));
  }
}

// [blas]: these values depend on the CPU kernels; ctest runs them against committed goldens with
// the recorded kernels pinned, and against live goldens made on the machine under test.
TEST_CASE("the first 20 training losses match the notebook's", "[pipeline][parity][blas]") {
  const auto rows = testing::golden_rows_at(testing::kernel_golden("notebook_losses.txt", 1));
  int cases = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i][0] != "case") continue;
    const auto f = testing::case_fields(rows[i]);
    std::vector<double> expected;
    for (std::size_t j = i + 1; j < rows.size() && rows[j][0] == "loss"; ++j) expected.push_back(std::stod(rows[j][2]));
    auto options = quiet(1, std::stoll(f.at("train_limit")), 1000);
    options.record_losses = expected.size();
    options.normalization = NormalizationValues::uniform(field(f, "mean"), field(f, "std"));
    const auto result = Pipeline<normalize::Runtime, LeNet, device::Cpu>{}.run(options);
    INFO("mean=" << f.at("mean") << " std=" << f.at("std"));
    REQUIRE(result.first_losses.size() == expected.size());
    for (std::size_t k = 0; k < expected.size(); ++k)
      REQUIRE(result.first_losses[k] == Approx(expected[k]).epsilon(1e-5));
    ++cases;
  }
  REQUIRE(cases >= 2);
}

TEST_CASE("one-epoch accuracy equals the notebook's: the same count of correct answers", "[pipeline][parity][blas]") {
  int cases = 0;
  for (const auto& row : testing::golden_rows_at(testing::kernel_golden("notebook_accuracy.txt", 1))) {
    if (row[0] != "case") continue;
    const auto f = testing::case_fields(row);
    auto options = quiet(std::stoi(f.at("epochs")), std::stoll(f.at("train_limit")), std::stoll(f.at("test_limit")));
    options.normalization = NormalizationValues::uniform(field(f, "mean"), field(f, "std"));
    const auto result = Pipeline<normalize::Runtime, LeNet, device::Cpu>{}.run(options);
    INFO("mean=" << f.at("mean") << " std=" << f.at("std") << " epochs=" << f.at("epochs"));
    REQUIRE(result.correct == std::stoll(f.at("correct")));
    REQUIRE(result.total == std::stoll(f.at("total")));
    REQUIRE(result.history.back().test_loss == Approx(field(f, "test_loss")).epsilon(1e-5));
    ++cases;
  }
  REQUIRE(cases >= 3);
}

TEST_CASE("a compile-time Normalize gives the same run as the same run-time values", "[pipeline]") {
  auto options = quiet(1, 256, 200);
  const auto compile_time = Pipeline<Normalize<0.5, 0.25>, LeNet, device::Cpu>{}.run(options);
  options.normalization = NormalizationValues::uniform(0.5, 0.25);
  const auto run_time = Pipeline<normalize::Runtime, LeNet, device::Cpu>{}.run(options);
  REQUIRE(compile_time.correct == run_time.correct);
  REQUIRE(compile_time.history[0].train_loss == run_time.history[0].train_loss);
}

TEST_CASE("invalid run options and (mean, std) are refused before any work", "[pipeline]") {
  auto options = quiet(1, 64, 64);
  options.normalization = NormalizationValues::uniform(0.1, -0.5);
  REQUIRE_THROWS_WITH(CpuLeNet{}.run(options), Catch::Contains("std = -0.5"));
  options.normalization.reset();
  options.epochs = 0;
  REQUIRE_THROWS_WITH(CpuLeNet{}.run(options), Catch::Contains("epochs must be > 0"));
  options = quiet(1, 64, 64);
  options.data_root = "/nonexistent/normlab";
  REQUIRE_THROWS_WITH(CpuLeNet{}.run(options),
                      Catch::Contains("data directory '/nonexistent/normlab' does not exist"));
}

TEST_CASE("a diverging run says so and keeps its finished epochs", "[pipeline]") {
  auto options = quiet(3, 128, 64);
  // An absurd learning rate blows the weights up within the first epochs.
  using Diverging = Pipeline<LeNet, Adadelta<1e30>, device::Cpu>;
  try {
    Diverging{}.run(options);
    FAIL("expected TrainingDiverged");
  } catch (const TrainingDiverged& e) {
    REQUIRE_THAT(e.what(), Catch::Contains("training diverged at epoch"));
    REQUIRE(e.partial.history.size() < 3);
    for (const auto& r : e.partial.history) REQUIRE(std::isfinite(r.train_loss));
  }
}

TEST_CASE("per-epoch progress lines and early stopping through on_epoch", "[pipeline]") {
  auto options = quiet(5, 128, 100);
  std::ostringstream log;
  options.log = &log;
  options.on_epoch = [](const EpochRecord& r) { return r.epoch < 2; };
  const auto result = CpuLeNet{}.run(options);
  REQUIRE(result.history.size() == 2);
  REQUIRE_THAT(log.str(), Catch::Contains("epoch 1/5") && Catch::Contains("epoch 2/5") &&
                              Catch::Contains("accuracy") && Catch::Contains("lr 1"));
}
