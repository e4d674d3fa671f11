#pragma once
// How LibTorch's and OpenBLAS's OpenMP threads wait, and how many there are by default.
//
// With libgomp's default wait policy an idle OpenMP thread spins before it sleeps. On a machine
// whose cores other processes also want, the spinning threads take those cores from them and from
// the program's own next step, and a training run gets several times slower
// (docs/performance.md, "A busy machine"). OMP_WAIT_POLICY=PASSIVE makes idle threads sleep at once.
// libgomp reads the variable once, when it is loaded, before main() starts, so a program cannot
// change it for itself later: it has to start again with the variable set.

#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

namespace normlab::device {

/// NORMLAB_KEEP_OPENMP_DEFAULTS is set and not 0: leave libgomp's wait policy and thread placement
/// as they are (for comparisons).
inline bool keeps_openmp_defaults() {
  const char* keep = std::getenv("NORMLAB_KEEP_OPENMP_DEFAULTS");
  return keep && *keep && *keep != '0';
}

/// Call first thing in main(), before any other work: when OMP_WAIT_POLICY is unset, sets it to
/// PASSIVE and starts this program again (/proc/self/exe, the same arguments and otherwise the same
/// environment); it returns at once when the variable is set, by the user or by that restart. Set
/// OMP_WAIT_POLICY yourself to choose another policy (ACTIVE spins, which wins on a machine that is
/// yours alone), or NORMLAB_KEEP_OPENMP_DEFAULTS=1 to keep libgomp's default. Returns false, and
/// leaves the default in place, only where the restart itself fails (e.g. no /proc).
inline bool prefer_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY")) return true;
  if (keeps_openmp_defaults()) return true;
  if (!argv || !argv[0]) return false;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);
  unsetenv("OMP_WAIT_POLICY");  // the restart failed: children should not believe it took effect
  return false;
}

/// The default intra-op thread count of normlab's programs: the cores this process may run on
/// (its CPU affinity, so `taskset` and container limits count), at least 1.
inline int default_threads() {
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int allowed = CPU_COUNT(&set);
    if (allowed > 0) return allowed;
  }
#endif
  if (online > 0) return static_cast<int>(online);
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

}  // namespace normlab::device
