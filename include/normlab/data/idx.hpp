#pragma once
// Reads IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or raw, into one uint8 tensor.
// Every failure names the file and what is wrong with it: missing, wrong magic number, unsupported
// element type, truncated, or longer than its header says.

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <torch/torch.h>
#include <vector>

namespace normlab::data {

/// An error in a data file or folder; what() names the path.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

/// Reads up to `size` bytes; gzread reads uncompressed files transparently.
inline std::size_t read_some(gzFile_s* file, void* out, std::size_t size, const std::string& path) {
  std::size_t done = 0;
  auto* bytes = static_cast<unsigned char*>(out);
  while (done < size) {
    const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(size - done, 1u << 30));
    const int got = gzread(file, bytes + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* why = gzerror(file, &code);
      throw DataError("normlab: cannot read '" + path + "': " + (why ? why : "read error") +
                      " (corrupt gzip data?)");
    }
    if (got == 0) {
      int code = Z_OK;
      const char* why = gzerror(file, &code);
      if (code != Z_OK && code != Z_STREAM_END)
        throw DataError("normlab: cannot read '" + path + "': its gzip data is corrupt or ends early (" +
                        (why ? why : "zlib error") + ")");
      break;
    }
    done += static_cast<std::size_t>(got);
  }
  return done;
}

}  // namespace detail

/// The whole IDX file as a uint8 tensor whose shape is the file's dimensions.
/// Only unsigned-byte data (type 0x08), as MNIST uses, is supported.
/// @param expected_dims when > 0, the number of dimensions the file must have (3 for images,
///        1 for labels): its magic number must then be 0x000008<expected_dims>.
inline torch::Tensor read_idx(const std::filesystem::path& path, int expected_dims = 0) {
  const std::string name = path.string();
  if (!std::filesystem::is_regular_file(path))
    throw DataError("normlab: IDX file '" + name + "' does not exist");
  std::unique_ptr<gzFile_s, detail::GzCloser> file(gzopen(name.c_str(), "rb"));
  if (!file) throw DataError("normlab: cannot open IDX file '" + name + "'");

  unsigned char magic[4];
  if (detail::read_some(file.get(), magic, 4, name) != 4)
    throw DataError("normlab: IDX file '" + name + "' is truncated: no complete 4-byte header");
  if (magic[0] != 0 || magic[1] != 0 || magic[3] < 1 || magic[3] > 4) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", magic[0], magic[1], magic[2], magic[3]);
    throw DataError("normlab: '" + name + "' is not an IDX file: wrong magic number 0x" + hex +
                    " (expected 0x000008NN, NN = 1..4 dimensions)");
  }
  if (expected_dims > 0 && magic[3] != expected_dims) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "0x%02x%02x%02x%02x (expected 0x000008%02x", magic[0], magic[1],
                  magic[2], magic[3], expected_dims);
    throw DataError("normlab: '" + name + "' has the wrong magic number " + hex + ", " +
                    (expected_dims == 3 ? "an images" : expected_dims == 1 ? "a labels" : "an IDX") +
                    " file)");
  }
  if (magic[2] != 0x08)
  {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", magic[2]);
    throw DataError("normlab: IDX file '" + name + "' holds element type " + hex +
                    "; only unsigned bytes (0x08) are supported");
  }

  std::vector<int64_t> dims(magic[3]);
  int64_t count = 1;
  bool overflow = false;
  for (auto& d : dims) {
    unsigned char be[4];
    if (detail::read_some(file.get(), be, 4, name) != 4)
      throw DataError("normlab: IDX file '" + name + "' is truncated inside its header");
    d = (int64_t{be[0]} << 24) | (int64_t{be[1]} << 16) | (int64_t{be[2]} << 8) | int64_t{be[3]};
    if (__builtin_mul_overflow(count, d, &count)) overflow = true;  // four 32-bit sizes can pass 2^63
  }
  // The header's promise, checked against what the file can hold before anything is allocated:
  // raw bytes one for one, gzip at most 1032 to 1 (deflate's best ratio).
  std::error_code size_error;
  const auto file_size = static_cast<int64_t>(std::filesystem::file_size(path, size_error));
  const bool gzip = gzdirect(file.get()) == 0;
  const int64_t header = 4 + 4 * static_cast<int64_t>(dims.size());
  int64_t can_hold = 0;
  if (!size_error) {
    if (gzip) {
      if (__builtin_mul_overflow(file_size, int64_t{1032}, &can_hold)) can_hold = INT64_MAX;
    } else {
      can_hold = std::max<int64_t>(0, file_size - header);
    }
  }
  if (overflow || (!size_error && count > can_hold)) {
    std::string shape;
    for (std::size_t i = 0; i < dims.size(); ++i) shape += (i ? " x " : "") + std::to_string(dims[i]);
    throw DataError("normlab: IDX file '" + name + "' is truncated or corrupt: its header announces " + shape +
                    (overflow ? " bytes (more than 2^63)" : " = " + std::to_string(count) + " bytes") +
                    " of data, more than its " + std::to_string(file_size) + " bytes" +
                    (gzip ? " of gzip data can hold" : " can hold"));
  }

  auto tensor = torch::empty(dims, torch::kUInt8);
  const auto got = detail::read_some(file.get(), tensor.data_ptr<uint8_t>(),
                                     static_cast<std::size_t>(count), name);
  if (static_cast<int64_t>(got) != count)
    throw DataError("normlab: IDX file '" + name + "' is truncated: its header announces " +
                    std::to_string(count) + " bytes of data, the file holds " + std::to_string(got));
  unsigned char extra;
  if (detail::read_some(file.get(), &extra, 1, name) != 0)
    throw DataError("normlab: IDX file '" + name + "' is longer than its header announces (" +
                    std::to_string(count) + " bytes of data)");
  return tensor;
}

}  // namespace normlab::data
