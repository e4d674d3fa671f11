// normlab/device/thread_placement.hpp: the chooser's decisions (a made-up clock), the pinning of
// the OpenMP team, and that where the threads run never changes a run's bits.
#include <catch2/catch.hpp>

#include <sched.h>

#include <mutex>
#include <normlab/normlab.hpp>
#include <set>
#include <vector>

#include "../fixture_run.hpp"

using namespace normlab;
using device::PlacementChooser;
using device::PlacementPolicy;
using device::ThreadPlacement;
using Placement = PlacementChooser::Placement;

namespace {

/// Feeds `batches` batches of `seconds` each from `clock` on; returns the placement after the last.
Placement feed(PlacementChooser& c, double& clock, int batches, double seconds) {
  Placement p = c.current();
  for (int i = 0; i < batches; ++i) p = c.batch_done(clock += seconds);
  return p;
}

/// Settings small enough to count by hand: windows of 4 batches (0.4 s at 0.1 s a batch).
PlacementChooser::Settings small() {
  PlacementChooser::Settings s;
  s.window_seconds = 0.4, s.min_window = 2, s.max_window = 64, s.calibration = 2, s.hold = 2, s.max_hold = 8;
  return s;
}

/// A chooser started at `clock` and calibrated at 0.1 s a batch (windows of 4): its spread window is next.
PlacementChooser calibrated(double& clock) {
  PlacementChooser c(small());
  c.batch_done(clock);  // the first batch starts the clock
  feed(c, clock, 2, 0.1);
  return c;
}

/// Each OpenMP team thread's allowed CPUs, as the team of the calling thread sees them.
std::vector<cpu_set_t> team_affinities() {
  struct Collected {
    std::mutex m;
    std::vector<cpu_set_t> sets;
  } collected;
  const auto& omp = device::detail::openmp_runtime();
  omp.parallel(
      +[](void* p) {
        auto& c = *static_cast<Collected*>(p);
        cpu_set_t set;
        CPU_ZERO(&set);
        sched_getaffinity(0, sizeof set, &set);
        std::lock_guard<std::mutex> lock(c.m);
        c.sets.push_back(set);
      },
      &collected, static_cast<unsigned>(omp.max_threads()), 0);
  return collected.sets;
}

cpu_set_t process_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  sched_getaffinity(0, sizeof set, &set);
  return set;
}

/// Pinning needs two allowed cores and libgomp's interface; says so where they are missing.
bool can_pin() {
  const cpu_set_t all = process_cpus();
  if (CPU_COUNT(&all) >= 2 && device::detail::openmp_runtime().usable()) return true;
  WARN("skipped: needs two allowed cores and libgomp (this process has " << CPU_COUNT(&all) << ")");
  return false;
}

}  // namespace

TEST_CASE("the chooser keeps packed threads when their batches are clearly faster", "[device][placement]") {
  double t = 0;
  PlacementChooser c = calibrated(t);
  CHECK(c.current() == Placement::Spread);
  CHECK(feed(c, t, 4, 0.1) == Placement::Packed);  // spread measured, packed next
  CHECK(c.spread_seconds_per_batch() == Approx(0.1));
  CHECK(feed(c, t, 4, 0.05) == Placement::Packed);  // packed at half the time: kept
  CHECK(c.decisions() == 1);
  CHECK(c.packed_seconds_per_batch() == Approx(0.05));
  // Held for 2 windows (8 batches), then both are measured again.
  CHECK(feed(c, t, 7, 0.05) == Placement::Packed);
  CHECK(feed(c, t, 1, 0.05) == Placement::Spread);
  CHECK(feed(c, t, 4, 0.1) == Placement::Packed);
  CHECK(feed(c, t, 4, 0.05) == Placement::Packed);
  CHECK(c.decisions() == 2);
  // The same choice again: held twice as long (16 batches) before the next measurement.
  CHECK(feed(c, t, 15, 0.05) == Placement::Packed);
  CHECK(feed(c, t, 1, 0.05) == Placement::Spread);
}

TEST_CASE("the chooser ends a slower packed window early and stays spread", "[device][placement]") {
  double t = 0;
  PlacementChooser c = calibrated(t);
  CHECK(feed(c, t, 4, 0.1) == Placement::Packed);
  // Packed at twice the time: after min_window (2) batches it is already clearly slower.
  CHECK(feed(c, t, 1, 0.2) == Placement::Packed);
  CHECK(feed(c, t, 1, 0.2) == Placement::Spread);
  CHECK(c.decisions() == 1);
  CHECK(c.packed_seconds_per_batch() == Approx(0.2));
  // A small gain is not enough to pin: packed must take at most 0.85 of spread's time.
  double u = 0;
  PlacementChooser d = calibrated(u);
  feed(d, u, 4, 0.1);
  CHECK(feed(d, u, 4, 0.09) == Placement::Spread);
}

TEST_CASE("an interrupted window restarts its clock: time between epochs is not a batch", "[device][placement]") {
  double t = 0;
  PlacementChooser c = calibrated(t);
  feed(c, t, 2, 0.1);  // half a spread window
  c.interrupt();
  t += 100;  // an epoch's test
  CHECK(c.batch_done(t) == Placement::Spread);  // restarts the window
  CHECK(feed(c, t, 4, 0.1) == Placement::Packed);
  CHECK(c.spread_seconds_per_batch() == Approx(0.1));
}

TEST_CASE("packed pins the whole OpenMP team onto one core, release gives the process's cores back",
          "[device][placement]") {
  if (!can_pin()) return;
  const cpu_set_t all = process_cpus();
  const int threads_before = at::get_num_threads();
  at::set_num_threads(2);
  {
    ThreadPlacement placement(PlacementPolicy::Packed);
    REQUIRE(placement.policy() == PlacementPolicy::Packed);
    placement.batch_done();
    CHECK(placement.placement() == Placement::Packed);
    const auto packed = team_affinities();
    REQUIRE(packed.size() == 2);
    std::set<int> cpus;
    for (const auto& s : packed) {
      CHECK(CPU_COUNT(&s) == 1);
      for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &s)) cpus.insert(c);
    }
    CHECK(cpus.size() == 1);  // the same core for both
    placement.release();
    CHECK(placement.placement() == Placement::Spread);
    for (const auto& s : team_affinities()) CHECK(CPU_EQUAL(&s, &all));
    // Spread leaves the team on the process's cores.
    placement.set_policy(PlacementPolicy::Spread);
    placement.batch_done();
    for (const auto& s : team_affinities()) CHECK(CPU_EQUAL(&s, &all));
    placement.release();
  }
  at::set_num_threads(threads_before);
}

TEST_CASE("the environment chooses the policy, and the user's own OpenMP placement wins", "[device][placement]") {
  const auto with = [](std::vector<std::pair<const char*, const char*>> vars) {
    for (const char* name : {"OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY", "NORMLAB_KEEP_OPENMP_DEFAULTS",
                             "NORMLAB_THREAD_PLACEMENT"})
      unsetenv(name);
    for (auto [name, value] : vars) setenv(name, value, 1);
    auto policy = device::placement_policy_from_environment();
    for (auto [name, value] : vars) unsetenv(name);
    return policy;
  };
  // The test program inherits none of these from ctest; saved anyway for a user's shell.
  std::vector<std::pair<std::string, std::string>> saved;
  for (const char* name : {"OMP_PROC_BIND", "OMP_PLACES", "GOMP_CPU_AFFINITY", "NORMLAB_KEEP_OPENMP_DEFAULTS",
                           "NORMLAB_THREAD_PLACEMENT"})
    if (const char* v = std::getenv(name)) saved.emplace_back(name, v);
  CHECK(with({}) == PlacementPolicy::Adaptive);
  CHECK(with({{"NORMLAB_THREAD_PLACEMENT", "kernel"}}) == PlacementPolicy::Kernel);
  CHECK(with({{"NORMLAB_THREAD_PLACEMENT", "spread"}}) == PlacementPolicy::Spread);
  CHECK(with({{"NORMLAB_THREAD_PLACEMENT", "packed"}}) == PlacementPolicy::Packed);
  CHECK(with({{"NORMLAB_THREAD_PLACEMENT", "packed"}, {"OMP_PROC_BIND", "true"}}) == PlacementPolicy::Kernel);
  CHECK(with({{"OMP_PLACES", "cores"}}) == PlacementPolicy::Kernel);
  CHECK(with({{"GOMP_CPU_AFFINITY", "0-1"}}) == PlacementPolicy::Kernel);
  CHECK(with({{"NORMLAB_KEEP_OPENMP_DEFAULTS", "1"}}) == PlacementPolicy::Kernel);
  CHECK(with({{"NORMLAB_KEEP_OPENMP_DEFAULTS", "0"}}) == PlacementPolicy::Adaptive);
  for (auto& [name, value] : saved) setenv(name.c_str(), value.c_str(), 1);
}

TEST_CASE("a run computes the same bits with its threads packed, spread or placed by the kernel",
          "[device][placement][pipeline]") {
  if (!can_pin()) return;
  using Protocol = Pipeline<Normalize<0.1307, 0.3081>, LeNet, device::Cpu>;
  auto options = testing::fixture_run(2, 640, 300);
  options.threads = 2;  // placement matters only with a team
  options.record_losses = 10;
  auto& placement = ThreadPlacement::for_this_thread();
  const auto policy_before = placement.policy();
  std::vector<RunResult> results;
  for (auto policy : {PlacementPolicy::Kernel, PlacementPolicy::Packed, PlacementPolicy::Spread}) {
    placement.set_policy(policy);
    results.push_back(Protocol{}.run(options));
  }
  placement.set_policy(policy_before);
  for (std::size_t i = 1; i < results.size(); ++i) {
    INFO("policy " << i);
    CHECK(results[i].first_losses == results[0].first_losses);
    CHECK(results[i].correct == results[0].correct);
    REQUIRE(results[i].history.size() == results[0].history.size());
    for (std::size_t e = 0; e < results[0].history.size(); ++e) {
      CHECK(results[i].history[e].train_loss == results[0].history[e].train_loss);
      CHECK(results[i].history[e].test_loss == results[0].history[e].test_loss);
    }
  }
  CHECK(results[0].first_losses.size() == 10);
  CHECK(results[0].correct > 30);  // it learned something: 300 test images, 10 classes
}
