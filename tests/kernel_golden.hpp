#pragma once
// Golden files whose values depend on the CPU kernels (tests tagged [blas]): which file applies to
// this process, and a check that the process computes with the kernels that file was made with.
//
// ctest runs each [blas] test twice (tests/CMakeLists.txt): against the committed goldens with the
// kernels they record pinned (OPENBLAS_CORETYPE, ATEN_CPU_CAPABILITY), and against live goldens
// that the Python twin has just written on this machine, with its own kernels
// ($NORMLAB_LIVE_GOLDEN_DIR/<core>-<capability>/, made by scripts/golden/notebook_golden.py).
// A process whose kernels differ from its golden's fails with what to do; it never passes unchecked.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <normlab/device/cpu_kernels.hpp>
#include <string>

#include "golden.hpp"

namespace normlab::testing {

/// The path of golden `name` for this process (live when $NORMLAB_LIVE_GOLDEN_DIR is set, else
/// committed), after checking that its `# kernels:` line names this process's kernels with `threads`
/// threads. Prints what is checked against what.
inline std::string kernel_golden(const std::string& name, int threads) {
  device::set_threads(threads);
  const auto process = device::cpu_kernels();
  const char* live_root = std::getenv("NORMLAB_LIVE_GOLDEN_DIR");
  const bool live = live_root && *live_root;
  const std::string path = live ? std::string(live_root) + "/" + process.openblas_core + "-" +
                                      process.aten_capability + "/" + name
                                : golden_path(name);
  INFO("golden " << path);
  REQUIRE(std::filesystem::exists(path));
  const auto made = golden_header_fields(path, "kernels");
  REQUIRE(made.count("openblas_core"));
  REQUIRE(made.count("aten_capability"));
  REQUIRE(made.count("threads"));
  const std::string made_with = "OpenBLAS " + made.at("openblas_core") + ", ATen " + made.at("aten_capability") +
                                ", " + made.at("threads") + " thread(s)";
  const std::string running = "OpenBLAS " + process.openblas_core + ", ATen " + process.aten_capability + ", " +
                              std::to_string(process.threads) + " thread(s)";
  INFO("made with " << made_with << "; this process runs " << running << ". Float sums differ in their last "
       "bits between kernels: run it with OPENBLAS_CORETYPE=" << made.at("openblas_core")
       << " ATEN_CPU_CAPABILITY=" << device::aten_capability_setting(made.at("aten_capability"))
       << " (as ctest's committed-goldens entries do), or point "
          "NORMLAB_LIVE_GOLDEN_DIR at goldens made on this machine (docs/parity.md)");
  REQUIRE(made.at("openblas_core") == process.openblas_core);
  REQUIRE(made.at("aten_capability") == process.aten_capability);
  REQUIRE(made.at("threads") == std::to_string(process.threads));
  std::cout << "parity: " << name << " (" << (live ? "live, made on this machine" : "committed") << ", made with "
            << made_with << ") in a process running " << running << "\n";
  return path;
}

}  // namespace normlab::testing
