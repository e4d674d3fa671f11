#pragma once
// Where the intra-op OpenMP threads run while a net trains on the CPU, chosen by measurement.
//
// On a machine whose cores other processes also want, the kernel often gives each of a training
// run's threads a core shared with another busy process. Every OpenMP parallel region of a step
// then waits for whichever of its threads is descheduled, and a step takes several times its fair
// share (docs/performance.md, "A busy machine"). The same threads packed onto one core (the kernel
// then moves the other processes to the remaining ones) run at about the fair share instead. On a
// quiet machine packing is much slower. So a run measures both: a window of batches with the
// threads spread over the process's cores, one with them packed onto one core, keeps the faster
// for a while, and measures again.
//
// Placement decides which core runs a thread, never how the work is split among the threads, so a
// run computes the same bits whatever it chooses (the thread count, which would change them, is
// left alone: docs/parity.md).
//
// NORMLAB_THREAD_PLACEMENT chooses: adaptive (the default), kernel (never pin: the kernel places
// the threads, as before), spread or packed (fixed, for benchmarks and tests). Nothing is pinned
// when the user placed the threads (OMP_PROC_BIND, OMP_PLACES, GOMP_CPU_AFFINITY), with
// NORMLAB_KEEP_OPENMP_DEFAULTS=1, with one thread or one allowed core, or where the OpenMP runtime
// is not libgomp's interface (looked up at run time: LibTorch links it, normlab does not).

#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#include "normlab/device/openmp.hpp"

namespace normlab::device {

namespace detail {

/// libgomp's entry points, found in the running process (nullptr members where absent).
struct OpenMpRuntime {
  void (*parallel)(void (*)(void*), void*, unsigned, unsigned) = nullptr;  // GOMP_parallel
  int (*max_threads)() = nullptr;                                          // omp_get_max_threads
  bool usable() const { return parallel && max_threads; }
};

inline const OpenMpRuntime& openmp_runtime() {
  static const OpenMpRuntime runtime = [] {
    OpenMpRuntime r;
    r.parallel = reinterpret_cast<decltype(r.parallel)>(dlsym(RTLD_DEFAULT, "GOMP_parallel"));
    r.max_threads = reinterpret_cast<decltype(r.max_threads)>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
    return r;
  }();
  return runtime;
}

/// Sets the CPU affinity of every thread of the calling thread's OpenMP team (itself included) to
/// `cpus`. Returns false where libgomp's interface is not there.
inline bool set_team_affinity(const cpu_set_t& cpus) {
  const auto& omp = openmp_runtime();
  if (!omp.usable()) return false;
  const int team = omp.max_threads();
  omp.parallel(
      +[](void* set) { pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), static_cast<const cpu_set_t*>(set)); },
      const_cast<cpu_set_t*>(&cpus), static_cast<unsigned>(std::max(team, 1)), 0);
  return true;
}

inline bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v;
}

}  // namespace detail

/// What ThreadPlacement may do (NORMLAB_THREAD_PLACEMENT).
enum class PlacementPolicy { Adaptive, Kernel, Spread, Packed };

/// NORMLAB_THREAD_PLACEMENT, and Kernel wherever the threads are not normlab's to place.
inline PlacementPolicy placement_policy_from_environment() {
  if (detail::env_set("OMP_PROC_BIND") || detail::env_set("OMP_PLACES") || detail::env_set("GOMP_CPU_AFFINITY"))
    return PlacementPolicy::Kernel;
  if (keeps_openmp_defaults()) return PlacementPolicy::Kernel;
  const char* v = std::getenv("NORMLAB_THREAD_PLACEMENT");
  const std::string s = v ? v : "";
  if (s == "kernel") return PlacementPolicy::Kernel;
  if (s == "spread") return PlacementPolicy::Spread;
  if (s == "packed") return PlacementPolicy::Packed;
  return PlacementPolicy::Adaptive;
}

/**
 * The measuring state machine: told after each training batch, it says where the threads should
 * run next. Separate from the pinning (ThreadPlacement) so that its decisions can be tested with a
 * made-up clock.
 *
 * A calibration window sizes the windows (about `window_seconds` each), then: a window spread, a
 * window packed (ended after `min_window` batches once it is clearly slower); packed is kept when
 * its batches took at most `packed_gain` of spread's time; the choice then runs for `hold` windows (doubled each time the same choice is made again, up to
 * `max_hold`), and the two are measured again.
 */
class PlacementChooser {
 public:
  enum class Placement { Spread, Packed };
  struct Settings {
    double window_seconds = 0.3;
    int min_window = 4, max_window = 512, calibration = 4;
    double packed_gain = 0.85;
    int hold = 8, max_hold = 64;
  };
  PlacementChooser() = default;
  explicit PlacementChooser(Settings s) : s_(s) {}

  /// A batch ended at `now` (seconds). Returns the placement for the next batches.
  Placement batch_done(double now) {
    if (!started_) {
      started_ = true, window_start_ = now, batches_ = 0;
      return current_;
    }
    ++batches_;
    // A packed window that is already clearly slower ends early: on a quiet machine packing costs
    // much of the speed, and this keeps the price of asking small.
    const bool packed_loses = phase_ == Phase::MeasurePacked && batches_ >= s_.min_window &&
                              (now - window_start_) / batches_ > spread_ / s_.packed_gain;
    if (batches_ < window_batches() && !packed_loses) return current_;
    const double per_batch = (now - window_start_) / batches_;
    window_start_ = now, batches_ = 0;
    switch (phase_) {
      case Phase::Calibrate:
        window_ = std::clamp(static_cast<int>(s_.window_seconds / std::max(per_batch, 1e-9)), s_.min_window, s_.max_window);
        phase_ = Phase::MeasureSpread, current_ = Placement::Spread;
        break;
      case Phase::MeasureSpread:
        spread_ = per_batch;
        phase_ = Phase::MeasurePacked, current_ = Placement::Packed;
        break;
      case Phase::MeasurePacked: {
        packed_ = per_batch;
        const Placement chosen = packed_ <= s_.packed_gain * spread_ ? Placement::Packed : Placement::Spread;
        hold_ = (decisions_ > 0 && chosen == last_choice_) ? std::min(hold_ * 2, s_.max_hold) : s_.hold;
        last_choice_ = chosen, ++decisions_;
        phase_ = Phase::Hold, current_ = chosen, held_ = 0;
        break;
      }
      case Phase::Hold:
        if (++held_ >= hold_) phase_ = Phase::MeasureSpread, current_ = Placement::Spread;
        break;
    }
    return current_;
  }
  /// The window was cut (an epoch ended: its test and set-up are not training batches): the next
  /// batch_done starts a new one in the same phase.
  void interrupt() { started_ = false; }

  Placement current() const { return current_; }
  int decisions() const { return decisions_; }
  double spread_seconds_per_batch() const { return spread_; }
  double packed_seconds_per_batch() const { return packed_; }

 private:
  enum class Phase { Calibrate, MeasureSpread, MeasurePacked, Hold };
  int window_batches() const { return phase_ == Phase::Calibrate ? s_.calibration : window_; }
  Settings s_;
  Phase phase_ = Phase::Calibrate;
  Placement current_ = Placement::Spread, last_choice_ = Placement::Spread;
  bool started_ = false;
  double window_start_ = 0, spread_ = 0, packed_ = 0;
  int batches_ = 0, window_ = 0, hold_ = 0, held_ = 0, decisions_ = 0;
};

/**
 * The placement of the calling thread's OpenMP team while it trains: the epoch loop calls
 * batch_done() after each training batch and release() when an epoch's training ends (the test,
 * and any thread the program starts in between, then see the process's own cores again).
 * One per thread (for_this_thread): libgomp keeps one team per thread that starts parallel work.
 */
class ThreadPlacement {
 public:
  using Placement = PlacementChooser::Placement;

  static ThreadPlacement& for_this_thread() {
    thread_local ThreadPlacement placement(placement_policy_from_environment());
    return placement;
  }

  explicit ThreadPlacement(PlacementPolicy policy) : policy_(policy) {
    if (sched_getaffinity(0, sizeof allowed_, &allowed_) != 0) CPU_ZERO(&allowed_);
    if (!pinnable()) policy_ = PlacementPolicy::Kernel;
  }
  /// Two or more allowed cores and libgomp's interface: otherwise the policy is always Kernel.
  bool pinnable() const { return CPU_COUNT(&allowed_) >= 2 && detail::openmp_runtime().usable(); }
  ThreadPlacement(const ThreadPlacement&) = delete;
  ThreadPlacement& operator=(const ThreadPlacement&) = delete;

  PlacementPolicy policy() const { return policy_; }
  /// Another policy from the next batch on (tests and benchmarks; the environment sets the default).
  /// Kept at Kernel where nothing can be pinned.
  void set_policy(PlacementPolicy policy) {
    release();
    if (pinnable()) policy_ = policy;
    chooser_ = PlacementChooser();
  }
  const PlacementChooser& chooser() const { return chooser_; }
  /// Where the team runs now: Spread is the process's own cores (as under PlacementPolicy::Kernel).
  Placement placement() const { return applied_; }

  void batch_done() {
    if (policy_ == PlacementPolicy::Kernel || detail::openmp_runtime().max_threads() < 2) return;
    Placement next = policy_ == PlacementPolicy::Spread   ? Placement::Spread
                     : policy_ == PlacementPolicy::Packed ? Placement::Packed
                                                          : chooser_.batch_done(now());
    if (next != applied_) apply(next);
  }

  /// Back to the process's cores until the next batch_done (the choice is kept).
  void release() {
    chooser_.interrupt();
    if (applied_ == Placement::Packed) apply(Placement::Spread);
  }

 private:
  static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  void apply(Placement p) {
    cpu_set_t target = allowed_;
    if (p == Placement::Packed) {
      const int here = sched_getcpu();
      if (here < 0 || !CPU_ISSET(here, &allowed_)) return;
      CPU_ZERO(&target);
      CPU_SET(here, &target);
    }
    if (detail::set_team_affinity(target)) applied_ = p;
  }

  PlacementPolicy policy_;
  cpu_set_t allowed_;
  PlacementChooser chooser_;
  Placement applied_ = Placement::Spread;
};

}  // namespace normlab::device
