#pragma once
// The RunOptions most tests start from: the committed MNIST fixture (tests/data), a few epochs on
// a subset, one thread (the goldens were made with one), no per-epoch lines.

#include <cstdint>

#include "golden.hpp"
#include "normlab/train/run.hpp"

namespace normlab::testing {

inline RunOptions fixture_run(int epochs, int64_t train_limit, int64_t test_limit) {
  RunOptions o;
  o.data_root = test_data_dir();
  o.epochs = epochs;
  o.train_limit = train_limit;
  o.test_limit = test_limit;
  o.threads = 1;
  o.log = nullptr;
  return o;
}

}  // namespace normlab::testing
