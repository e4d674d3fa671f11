#include <catch2/catch.hpp>
#include <normlab/normlab.hpp>
#include <normlab/search/samplers.hpp>
#include <normlab/study/pruners.hpp>
#include <sstream>

#include "../fixture_run.hpp"
#include "../golden.hpp"

using namespace normlab;

namespace {
RunOptions tiny() { return testing::fixture_run(2, 256, 100); }
std::shared_ptr<const data::TrainTest> fixture() {
  return std::make_shared<const data::TrainTest>(data::Mnist::load(testing::test_data_dir()));
}
}  // namespace

TEST_CASE("the Pipeline's Search policy drives a normalization study", "[pipeline][study]") {
  static_assert(std::is_void_v<Pipeline<LeNet>::named_search_t>);
  static_assert(std::is_same_v<search::search_policy_of_t<Pipeline<LeNet>>, search::Tpe<>>);
  using RandomSearch = Pipeline<normalize::Runtime, LeNet, device::Cpu, search::Random>;
  static_assert(std::is_same_v<search::search_policy_of_t<RandomSearch>, search::Random>);

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

TEST_CASE("a study records its kernels and warns once, naming both, when other kernels continue it",
          "[pipeline][study]") {
  study::StudyOptions options;
  options.name = "kernels";
  auto s = study::Study::create(options, search::make_sampler("random", 1));
  device::CpuKernels first{"Haswell", "AVX2", 2, "1.13.0"};
  std::ostringstream warnings;
  REQUIRE(record_kernels(s, first, "cpu", &warnings));
  REQUIRE(warnings.str().empty());
  const auto recorded = s.user_attrs().at(kKernelsAttr);
  CHECK(recorded.at("openblas_core").as_string() == "Haswell");
  CHECK(recorded.at("aten_capability").as_string() == "AVX2");
  CHECK(recorded.at("threads").as_int() == 2);
  CHECK(recorded.at("libtorch").as_string() == "1.13.0");
  CHECK(recorded.at("device").as_string() == "cpu");

  REQUIRE(record_kernels(s, first, "cpu", &warnings));  // the same kernels continue it silently
  REQUIRE(warnings.str().empty());

  device::CpuKernels other = first;
  other.openblas_core = "SkylakeX";
  REQUIRE_FALSE(record_kernels(s, other, "cpu", &warnings));
  const std::string text = warnings.str();
  CHECK(text.find("OpenBLAS Haswell, ATen AVX2, 2 thread(s), LibTorch 1.13.0") != std::string::npos);
  CHECK(text.find("OpenBLAS SkylakeX, ATen AVX2, 2 thread(s), LibTorch 1.13.0") != std::string::npos);
  CHECK(text.find("not be bit-identical") != std::string::npos);
  CHECK(text.find("OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2") != std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  // The record stays the first kernels': a warning does not move it.
  CHECK(s.user_attrs().at(kKernelsAttr).at("openblas_core").as_string() == "Haswell");

  other = first;
  other.threads = 1;
  CHECK_FALSE(record_kernels(s, other, "cpu", nullptr));
  CHECK_FALSE(record_kernels(s, first, "cuda:0", nullptr));
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
