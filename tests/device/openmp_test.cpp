// normlab/device/openmp.hpp: the default thread count. (prefer_passive_openmp restarts the
// process, so ctest example.openmp_passive_by_default checks it through seed_mnist.)
#include <catch2/catch.hpp>

#include <sched.h>
#include <unistd.h>

#include <normlab/device/openmp.hpp>

TEST_CASE("default_threads is the number of cores this process may run on", "[device][openmp]") {
  cpu_set_t set;
  REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  CHECK(normlab::device::default_threads() == CPU_COUNT(&set));
  CHECK(normlab::device::default_threads() >= 1);
  CHECK(normlab::device::default_threads() <= sysconf(_SC_NPROCESSORS_ONLN));
}

TEST_CASE("prefer_passive_openmp returns at once when the policy is already chosen", "[device][openmp]") {
  const char* before = std::getenv("OMP_WAIT_POLICY");
  const std::string saved = before ? before : "";
  setenv("OMP_WAIT_POLICY", "ACTIVE", 1);
  char name[] = "never-run";
  char* argv[] = {name, nullptr};
  CHECK(normlab::device::prefer_passive_openmp(argv));  // no restart: we are still here
  CHECK(std::string(std::getenv("OMP_WAIT_POLICY")) == "ACTIVE");
  if (before) setenv("OMP_WAIT_POLICY", saved.c_str(), 1);
  else unsetenv("OMP_WAIT_POLICY");
}
