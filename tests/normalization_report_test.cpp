// normlab/normalization_report.hpp: the answer report's runs, their storage and their reading.
#include <catch2/catch.hpp>
#include <normlab/normalization_report.hpp>

#include "golden.hpp"
#include "temp_dir.hpp"

using namespace normlab;

namespace {
ReportOptions smoke(const std::filesystem::path& out) {
  ReportOptions o;
  o.base.data_root = testing::test_data_dir();
  o.base.epochs = 1;
  o.base.train_limit = 128;
  o.base.test_limit = 100;
  o.base.threads = 1;
  o.grid = 2;
  o.seeds = 2;
  o.noise_seeds = 2;
  o.tpe_trials = 2;
  o.compensations = {"exact", "notebook"};
  o.out = out;
  o.log = nullptr;
  return o;
}
}  // namespace

TEST_CASE("with compensate::Exact, LeNet's outputs at initialization are the same at every grid point",
          "[report][compensate]") {
  // So any difference between the exact compensation's cells comes from training, not from the
  // function the network starts as.
  const auto data = data::Mnist::load(testing::test_data_dir());
  const auto raw = data.test.images.slice(0, 0, 16);
  torch::NoGradGuard no_grad;
  torch::manual_seed(1998);
  auto reference = LeNet::make();
  reference->eval();
  const auto expected = reference->forward(raw.to(torch::kFloat32).div(255));
  const auto grid = report::notebook_grid(5, 2);
  for (double mean : grid.means)
    for (double std : grid.stds) {
      torch::manual_seed(1998);
      auto net = LeNet::make();
      net->eval();
      const auto v = NormalizationValues::uniform(mean, std);
      compensate_model<compensate::Exact, LeNet>(net, v);
      BatchNormalizer normalize(v, torch::kCPU);
      INFO("mean=" << mean << " std=" << std);
      CHECK((net->forward(normalize(raw)) - expected).abs().max().item<double>() < 1e-5);
    }
}

TEST_CASE("a report trains its design once, rereads it on a rerun, and each run is a plain Pipeline run",
          "[report][pipeline]") {
  testing::TempDir dir("normlab_report_test");
  const auto o = smoke(dir.path);
  const auto data = data::Mnist::load(o.base.data_root);
  const auto first = run_normalization_report<device::Cpu>(o, data);
  REQUIRE(first.grid.size() == 2 * 2 * 2 * 2);  // compensations x means x stds x seeds
  REQUIRE(first.noise.size() == 2 * 2 * 2);     // compensations x points x seeds
  REQUIRE(first.findings.size() == 2);
  REQUIRE(first.studies.size() == 2);  // the notebook's TPE study per compensation, 2 complete trials each
  CHECK(first.studies[1].name == "report-tpe-notebook");
  CHECK(first.studies[1].trials.size() >= 2);
  CHECK(first.findings[0].compensation == "exact");
  CHECK(first.findings[0].anova.residual.df == 4);
  CHECK(first.verdict.rfind("with the exact compensation, mean ", 0) == 0);
  CHECK(first.verdict.find("; with the notebook compensation, ") != std::string::npos);

  // A row is what seed_mnist's Pipeline gives with the same flags.
  const auto& row = first.grid[5];
  RunOptions plain = o.base;
  plain.seed = row.seed;
  plain.log = nullptr;
  plain.normalization = NormalizationValues::uniform(row.mean, row.std);
  const auto direct = row.compensation == "exact"
                          ? Pipeline<normalize::Runtime, LeNet, compensate::Exact, device::Cpu>{}.run(plain, data)
                          : Pipeline<normalize::Runtime, LeNet, compensate::Notebook, device::Cpu>{}.run(plain, data);
  CHECK(direct.accuracy == row.accuracy);
  CHECK(direct.correct == row.correct);

  // The rerun trains nothing (no trial is added) and reads the same numbers.
  const auto second = run_normalization_report<device::Cpu>(o, data);
  REQUIRE(second.grid.size() == first.grid.size());
  for (std::size_t i = 0; i < first.grid.size(); ++i) {
    CHECK(second.grid[i].accuracy == first.grid[i].accuracy);
    CHECK(second.grid[i].seed == first.grid[i].seed);
  }
  CHECK(second.verdict == first.verdict);
  study::StudyOptions so;
  so.name = "report-grid-exact";
  so.storage_url = "sqlite:///" + (dir.path / "report.sqlite3").string();
  so.require_existing = true;
  auto stored = study::Study::create(so, std::make_unique<search::RandomSampler>(1));
  CHECK(stored.trials().size() == 8);
  so.name = "report-tpe-exact";
  auto tpe = study::Study::create(so, std::make_unique<search::RandomSampler>(1));
  CHECK(tpe.trials().size() == first.studies[0].trials.size());  // the rerun added no TPE trial
  CHECK(tpe.trials({study::TrialState::Complete}).size() == 2);
}

TEST_CASE("a report folder refuses to be continued with another protocol, and keeps its runs", "[report][pipeline]") {
  testing::TempDir dir("normlab_report_protocol");
  auto o = smoke(dir.path);
  o.compensations = {"exact"};
  o.grid = 2, o.seeds = 2, o.noise_seeds = 2, o.tpe_trials = 0;
  o.base.train_limit = 64;
  const auto data = data::Mnist::load(o.base.data_root);
  const auto first = run_normalization_report<device::Cpu>(o, data);
  auto other = o;
  other.base.epochs = 2;
  CHECK_THROWS_WITH(run_normalization_report<device::Cpu>(other, data),
                    Catch::Contains("was trained with epochs=1 train_batch=64 fast=0 train_images=64") &&
                        Catch::Contains("this run asks for epochs=2 ") && Catch::Contains("Give another --out"));
  other = o;
  other.base.train_limit = 96;
  CHECK_THROWS_WITH(run_normalization_report<device::Cpu>(other, data), Catch::Contains("train_images=96"));
  // The refused runs changed nothing: the same report again reads the same runs.
  const auto again = run_normalization_report<device::Cpu>(o, data);
  REQUIRE(again.grid.size() == first.grid.size());
  for (std::size_t i = 0; i < first.grid.size(); ++i) CHECK(again.grid[i].accuracy == first.grid[i].accuracy);
}

TEST_CASE("a report refuses an unknown compensation before it trains anything", "[report][pipeline]") {
  testing::TempDir dir("normlab_report_bad");
  auto o = smoke(dir.path);
  o.compensations = {"exact", "Exact"};
  const auto data = data::Mnist::load(o.base.data_root);
  CHECK_THROWS_WITH(run_normalization_report<device::Cpu>(o, data),
                    "--compensations expects notebook, exact, none (got 'Exact')");
  CHECK_FALSE(std::filesystem::exists(dir.path / "report.sqlite3"));
}
