// Hostile state_dict files (issue 14): views outside their storage, storages bigger than their
// archive, sizes that do not fit the module (deep nests and cycles, which only the unpickler sees,
// are in pickle_test.cpp). Each file is crafted here, byte by byte, with the same Pickler and zip
// writer that save_state_dict uses, so the test shows exactly what the file says.
#include <catch2/catch.hpp>
#include <normlab/models/state_dict.hpp>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <unistd.h>
#include "../temp_dir.hpp"

using namespace normlab;
using normlab::detail::pickle::Pickler;
namespace fs = std::filesystem;

namespace {

/// A torch.save archive holding data.pkl and data/0 (storage_bytes bytes of zeros).
void write_archive(const std::string& path, const std::string& pkl, std::size_t storage_bytes) {
  caffe2::serialize::PyTorchStreamWriter zip(path);
  zip.writeRecord("data.pkl", pkl.data(), pkl.size());
  zip.writeRecord("byteorder", "little", 6);
  const std::string zeros(storage_bytes, '\0');
  zip.writeRecord("data/0", zeros.data(), zeros.size());
  zip.writeEndOfFile();
}

/// data.pkl of OrderedDict{name: _rebuild_tensor_v2(FloatStorage "0" of storage_numel, offset,
/// sizes, strides, False, OrderedDict())}, as torch.save writes it.
std::string one_tensor_pickle(const std::string& name, int64_t storage_numel, int64_t offset,
                              const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  Pickler p;
  p.proto();
  p.empty_ordered_dict();
  p.op('(');
  p.str(name);
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.op('(');
  p.op('(');
  p.str("storage");
  p.global("torch", "FloatStorage");
  p.str("0");
  p.str("cpu");
  p.integer(storage_numel);
  p.op('t');
  p.op('Q');
  p.integer(offset);
  p.ints(sizes);
  p.ints(strides);
  p.op('\x89');
  p.empty_ordered_dict();
  p.op('t');
  p.op('R');
  p.op('u');
  p.op('.');
  return p.bytes;
}

constexpr int64_t two_63_minus(int64_t x) { return std::numeric_limits<int64_t>::max() - x + 1; }

}  // namespace

TEST_CASE("a tensor whose view leaves its storage is refused, whatever the overflow",
          "[models][state_dict][hostile]") {
  const testing::TempDir tmp("normlab_state_dict_hostile");
  struct Case {
    const char* what;
    int64_t storage_numel, offset;
    std::vector<int64_t> sizes, strides;
    const char* error;
  };
  const int64_t huge = std::numeric_limits<int64_t>::max();
  const std::vector<Case> cases = {
      // The files: offsets near 2^63, with the storage small or claiming 2^63 - 1 elements.
      {"offset 2^63-16", 4, two_63_minus(16), {2}, {16}, "storage offset 9223372036854775792 past the end of its storage (4 elements)"},
      {"offset 2^63-2^40", 4, two_63_minus(int64_t{1} << 40), {2}, {16}, "past the end of its storage (4 elements)"},
      {"1 MB view at 2^63-2^18", 4, two_63_minus(int64_t{1} << 18), {1 << 18}, {1}, "past the end of its storage (4 elements)"},
      {"offset 2^63-16, storage of 2^63-1", huge, two_63_minus(16), {2}, {16}, "last element's index overflows int64"},
      {"offset 2^63-2^40, storage of 2^63-1", huge, two_63_minus(int64_t{1} << 40), {2}, {int64_t{1} << 41},
       "last element's index overflows int64"},
      // Its last element is exactly 2^63 - 1: no overflow, one past a storage of 2^63 - 1.
      {"1 MB view at 2^63-2^18, storage of 2^63-1", huge, two_63_minus(int64_t{1} << 18), {1 << 18}, {1},
       "its last element would be number 9223372036854775807"},
      // Overflow in (size - 1) * stride alone, and in the number of elements.
      {"stride 2^62 x 3", 4, 0, {3}, {int64_t{1} << 62}, "last element's index overflows int64"},
      {"sizes 2^32 x 2^32", 4, 0, {int64_t{1} << 32, int64_t{1} << 32}, {0, 0}, "more elements than int64 holds"},
      // No overflow, one element too far.
      {"last element = numel", 4, 2, {2}, {2}, "its last element would be number 4"},
      {"negative offset", 4, -1, {1}, {1}, "negative storage offset -1"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const auto path = tmp.file(std::string("view.pt"));
    write_archive(path, one_tensor_pickle("fc.bias", c.storage_numel, c.offset, c.sizes, c.strides), 16);
    REQUIRE_THROWS_WITH(read_state_dict(path), Catch::Contains("view.pt'") && Catch::Contains("_rebuild_tensor_v2") &&
                                                   Catch::Contains(c.error));
    torch::nn::Linear fc(512, 2);
    REQUIRE_THROWS_AS(load_state_dict(*fc, path, /*strict=*/false), StateDictError);
  }
}

TEST_CASE("views at the very end of their storage, and empty views at its end, still load",
          "[models][state_dict][hostile]") {
  const testing::TempDir tmp("normlab_state_dict_hostile");
  const auto path = tmp.file("edge.pt");
  write_archive(path, one_tensor_pickle("t", 4, 1, {3}, {1}), 16);  // elements 1..3 of 4
  auto entries = read_state_dict(path);
  REQUIRE(entries.size() == 1);
  REQUIRE(entries[0].second.sizes() == torch::IntArrayRef{3});
  REQUIRE(entries[0].second.storage_offset() == 1);
  write_archive(path, one_tensor_pickle("t", 4, 4, {0}, {1}), 16);  // empty, offset == numel
  REQUIRE(read_state_dict(path)[0].second.numel() == 0);
  write_archive(path, one_tensor_pickle("t", 4, 5, {0}, {1}), 16);  // empty, offset > numel
  REQUIRE_THROWS_WITH(read_state_dict(path), Catch::Contains("storage offset 5 past the end of its storage (4 elements)"));
}

TEST_CASE("a storage bigger than its archive or its record is refused before it is allocated",
          "[models][state_dict][hostile]") {
  const testing::TempDir tmp("normlab_state_dict_hostile");
  const auto path = tmp.file("short.pt");
  // 2^61 floats (2^63 bytes: overflows int64), 2^40 floats (4 TiB), 3e6 x 512 floats (6 GB, the
  // issue's fc.weight): more than any archive of a few hundred bytes can hold, even deflated.
  write_archive(path, one_tensor_pickle("t", int64_t{1} << 61, 0, {2}, {1}), 16);
  REQUIRE_THROWS_WITH(read_state_dict(path), Catch::Contains("short.pt': storage 0 claims 2305843009213693952 elements of Float") &&
                                                 Catch::Contains("-byte archive can hold"));
  write_archive(path, one_tensor_pickle("t", int64_t{1} << 40, 0, {2}, {1}), 16);
  REQUIRE_THROWS_WITH(read_state_dict(path), Catch::Contains("storage 0 claims 1099511627776 elements of Float"));
  write_archive(path, one_tensor_pickle("fc.weight", 3'000'000 * 512, 0, {3'000'000, 512}, {512, 1}), 16);
  REQUIRE_THROWS_WITH(read_state_dict_shapes(path), Catch::Contains("storage 0 claims 1536000000 elements of Float"));
  // Within what the archive could hold, but more than its record: refused before allocation.
  write_archive(path, one_tensor_pickle("t", 4096, 0, {2}, {1}), 16);
  REQUIRE(read_state_dict_shapes(path) == std::vector<std::pair<std::string, std::vector<int64_t>>>{{"t", {2}}});
  REQUIRE_THROWS_WITH(read_state_dict(path), Catch::Contains("short.pt': data/0 holds 16 bytes, but its storage needs 16384"));
}

TEST_CASE("a shape that does not fit the module is refused from data.pkl, before any storage is read",
          "[models][state_dict][hostile]") {
  const testing::TempDir tmp("normlab_state_dict_hostile");
  const auto path = tmp.file("rows.pt");
  // fc.weight claiming 1000 rows of 512 (2 MB) over a 4 KB record: the shape is what is
  // reported, so the record was never read.
  write_archive(path, one_tensor_pickle("weight", 1000 * 512, 0, {1000, 512}, {512, 1}), 4096);
  torch::nn::Linear fc(512, 10);
  const auto before = fc->weight.clone();
  REQUIRE_THROWS_WITH(load_state_dict(*fc, path, /*strict=*/false),
                      Catch::Contains("shape mismatches (1): weight: module [10, 512], file [1000, 512]"));
  REQUIRE(torch::equal(fc->weight, before));
}
