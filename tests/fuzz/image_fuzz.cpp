// libFuzzer: the JPEG and PNG decoders (decode_image on in-memory bytes), with a pixel limit of
// 2^22 so that a valid-looking header cannot make each run allocate a gigabyte.
#include <cstdint>

#include <normlab/image/image.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  normlab::image::Image out;
  try {
    normlab::image::decode_image(std::span<const uint8_t>(data, size), out, "fuzz", int64_t{1} << 21);
    if (out.pixels.size() != static_cast<std::size_t>(out.width) * out.height * 3) __builtin_trap();
  } catch (const normlab::image::ImageError&) {
  }
  return 0;
}
