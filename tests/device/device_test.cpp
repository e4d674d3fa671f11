// normlab/device/device.hpp: device::parse (every accepted and refused spelling, the messages) and
// device::Named (the run-time choice). The CUDA counts are given, so these run on any machine.
#include <catch2/catch.hpp>

#include <normlab/device/device.hpp>

using normlab::device::parse;

TEST_CASE("device::parse accepts cpu, auto, cuda and cuda:N for the devices that are visible", "[device][parse]") {
  CHECK(parse("cpu", 0) == torch::Device(torch::kCPU));
  CHECK(parse("cpu", 2) == torch::Device(torch::kCPU));
  CHECK(parse("auto", 0) == torch::Device(torch::kCPU));
  CHECK(parse("auto", 1) == torch::Device(torch::kCUDA, 0));
  CHECK(parse("auto", 4) == torch::Device(torch::kCUDA, 0));
  CHECK(parse("cuda", 1) == torch::Device(torch::kCUDA, 0));
  CHECK(parse("cuda:0", 1) == torch::Device(torch::kCUDA, 0));
  CHECK(parse("cuda:1", 2) == torch::Device(torch::kCUDA, 1));
  CHECK(parse("cuda:10", 11) == torch::Device(torch::kCUDA, 10));
  CHECK(parse("cuda:1", 2).str() == "cuda:1");
}

TEST_CASE("device::parse refuses other spellings with one sentence naming them", "[device][parse]") {
  for (const std::string bad : {"gpu", "GPU", "CPU", "Cuda", "mps", "", " cpu", "cpu ", "cuda:", "cuda:-1", "cuda:+1",
                                "cuda:01", "cuda:1 ", "cuda: 1", "cuda:x", "cuda:0:0", "cuda0", "cuda:1.0",
                                "cuda:9999999999", "cpu:0"}) {
    INFO("'" << bad << "'");
    for (std::size_t visible : {0, 1, 16})
      REQUIRE_THROWS_MATCHES(parse(bad, visible), std::invalid_argument,
                             Catch::Message("normlab: unknown device '" + bad + "' (expected cpu, cuda, cuda:N or auto)"));
  }
}

TEST_CASE("device::parse refuses a CUDA device that is not visible, saying how many are", "[device][parse]") {
  const std::string none =
      " requested but this LibTorch has no CUDA or no GPU is visible (torch::cuda::device_count() is 0); use cpu or auto";
  REQUIRE_THROWS_MATCHES(parse("cuda", 0), std::invalid_argument, Catch::Message("normlab: cuda" + none));
  REQUIRE_THROWS_MATCHES(parse("cuda:0", 0), std::invalid_argument, Catch::Message("normlab: cuda:0" + none));
  REQUIRE_THROWS_MATCHES(parse("cuda:3", 0), std::invalid_argument, Catch::Message("normlab: cuda:3" + none));
  REQUIRE_THROWS_MATCHES(parse("cuda:3", 1), std::invalid_argument,
                         Catch::Message("normlab: cuda:3 requested but only 1 CUDA device is visible (cuda:0)"));
  REQUIRE_THROWS_MATCHES(parse("cuda:1", 1), std::invalid_argument,
                         Catch::Message("normlab: cuda:1 requested but only 1 CUDA device is visible (cuda:0)"));
  REQUIRE_THROWS_MATCHES(parse("cuda:2", 2), std::invalid_argument,
                         Catch::Message("normlab: cuda:2 requested but only 2 CUDA devices are visible (cuda:0 to cuda:1)"));
  REQUIRE_THROWS_MATCHES(parse("cuda:200", 8), std::invalid_argument,
                         Catch::Message("normlab: cuda:200 requested but only 8 CUDA devices are visible (cuda:0 to cuda:7)"));
}

TEST_CASE("device::check_available lets the CPU through and refuses invisible CUDA devices", "[device][parse]") {
  CHECK_NOTHROW(normlab::device::check_available(torch::Device(torch::kCPU), 0));
  CHECK_NOTHROW(normlab::device::check_available(torch::Device(torch::kCUDA, 1), 2));
  CHECK_NOTHROW(normlab::device::check_available(torch::Device(torch::kCUDA), 1));
  REQUIRE_THROWS_WITH(normlab::device::check_available(torch::Device(torch::kCUDA), 0),
                      Catch::StartsWith("normlab: cuda requested but this LibTorch has no CUDA"));
  REQUIRE_THROWS_WITH(normlab::device::check_available(torch::Device(torch::kCUDA, 2), 2),
                      "normlab: cuda:2 requested but only 2 CUDA devices are visible (cuda:0 to cuda:1)");
}

TEST_CASE("device::parse without a count uses the CUDA devices this process sees", "[device][parse]") {
  const auto visible = torch::cuda::device_count();
  CHECK(parse("auto") == parse("auto", visible));
  CHECK(parse("cpu") == torch::Device(torch::kCPU));
  if (visible == 0) REQUIRE_THROWS_AS(parse("cuda"), std::invalid_argument);
  else CHECK(parse("cuda") == torch::Device(torch::kCUDA, 0));
}

TEST_CASE("device::Named selects what use() was given, and device::Auto's choice before or after reset()",
          "[device][named]") {
  using normlab::device::Named;
  static_assert(normlab::policy::of_kind<Named, normlab::policy::Device>);
  Named::reset();
  CHECK(Named::select() == normlab::device::Auto::select());
  Named::use(torch::Device(torch::kCPU));
  CHECK(Named::select() == torch::Device(torch::kCPU));
  Named::use("cpu");
  CHECK(Named::select().str() == "cpu");
  // A device this process does not see is refused and the choice kept. (Index 100: no machine has it.)
  REQUIRE_THROWS_AS(Named::use(torch::Device(torch::kCUDA, 100)), std::invalid_argument);
  REQUIRE_THROWS_WITH(Named::use("gpu"), "normlab: unknown device 'gpu' (expected cpu, cuda, cuda:N or auto)");
  CHECK(Named::select() == torch::Device(torch::kCPU));
  if (torch::cuda::device_count() > 0) {
    Named::use(torch::Device(torch::kCUDA));  // no index: the first GPU
    CHECK(Named::select() == torch::Device(torch::kCUDA, 0));
  }
  Named::reset();
  CHECK(Named::select() == normlab::device::Auto::select());
}
