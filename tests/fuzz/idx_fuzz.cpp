// libFuzzer: the IDX reader (raw or gzip). read_idx takes a path, so each input is written to a
// file in /dev/shm (or $TMPDIR) first.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include <normlab/data/idx.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    const auto dir = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                         : std::filesystem::temp_directory_path();
    return (dir / ("normlab-fuzz-idx-" + std::to_string(::getpid()))).string();
  }();
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  try {
    const auto t = normlab::data::read_idx(path);
    int64_t count = 1;
    for (auto d : t.sizes()) count *= d;
    if (count != t.numel()) __builtin_trap();
  } catch (const normlab::data::DataError&) {
  }
  return 0;
}
