// IDX files from elsewhere (issue 14): headers whose sizes overflow or promise more than the file
// holds, and MNIST folders whose images are not 28x28 or whose labels are not 0..9.
#include <catch2/catch.hpp>
#include <normlab/data/batches.hpp>
#include <normlab/data/idx.hpp>
#include <normlab/data/mnist.hpp>

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>
#include "../temp_dir.hpp"

using namespace normlab;
namespace fs = std::filesystem;

namespace {

/// An IDX header (unsigned bytes, these dimensions) followed by `data`.
std::string idx_bytes(const std::vector<uint32_t>& dims, const std::string& data) {
  std::string s = {0, 0, 8, static_cast<char>(dims.size())};
  for (auto d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s += static_cast<char>((d >> shift) & 0xff);
  return s + data;
}

void write_raw(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void write_gz(const fs::path& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

}  // namespace

TEST_CASE("an IDX header whose dimensions overflow int64 is refused before anything is allocated",
          "[data][idx][hostile]") {
  const testing::TempDir tmp("normlab_idx_hostile");
  const auto path = tmp.path / "overflow-idx4-ubyte";
  // The fuzzer's find: 2095068203492 * 370546177 wraps; here four dimensions near 2^32.
  write_raw(path, idx_bytes({0xfffffff0u, 0xfffffff0u, 0xfffffff0u, 3}, "abc"));
  REQUIRE_THROWS_WITH(data::read_idx(path), Catch::Contains("overflow-idx4-ubyte' is truncated or corrupt") &&
                                                Catch::Contains("4294967280 x 4294967280 x 4294967280 x 3 bytes (more than 2^63)"));
  // No overflow, but (2^32 - 1) x 65535 x 255 bytes promised by a 19-byte file.
  write_raw(path, idx_bytes({0xffffffffu, 0xffffu, 255}, "abc"));
  REQUIRE_THROWS_WITH(data::read_idx(path), Catch::Contains("more than its 19 bytes can hold"));
}

TEST_CASE("an IDX file promising more than its bytes can hold is refused from its header", "[data][idx][hostile]") {
  const testing::TempDir tmp("normlab_idx_hostile");
  // 60000 x 28 x 28 in a raw file of 16 + 10 bytes.
  const auto raw = tmp.path / "short-images-idx3-ubyte";
  write_raw(raw, idx_bytes({60000, 28, 28}, std::string(10, '\0')));
  REQUIRE_THROWS_WITH(data::read_idx(raw), Catch::Contains("short-images-idx3-ubyte' is truncated or corrupt: its header "
                                                           "announces 60000 x 28 x 28 = 47040000 bytes of data, more "
                                                           "than its 26 bytes can hold"));
  // gzip: up to 1032 bytes per byte of file (deflate's best ratio) is believed, then read.
  const auto gz = tmp.path / "short-images-idx3-ubyte.gz";
  write_gz(gz, idx_bytes({60000, 28, 28}, std::string(10, '\0')));
  REQUIRE_THROWS_WITH(data::read_idx(gz), Catch::Contains("of gzip data can hold"));
  write_gz(gz, idx_bytes({2, 28, 28}, std::string(100, '\0')));  // believable, then truncated
  REQUIRE_THROWS_WITH(data::read_idx(gz), Catch::Contains("is truncated: its header announces 1568 bytes of data, the file holds 100"));
}

TEST_CASE("MNIST files with images other than 28x28 or labels past 9 are refused by name", "[data][idx][hostile]") {
  const testing::TempDir tmp("normlab_idx_hostile");
  const auto raw = tmp.path / "MNIST" / "raw";
  fs::create_directories(raw);
  auto write_set = [&](const std::string& prefix, uint32_t side, char label) {
    write_raw(raw / (prefix + "-images-idx3-ubyte"), idx_bytes({2, side, side}, std::string(2 * side * side, '\0')));
    write_raw(raw / (prefix + "-labels-idx1-ubyte"), idx_bytes({2}, std::string{1, label}));
  };
  write_set("train", 27, 3);
  write_set("t10k", 28, 3);
  REQUIRE_THROWS_WITH(data::Mnist::load(tmp.path),
                      Catch::Contains("train-images-idx3-ubyte' holds 27x27 images; MNIST-like sets are 28x28"));
  write_set("train", 28, 10);
  REQUIRE_THROWS_WITH(data::Mnist::load(tmp.path),
                      Catch::Contains("train-labels-idx1-ubyte' holds the label 10; MNIST-like sets have the 10 classes 0..9"));
  write_set("train", 28, 9);
  const auto set = data::Mnist::load(tmp.path);
  REQUIRE(set.train.size() == 2);
  REQUIRE(set.train.labels.max().item<int64_t>() == 9);
}

TEST_CASE("batch_ranges refuses a batch size below 1 instead of dividing by zero", "[data][batches][hostile]") {
  REQUIRE_THROWS_WITH(data::batch_ranges(10, 0), Catch::Contains("batch size 0 over 10 samples"));
  REQUIRE_THROWS_AS(data::batch_ranges(10, -1), std::invalid_argument);
  int64_t total = 0, count = 0;
  for (auto r : data::batch_ranges(10, 4)) {
    total += r.size;
    ++count;
  }
  REQUIRE(count == 3);
  REQUIRE(total == 10);
}
