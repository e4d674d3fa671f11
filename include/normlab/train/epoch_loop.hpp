#pragma once
// The one epoch loop of normlab. Pipeline::run (one net), run_variants and RunOptions::fast (K LeNet
// variants stepped together, train/variant_trainer.hpp) and the image protocol's fine-tuning
// (train/image_protocol.hpp) all run their epochs here; what differs between them is a *stepper*,
// which trains and tests one epoch of its nets (its "lanes"). Per epoch, the loop:
//
//   1. checks for Ctrl-C (interrupt.hpp), then records each active lane's learning rate;
//   2. trains one epoch (stepper.train), keeping epoch 1's first RunOptions::record_losses losses,
//      its OpenMP threads placed where they run fastest (device/thread_placement.hpp);
//   3. checks each active lane's mean training loss: NaN or infinite is TrainingDiverged
//      (OnDivergence::Throw, a single run) or a retired lane with VariantRun::diverged set
//      (OnDivergence::Retire, K variants);
//   4. tests (stepper.test; skipped where the stepper says it does not test each epoch);
//   5. per active lane, in order: steps its scheduler (stepper.step_scheduler, with the whole
//      record, so a policy may watch accuracy, test loss or training loss), writes its progress
//      line, adds the record to its history, and asks on_epoch whether to go on (false retires it);
//   6. stops when no lane is active.
//
// Every random draw and floating-point operation happens in the stepper, in the order the loops
// this one replaced had (the notebook's order, docs/parity.md): the loop adds none.

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <functional>
#include <iostream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "normlab/interrupt.hpp"
#include "normlab/train/loops.hpp"
#include "normlab/train/progress.hpp"
#include "normlab/train/run.hpp"

namespace normlab {

/**
 * What the epoch loop drives: `lanes()` nets trained together (1 for a Pipeline run, K for
 * run_variants). `active[k]` is false for a lane that has stopped (diverged or pruned).
 *
 * - `std::size_t lanes()`
 * - `double lr(std::size_t lane)`: the learning rate the next epoch uses
 * - `std::vector<TrainStats> train(int epoch, int epochs, std::size_t record_losses, Progress&,
 *    const std::vector<bool>& active)`: one epoch; per lane its mean batch loss and its first
 *    `record_losses` batch losses; `progress.batch` after each batch
 * - `std::vector<TestStats> test(const std::vector<bool>& active)`: the notebook's test() per lane
 * - `void step_scheduler(std::size_t lane, const EpochRecord&)`: once per epoch, after the test
 * - `void retire(std::size_t lane)`: the lane stopped; it is no longer trained
 * - optional: `static constexpr bool tests_each_epoch = false` (the image protocol tests once, at
 *   the end): the loop skips step 4 and leaves the record's test fields at 0
 */
template <class S>
concept EpochStepper = requires(S& s, int epoch, std::size_t n, Progress& progress, const std::vector<bool>& active,
                                const EpochRecord& record) {
  { s.lanes() } -> std::convertible_to<std::size_t>;
  { s.lr(n) } -> std::convertible_to<double>;
  { s.train(epoch, epoch, n, progress, active) } -> std::same_as<std::vector<TrainStats>>;
  { s.test(active) } -> std::same_as<std::vector<TestStats>>;
  s.step_scheduler(n, record);
  s.retire(n);
};

/// Whether the epoch loop tests each epoch with this stepper (true unless it says otherwise).
template <class S>
constexpr bool tests_each_epoch() {
  if constexpr (requires { S::tests_each_epoch; }) return S::tests_each_epoch;
  else return true;
}

/**
 * Steps a Scheduler policy's state once, after an epoch's test: `step(state, accuracy, test_loss,
 * train_loss)` where the policy has it (e.g. ReduceOnPlateau<min, ..., Metric::TrainLoss>, the
 * ResNet protocol's ReduceLROnPlateau('min') on the epoch's training loss), else the three-argument
 * `step(state, accuracy, test_loss)` every Scheduler policy has.
 */
template <class SchedulerPolicy, class State>
void step_scheduler(State& state, const EpochRecord& r) {
  if constexpr (requires { SchedulerPolicy::step(state, r.accuracy, r.test_loss, r.train_loss); })
    SchedulerPolicy::step(state, r.accuracy, r.test_loss, r.train_loss);
  else
    SchedulerPolicy::step(state, r.accuracy, r.test_loss);
}

/// What a NaN or infinite training loss does in the epoch loop.
enum class OnDivergence {
  Throw,   ///< TrainingDiverged with lane 0's epochs so far (a single run: Pipeline::run)
  Retire,  ///< the lane stops, VariantRun::diverged says why; the others go on (run_variants)
};

/// How the epoch loop goes: RunOptions' epochs, record_losses, log, progress_bar and on_epoch,
/// spelled per lane.
struct EpochLoopOptions {
  int epochs = 1;
  std::size_t record_losses = 0;     ///< epoch 1's first batch losses kept per lane
  std::ostream* log = &std::cerr;    ///< progress lines; nullptr for silence
  bool progress_bar = true;          ///< the bar over the batches (Progress: on a terminal only)
  OnDivergence on_divergence = OnDivergence::Throw;
  /// false: Progress's epoch line; true: one line per lane, "variant k (mean=.. std=..) epoch e/E ..."
  bool lane_lines = false;
  /// After each epoch of each lane; false stops that lane (VariantRun::stopped_early).
  std::function<bool(std::size_t lane, const EpochRecord&)> on_epoch;
};

/// The loop's settings of one run of RunOptions (Pipeline::run, RunOptions::fast): one lane,
/// TrainingDiverged on a NaN loss, Progress's lines and bar, on_epoch without the lane.
inline EpochLoopOptions run_loop_options(const RunOptions& options) {
  EpochLoopOptions loop;
  loop.epochs = options.epochs;
  loop.record_losses = options.record_losses;
  loop.log = options.log;
  loop.progress_bar = options.progress_bar;
  loop.on_divergence = OnDivergence::Throw;
  if (options.on_epoch)
    loop.on_epoch = [on_epoch = options.on_epoch](std::size_t, const EpochRecord& r) { return on_epoch(r); };
  return loop;
}

namespace detail {
inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

/// run_variants' line for one lane and epoch.
inline void write_lane_line(std::ostream& out, std::size_t lane, const NormalizationValues& values,
                            const EpochRecord& r, int epochs) {
  out << "variant " << lane << " (" << values.to_string() << ") epoch " << r.epoch << "/" << epochs
      << "  train_loss " << r.train_loss << "  test_loss " << r.test_loss << "  accuracy " << r.accuracy << " ("
      << r.correct << "/" << r.total << ")  lr " << r.lr << "  " << r.seconds << " s\n";
}
}  // namespace detail

/**
 * Runs the epochs of `stepper` (see the top of this file for what happens per epoch, in order).
 *
 * @param runs    one per lane, with `result.normalization` set (the divergence message and the lane
 *                lines name it); each lane's history, first losses, final accuracy and seconds are
 *                filled in.
 * @param start   when the run began (RunResult::seconds counts from it).
 * @throws TrainingDiverged with OnDivergence::Throw, holding lane 0's result so far.
 */
template <class Stepper>
std::vector<VariantRun> run_epochs(Stepper& stepper, std::vector<VariantRun> runs, const EpochLoopOptions& options,
                                   std::chrono::steady_clock::time_point start) {
  static_assert(EpochStepper<Stepper>,
                "normlab::run_epochs: the stepper needs lanes(), lr(lane), train(epoch, epochs, record_losses, "
                "Progress&, active), test(active), step_scheduler(lane, record) and retire(lane) "
                "(train/epoch_loop.hpp)");
  const std::size_t lanes = stepper.lanes();
  if (runs.size() != lanes) throw std::invalid_argument("normlab::run_epochs: one VariantRun per lane");
  std::vector<bool> active(lanes, true);
  auto retire = [&](std::size_t k) {
    active[k] = false;
    stepper.retire(k);
    runs[k].result.seconds = detail::seconds_since(start);
  };
  // Where the training threads run, measured batch by batch (device/thread_placement.hpp): it never
  // changes the bits; between epochs, and when the loop ends, the threads have the process's cores.
  auto& placement = device::ThreadPlacement::for_this_thread();
  struct Release {
    device::ThreadPlacement& p;
    ~Release() { p.release(); }
  } release_placement{placement};
  Progress progress(options.log, options.progress_bar, &placement);

  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    interrupt::check();
    const auto epoch_start = std::chrono::steady_clock::now();
    std::vector<EpochRecord> records(lanes);
    for (std::size_t k = 0; k < lanes; ++k) {
      records[k].epoch = epoch;
      if (active[k]) records[k].lr = stepper.lr(k);
    }
    auto trained = stepper.train(epoch, options.epochs, epoch == 1 ? options.record_losses : 0, progress, active);
    placement.release();
    for (std::size_t k = 0; k < lanes; ++k) {
      if (!active[k]) continue;
      auto& r = records[k];
      auto& result = runs[k].result;
      if (epoch == 1) result.first_losses = std::move(trained[k].losses);
      r.train_loss = trained[k].mean_loss;
      if (std::isfinite(r.train_loss)) continue;
      const auto message = detail::diverged_message(epoch, r.train_loss, result.normalization, r.lr,
                                                    result.history.size());
      if (options.on_divergence == OnDivergence::Throw) {
        result.seconds = detail::seconds_since(start);
        throw TrainingDiverged(message, std::move(result));
      }
      runs[k].diverged = message;
      retire(k);
    }
    std::vector<TestStats> tested(lanes);
    if constexpr (tests_each_epoch<Stepper>()) tested = stepper.test(active);
    const double epoch_seconds = detail::seconds_since(epoch_start);
    bool any = false;
    for (std::size_t k = 0; k < lanes; ++k) {
      if (!active[k]) continue;
      auto& r = records[k];
      r.test_loss = tested[k].loss;
      r.correct = tested[k].correct;
      r.total = tested[k].total;
      r.accuracy = tested[k].accuracy();
      r.seconds = epoch_seconds;
      stepper.step_scheduler(k, r);
      if (options.lane_lines) {
        if (options.log) detail::write_lane_line(*options.log, k, runs[k].result.normalization, r, options.epochs);
      } else {
        progress.epoch_done(r, options.epochs);
      }
      auto& result = runs[k].result;
      result.history.push_back(r);
      result.accuracy = r.accuracy;
      result.correct = r.correct;
      result.total = r.total;
      result.seconds = detail::seconds_since(start);
      if (options.on_epoch && !options.on_epoch(k, r)) {
        runs[k].stopped_early = true;
        retire(k);
      }
      any = any || active[k];
    }
    if (!any) break;
  }
  for (std::size_t k = 0; k < lanes; ++k)
    if (active[k]) runs[k].result.seconds = detail::seconds_since(start);
  return runs;
}

}  // namespace normlab
