#pragma once
// What a user sees while a run goes on: a bar over the batches of the current epoch (on a
// terminal only) and one line per epoch with loss, accuracy, learning rate and seconds.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <iostream>
#include <ostream>
#include <string>

#include "normlab/device/thread_placement.hpp"

namespace normlab {

/// One epoch's outcome.
struct EpochRecord {
  int epoch = 0;
  double train_loss = 0;  ///< mean of the batch losses
  double test_loss = 0;   ///< summed nll over the test set / its size, as the notebook reports it
  double accuracy = 0;    ///< correct / total
  int64_t correct = 0;
  int64_t total = 0;
  double lr = 0;          ///< learning rate used during this epoch
  double seconds = 0;     ///< wall time of the epoch, training and test
};

/// Prints progress to a stream (std::cerr by default); silent when the stream is null.
class Progress {
 public:
  /// @param bar draw the in-epoch bar; only done when `out` is std::cerr on a terminal
  /// @param placement told of each batch (the epoch loop's: device/thread_placement.hpp); may be null
  explicit Progress(std::ostream* out, bool bar, device::ThreadPlacement* placement = nullptr)
      : out_(out), bar_(bar && out == &std::cerr && isatty(2)), placement_(placement) {}

  void batch(int epoch, int epochs, int64_t done, int64_t total) {
    if (placement_) placement_->batch_done();
    if (!bar_ || (done != total && done % 10 != 0)) return;
    const int width = 30;
    const int filled = static_cast<int>(width * done / total);
    *out_ << "\repoch " << epoch << "/" << epochs << " [" << std::string(filled, '#')
          << std::string(width - filled, '.') << "] " << done << "/" << total << std::flush;
  }

  /// One line per epoch; without the test's fields when the epoch was not tested (total 0: the
  /// image protocol tests once, after its fine-tuning epochs).
  void epoch_done(const EpochRecord& r, int epochs) {
    if (!out_) return;
    char line[256];
    if (r.total == 0)
      std::snprintf(line, sizeof line, "epoch %d/%d  train_loss %.4f  lr %g  %.1f s", r.epoch, epochs, r.train_loss,
                    r.lr, r.seconds);
    else
      std::snprintf(line, sizeof line,
                    "epoch %d/%d  train_loss %.4f  test_loss %.4f  accuracy %.4f (%lld/%lld)  lr %g  %.1f s",
                    r.epoch, epochs, r.train_loss, r.test_loss, r.accuracy,
                    static_cast<long long>(r.correct), static_cast<long long>(r.total), r.lr,
                    r.seconds);
    *out_ << (bar_ ? "\r\033[K" : "") << line << std::endl;
  }

 private:
  std::ostream* out_;
  bool bar_;
  device::ThreadPlacement* placement_;
};

}  // namespace normlab
