#pragma once
// A small in-memory study with known trials, for the report/ tests: three enqueued points with
// known accuracies, one failed trial and one left waiting.
#include <memory>
#include <normlab/search/normalization_space.hpp>
#include <normlab/search/random.hpp>
#include <normlab/study/study.hpp>

namespace normlab::testing {

inline std::unique_ptr<study::Study> known_study() {
  study::StudyOptions o;
  o.name = "known";
  o.direction = study::StudyDirection::Maximize;
  auto owned = std::make_unique<study::Study>(o, std::make_unique<search::RandomSampler>(7));
  auto& s = *owned;
  const double points[3][3] = {{0.1307, 0.3081, 0.95}, {0.0, 1.0, 0.93}, {2.5, 0.1, 0.11}};
  for (const auto& p : points) {
    s.enqueue(search::normalization_params(p[0], p[1]));
    auto t = s.ask();
    search::NotebookSpace::suggest(t);
    s.tell(t, p[2]);
  }
  auto failed = s.ask();
  s.tell(failed, study::TrialState::Fail);
  s.enqueue(search::normalization_params(1.0, 1.0));  // waiting
  return owned;
}

}  // namespace normlab::testing
