// A research project's one file: two pipeline variants trained on a small MNIST subset, then a
// small TPE study of the second over (mean, std) stored in SQLite, with its contour plot.
// benchmarks/variant_build.sh edits VARIANT_SCHEDULE (StepLr<1, 0.7> -> StepLr<1, 0.5>) and times
// the rebuild, header-only and with normlab::compiled.
#include <cstdio>
#include <memory>
#include <normlab/normlab.hpp>
#include <normlab/plot/contour.hpp>

using namespace normlab;

#ifndef VARIANT_SCHEDULE
#define VARIANT_SCHEDULE StepLr<1, 0.7>
#endif

using Baseline = Pipeline<Normalize<0.1307, 0.3081>, LeNet, Adadelta<>, ReduceOnPlateau<>, device::Cpu>;
using Variant = Pipeline<normalize::Runtime, LeNet, Adadelta<>, VARIANT_SCHEDULE, device::Cpu>;

int main(int argc, char** argv) {
  const auto data = std::make_shared<const data::TrainTest>(data::Mnist::load(argc > 1 ? argv[1] : "data"));
  RunOptions options;
  options.epochs = 1;
  options.train_limit = 1000;
  options.test_limit = 500;
  options.threads = 2;
  options.log = nullptr;
  const auto baseline = Baseline{}.run(options, *data);
  std::printf("baseline: %lld/%lld\n", (long long)baseline.correct, (long long)baseline.total);

  study::StudyOptions so;
  so.name = "variant";
  so.storage_url = "sqlite:///variant.db";
  so.direction = study::StudyDirection::Maximize;
  auto s = study::Study::create(so, search::make_sampler("tpe", 1), nullptr);
  s.optimize(normalization_objective<Variant>(options, data), 4);
  std::printf("best: %.4f\n", s.best_trial().value.value_or(0.0));
  plot::ContourOptions contour;
  contour.study_name = s.name();
  plot::plot_contour(s.trials(), "mean", "std", "variant-contour.png", contour);
  return 0;
}
