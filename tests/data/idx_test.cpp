#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <normlab/data/idx.hpp>
#include <normlab/data/mnist.hpp>

#include "../golden.hpp"

using namespace normlab;
namespace fs = std::filesystem;

namespace {
std::string corrupt(const std::string& name) { return testing::test_data_dir() + "/corrupt/" + name; }
}  // namespace

TEST_CASE("the MNIST fixture reads in torchvision's layout", "[data]") {
  const auto set = data::Mnist::load(testing::test_data_dir());
  REQUIRE(set.train.images.sizes() == torch::IntArrayRef{2000, 1, 28, 28});
  REQUIRE(set.train.images.dtype() == torch::kUInt8);
  REQUIRE(set.train.labels.sizes() == torch::IntArrayRef{2000});
  REQUIRE(set.train.labels.dtype() == torch::kInt64);
  REQUIRE(set.test.size() == 1000);
  REQUIRE(set.train.labels.min().item<int64_t>() == 0);
  REQUIRE(set.train.labels.max().item<int64_t>() == 9);
  // Real digits: ink covers a minority of pixels and reaches full intensity.
  const double ink = set.train.images.gt(0).to(torch::kFloat64).mean().item<double>();
  REQUIRE(ink > 0.1);
  REQUIRE(ink < 0.3);
  REQUIRE(set.train.images.max().item<int>() == 255);
  REQUIRE(set.train.first(64).size() == 64);
  REQUIRE(set.train.first(0).size() == 2000);
}

TEST_CASE("raw and gzip-compressed IDX files read the same", "[data]") {
  const fs::path gz = testing::test_data_dir() + "/MNIST/raw/t10k-labels-idx1-ubyte.gz";
  const auto from_gz = data::read_idx(gz);
  const fs::path raw = fs::temp_directory_path() / "normlab-t10k-labels-idx1-ubyte";
  {
    std::ofstream out(raw, std::ios::binary);
    const unsigned char header[] = {0, 0, 8, 1, 0, 0, 0x03, 0xe8};
    out.write(reinterpret_cast<const char*>(header), sizeof header);
    out.write(reinterpret_cast<const char*>(from_gz.data_ptr<uint8_t>()), from_gz.numel());
  }
  REQUIRE(torch::equal(data::read_idx(raw), from_gz));
  fs::remove(raw);
}

TEST_CASE("bad data files get errors that name the file and the fault", "[data]") {
  REQUIRE_THROWS_WITH(data::read_idx(corrupt("bad-magic-images-idx3-ubyte.gz"), 3),
                      Catch::Contains("bad-magic-images-idx3-ubyte.gz' has the wrong magic number 0x00000804 "
                                      "(expected 0x00000803, an images file)"));
  REQUIRE_THROWS_WITH(data::read_idx(corrupt("bad-magic-labels-idx1-ubyte.gz"), 1),
                      Catch::Contains("wrong magic number 0x00000803 (expected 0x00000801, a labels file)"));
  REQUIRE_THROWS_WITH(data::read_idx(corrupt("truncated-labels-idx1-ubyte.gz")),
                      Catch::Contains("truncated-labels-idx1-ubyte.gz' is truncated"));
  REQUIRE_THROWS_WITH(data::read_idx(corrupt("truncated-images-idx3-ubyte.gz")),
                      Catch::Contains("truncated-images-idx3-ubyte.gz' is truncated"));
  REQUIRE_THROWS_WITH(data::read_idx(corrupt("truncated-header-images-idx3-ubyte.gz")),
                      Catch::Contains("truncated-header-images-idx3-ubyte.gz"));
  REQUIRE_THROWS_WITH(data::read_idx(corrupt("truncated-gzip-images-idx3-ubyte.gz")),
                      Catch::Contains("truncated-gzip-images-idx3-ubyte.gz': its gzip data is corrupt or ends early"));
  REQUIRE_THROWS_WITH(data::read_idx(corrupt("no-such-file")),
                      Catch::Contains("no-such-file' does not exist"));
  REQUIRE_THROWS_WITH(data::read_idx_pair(corrupt("count-mismatch-images-idx3-ubyte.gz"),
                                          corrupt("count-mismatch-labels-idx1-ubyte.gz")),
                      Catch::Contains("images but") && Catch::Contains("labels"));
}

TEST_CASE("a wrong data path says where it looked", "[data]") {
  REQUIRE_THROWS_WITH(data::Mnist::load("/nonexistent/data"),
                      Catch::Contains("data directory '/nonexistent/data' does not exist"));
  REQUIRE_THROWS_WITH(data::FashionMnist::load(testing::test_data_dir()),
                      Catch::Contains("no FashionMNIST file 'train-images-idx3-ubyte[.gz]'") &&
                          Catch::Contains("FashionMNIST/raw/train-images-idx3-ubyte.gz"));
  REQUIRE_THROWS_WITH(data::load_by_name("cifar", testing::test_data_dir()),
                      Catch::Contains("unknown dataset 'cifar'"));
}
