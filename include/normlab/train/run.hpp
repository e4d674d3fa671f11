#pragma once
// The vocabulary of a run, below the Pipeline and the loops that use it: RunOptions (how one run
// goes), RunResult (what it produced), VariantRun (one of several runs trained together),
// TrainingDiverged (a NaN loss, with the epochs kept). The Pipeline (pipeline.hpp), the epoch loop
// (train/epoch_loop.hpp), the stacked K-variant trainer (train/variant_trainer.hpp) and the study
// glue speak it; it knows none of them.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "normlab/normalize/values.hpp"
#include "normlab/train/progress.hpp"

namespace normlab {

/// How one run goes. Defaults are the notebook's protocol.
struct RunOptions {
  std::filesystem::path data_root = "data";
  int epochs = 25;
  uint64_t seed = 1998;               ///< torch::manual_seed at the start, as the notebook
  int64_t train_limit = 0;            ///< first K training samples (0: all)
  int64_t test_limit = 0;             ///< first K test samples (0: all)
  int64_t train_batch = 64;
  int64_t test_batch = 1000;
  std::optional<bool> shuffle;        ///< default: shuffle on CUDA, not on the CPU (the notebook's rule)
  int threads = 0;                    ///< intra-op threads (0: leave LibTorch's setting)
  bool keep_freed_memory = true;      ///< device::keep_freed_memory(): faster CPU epochs (docs/performance.md)
  /// Fast mode (LeNet on the CPU; elsewhere ignored): dropout masks drawn in bulk (the same bits),
  /// and bfloat16 autocast for the forward passes on CPUs with AVX512-BF16: no longer the
  /// notebook's numbers. docs/performance.md; train/variant_trainer.hpp (run_fast).
  bool fast = false;
  /// Run-time (mean, std), for a Pipeline<normalize::Runtime, ...> (or one that names no
  /// Normalization); with a compile-time Normalization they must equal its values (else refused).
  std::optional<NormalizationValues> normalization;
  std::size_t record_losses = 0;      ///< keep the first K training batch losses of epoch 1
  std::ostream* log = &std::cerr;     ///< progress lines; nullptr for silence
  bool progress_bar = true;           ///< a bar over the batches, when stderr is a terminal
  /// Called after each epoch; returning false stops the run early (pruning).
  std::function<bool(const EpochRecord&)> on_epoch;
};

/// What a run produced.
struct RunResult {
  NormalizationValues normalization;
  std::vector<EpochRecord> history;
  std::vector<double> first_losses;  ///< RunOptions::record_losses batch losses of epoch 1
  double accuracy = 0;               ///< final test accuracy
  int64_t correct = 0;
  int64_t total = 0;
  double seconds = 0;
};

/// What one variant of run_variants (one lane of the epoch loop, train/epoch_loop.hpp) produced:
/// its RunResult (as Pipeline::run returns it), and why it ended early, if it did.
struct VariantRun {
  RunResult result;
  /// Non-empty when the variant's training loss became NaN or infinite: TrainingDiverged's
  /// message (Pipeline::run would have thrown it; `result` holds the epochs finished before).
  std::string diverged;
  bool stopped_early = false;  ///< on_epoch returned false
};

namespace detail {
/// TrainingDiverged's message (also run_variants' VariantRun::diverged).
inline std::string diverged_message(int epoch, double loss, const NormalizationValues& v, double lr,
                                    std::size_t finished) {
  std::ostringstream msg;
  msg << "normlab: training diverged at epoch " << epoch << ": mean training loss is " << loss << " ("
      << v.to_string() << ", lr " << lr << "); " << finished << " finished epoch(s) are kept";
  return msg.str();
}
}  // namespace detail

/// Thrown when the training loss becomes NaN or infinite. Holds every epoch finished before.
struct TrainingDiverged : std::runtime_error {
  TrainingDiverged(const std::string& what, RunResult partial)
      : std::runtime_error(what), partial(std::move(partial)) {}
  RunResult partial;
};

}  // namespace normlab
