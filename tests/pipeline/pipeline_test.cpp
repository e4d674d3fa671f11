#include <catch2/catch.hpp>
#include <normlab/normlab.hpp>
#include <sstream>

#include "../fixture_run.hpp"
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

// Which pipelines take run-time (mean, std): normalize::Runtime, or no Normalization named.
static_assert(Pipeline<normalize::Runtime, LeNet>::takes_runtime_normalization);
static_assert(Minimal::takes_runtime_normalization);
static_assert(!Seed::takes_runtime_normalization);
static_assert(!Shuffled::takes_runtime_normalization);
static_assert(!Pipeline<normalize::Identity, LeNet>::takes_runtime_normalization);
static_assert(!Pipeline<NormalizePerChannel<Channels{0.5, 0.4, 0.3}, Channels{0.2, 0.2, 0.2}>, LeNet>::takes_runtime_normalization);

namespace {
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
    auto options = testing::fixture_run(1, std::stoll(f.at("train_limit")), 1000);
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
    auto options = testing::fixture_run(std::stoi(f.at("epochs")), std::stoll(f.at("train_limit")), std::stoll(f.at("test_limit")));
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
  auto options = testing::fixture_run(1, 256, 200);
  const auto compile_time = Pipeline<Normalize<0.5, 0.25>, LeNet, device::Cpu>{}.run(options);
  options.normalization = NormalizationValues::uniform(0.5, 0.25);
  const auto run_time = Pipeline<normalize::Runtime, LeNet, device::Cpu>{}.run(options);
  REQUIRE(compile_time.correct == run_time.correct);
  REQUIRE(compile_time.history[0].train_loss == run_time.history[0].train_loss);
}

TEST_CASE("invalid run options and (mean, std) are refused before any work", "[pipeline]") {
  auto options = testing::fixture_run(1, 64, 64);
  options.normalization = NormalizationValues::uniform(0.1, -0.5);
  REQUIRE_THROWS_WITH(CpuLeNet{}.run(options), Catch::Contains("std = -0.5"));
  options.normalization.reset();
  options.epochs = 0;
  REQUIRE_THROWS_WITH(CpuLeNet{}.run(options), Catch::Contains("epochs must be > 0"));
  options = testing::fixture_run(1, 64, 64);
  options.data_root = "/nonexistent/normlab";
  REQUIRE_THROWS_WITH(CpuLeNet{}.run(options),
                      Catch::Contains("data directory '/nonexistent/normlab' does not exist"));
}

TEST_CASE("a diverging run says so and keeps its finished epochs", "[pipeline]") {
  auto options = testing::fixture_run(3, 128, 64);
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
  auto options = testing::fixture_run(5, 128, 100);
  std::ostringstream log;
  options.log = &log;
  options.on_epoch = [](const EpochRecord& r) { return r.epoch < 2; };
  const auto result = CpuLeNet{}.run(options);
  REQUIRE(result.history.size() == 2);
  REQUIRE_THAT(log.str(), Catch::Contains("epoch 1/5") && Catch::Contains("epoch 2/5") &&
                              Catch::Contains("accuracy") && Catch::Contains("lr 1"));
}

// --- run-time values never silently override a compile-time Normalization -------------------------
TEST_CASE("a compile-time Normalize refuses different run-time values, naming both, before any work",
          "[pipeline][normalization]") {
  auto options = testing::fixture_run(1, 64, 64);
  options.data_root = "/nonexistent/normlab";  // the refusal comes first: no data is read
  options.normalization = NormalizationValues::uniform(0.0, 1.0);
  using Fixed = Pipeline<Normalize<0.1307, 0.3081>, LeNet, device::Cpu>;
  REQUIRE_THROWS_MATCHES(
      Fixed{}.run(options), std::invalid_argument,
      Catch::Message("normlab::Pipeline: RunOptions::normalization (mean=0 std=1) differs from the Pipeline's "
                     "compile-time Normalize (mean=0.1307 std=0.3081); run-time values never override a "
                     "compile-time Normalization: name normalize::Runtime in the Pipeline to take them at run "
                     "time, or leave them unset (docs/pipeline.md)"));
  options.normalization = NormalizationValues::uniform(0.1307, 0.3082);  // one digit off is different
  REQUIRE_THROWS_WITH(Fixed{}.run(options), Catch::Contains("(mean=0.1307 std=0.3082) differs") &&
                                                Catch::Contains("Normalize (mean=0.1307 std=0.3081)"));
  options.normalization = NormalizationValues::uniform(0.1307, 0.3081);  // equal: accepted, then data is read
  REQUIRE_THROWS_WITH(Fixed{}.run(options), Catch::Contains("data directory '/nonexistent/normlab' does not exist"));
}

TEST_CASE("normalize::Identity and NormalizePerChannel refuse different run-time values too",
          "[pipeline][normalization]") {
  using Identity = Pipeline<normalize::Identity, LeNet, device::Cpu>;
  REQUIRE_THROWS_WITH(Identity::resolve_normalization(NormalizationValues::uniform(0.1307, 0.3081)),
                      Catch::Contains("RunOptions::normalization (mean=0.1307 std=0.3081) differs from the "
                                      "Pipeline's compile-time normalize::Identity (mean=0 std=1)"));
  CHECK(Identity::resolve_normalization(NormalizationValues::uniform(0.0, 1.0)).to_string() == "mean=0 std=1");
  CHECK(Identity::resolve_normalization(std::nullopt).to_string() == "mean=0 std=1");

  using ImageNet = Pipeline<NormalizePerChannel<Channels{0.485, 0.456, 0.406}, Channels{0.229, 0.224, 0.225}>, LeNet>;
  REQUIRE_THROWS_WITH(ImageNet::resolve_normalization(NormalizationValues{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.2}}),
                      Catch::Contains("(mean=[0.485,0.456,0.406] std=[0.229,0.224,0.2]) differs from the Pipeline's "
                                      "compile-time NormalizePerChannel (mean=[0.485,0.456,0.406] std=[0.229,0.224,0.225])"));
  CHECK(ImageNet::resolve_normalization(NormalizationValues{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}}).channels() == 3);
  // One value for every channel is the same transform as a list of that value.
  using Gray = Pipeline<NormalizePerChannel<Channels{0.5, 0.5, 0.5}, Channels{0.25, 0.25, 0.25}>, LeNet>;
  CHECK(Gray::resolve_normalization(NormalizationValues::uniform(0.5, 0.25)).to_string() == "mean=0.5 std=0.25");
  REQUIRE_THROWS_AS(Gray::resolve_normalization(NormalizationValues::uniform(0.5, 0.5)), std::invalid_argument);
}

TEST_CASE("normalize::Runtime and a Pipeline without a Normalization take run-time values",
          "[pipeline][normalization]") {
  const auto given = NormalizationValues::uniform(-2.5, 0.15);
  CHECK(Pipeline<normalize::Runtime, LeNet>::resolve_normalization(given).to_string() == "mean=-2.5 std=0.15");
  CHECK(Minimal::resolve_normalization(given).to_string() == "mean=-2.5 std=0.15");
  CHECK(Minimal::resolve_normalization(std::nullopt).to_string() == "mean=0 std=1");  // Identity's
  // Runtime without values says so before any data is read.
  auto options = testing::fixture_run(1, 64, 64);
  options.data_root = "/nonexistent/normlab";
  REQUIRE_THROWS_WITH((Pipeline<normalize::Runtime, LeNet, device::Cpu>{}.run(options)),
                      "normlab::normalize::Runtime: no (mean, std) given; set RunOptions::normalization");
  // Invalid values are refused as before, whatever the Normalization.
  options.normalization = NormalizationValues::uniform(0.1307, 0.0);
  REQUIRE_THROWS_WITH((Pipeline<Normalize<0.1307, 0.3081>, LeNet, device::Cpu>{}.run(options)),
                      Catch::Contains("std = 0 (it must be finite and > 0)"));
}

TEST_CASE("equal run-time values on a compile-time Normalize give the compile-time run, bit for bit",
          "[pipeline][normalization]") {
  auto options = testing::fixture_run(1, 256, 200);
  using Fixed = Pipeline<Normalize<0.5, 0.25>, LeNet, device::Cpu>;
  const auto compile_time = Fixed{}.run(options);
  options.normalization = NormalizationValues::uniform(0.5, 0.25);
  const auto both = Fixed{}.run(options);
  REQUIRE(both.normalization.to_string() == "mean=0.5 std=0.25");
  REQUIRE(compile_time.correct == both.correct);
  REQUIRE(compile_time.history[0].train_loss == both.history[0].train_loss);
  REQUIRE(compile_time.history[0].test_loss == both.history[0].test_loss);
}

TEST_CASE("device::Named runs a Pipeline where use() says: the CPU run, bit for bit", "[pipeline][device]") {
  auto options = testing::fixture_run(1, 256, 200);
  options.normalization = NormalizationValues::uniform(0.1307, 0.3081);
  const auto on_cpu = Pipeline<normalize::Runtime, LeNet, device::Cpu>{}.run(options);
  device::Named::use("cpu");
  const auto named = Pipeline<normalize::Runtime, LeNet, device::Named>{}.run(options);
  device::Named::reset();
  REQUIRE(named.correct == on_cpu.correct);
  REQUIRE(named.history[0].train_loss == on_cpu.history[0].train_loss);
  REQUIRE(named.history[0].test_loss == on_cpu.history[0].test_loss);
}
