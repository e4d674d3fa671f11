// A user's program that tunes a plain C++ objective with normlab::study alone: it must compile with
// no LibTorch on its include path (docs/layers.md) and link no LibTorch.
#if __has_include(<torch/torch.h>)
#error "normlab::study put LibTorch's include folder on the include path"
#endif
#include <cmath>
#include <iostream>
#include <normlab/search/samplers.hpp>
#include <normlab/study/study.hpp>

int main() {
  using namespace normlab;
  auto s = study::Study::create({.direction = study::StudyDirection::Minimize}, search::make_sampler("tpe", 1998));
  s.optimize([](study::Trial& t) { const double x = t.suggest_float("x", -4, 4); return (x - 1) * (x - 1); }, 30);
  const search::FrozenTrial best = s.best_trial();  // the same type as study::FrozenTrial
  std::cout << "study_only ok: best x = " << best.params.at("x") << ", value " << s.best_value() << "\n";
  return std::isfinite(s.best_value()) && s.best_value() < 1 ? 0 : 1;
}
