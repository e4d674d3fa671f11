// Images from elsewhere (issue 14): decompression bombs refused from their header as Pillow
// refuses them, files that are not regular files, and files that are no image at all.
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <normlab/image/image.hpp>

#include "../golden.hpp"
#include "../temp_dir.hpp"

using namespace normlab;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> committed(const std::string& name) {
  std::vector<uint8_t> bytes;
  image::read_file(testing::test_data_dir() + "/images/" + name, bytes);
  return bytes;
}

void put_be(std::vector<uint8_t>& bytes, std::size_t at, uint32_t v, int n) {
  for (int i = 0; i < n; ++i) bytes[at + i] = static_cast<uint8_t>(v >> (8 * (n - 1 - i)));
}

/// tiny.png with its IHDR saying width x height (CRC fixed, so only the size is a lie).
std::vector<uint8_t> png_claiming(uint32_t width, uint32_t height) {
  auto bytes = committed("tiny.png");
  put_be(bytes, 16, width, 4);
  put_be(bytes, 20, height, 4);
  const auto crc = crc32(crc32(0, nullptr, 0), bytes.data() + 12, 17);  // "IHDR" + 13 bytes
  put_be(bytes, 29, static_cast<uint32_t>(crc), 4);
  return bytes;
}

/// rgb_420_q90.jpg with its SOF0 saying width x height.
std::vector<uint8_t> jpeg_claiming(uint16_t width, uint16_t height) {
  auto bytes = committed("rgb_420_q90.jpg");
  for (std::size_t i = 2; i + 9 < bytes.size(); ++i)
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xC0) {  // SOF0: length(2) precision(1) height(2) width(2)
      put_be(bytes, i + 5, height, 2);
      put_be(bytes, i + 7, width, 2);
      return bytes;
    }
  FAIL("no SOF0 marker in rgb_420_q90.jpg");
  return bytes;
}

}  // namespace

TEST_CASE("a PNG or JPEG bomb is refused from its header, as Pillow's DecompressionBombError",
          "[image][hostile]") {
  image::Image out;
  // The files: 30000 x 30000 PNG (900 M pixels), 20000 x 20000 JPEG (400 M pixels).
  const auto png = png_claiming(30000, 30000);
  REQUIRE_THROWS_WITH(image::decode_image(png, out, "bomb.png"),
                      Catch::Contains("cannot decode PNG image 'bomb.png': 30000x30000 = 900000000 pixels, more "
                                      "than twice the limit of 89478485: a decompression bomb?"));
  REQUIRE(out.pixels.capacity() < 1000);  // nothing was allocated for it
  const auto jpeg = jpeg_claiming(20000, 20000);
  REQUIRE_THROWS_WITH(image::decode_image(jpeg, out, "bomb.jpg"),
                      Catch::Contains("cannot decode JPEG image 'bomb.jpg': 20000x20000 = 400000000 pixels"));
  // Pillow's rule: refused above twice the limit. 13378^2 = 178,970,884 > 2 * 89,478,485.
  REQUIRE_THROWS_WITH(image::decode_image(png_claiming(13378, 13378), out, "b.png"), Catch::Contains("decompression bomb"));
  // A lower limit, its boundary (64 x 64 = 4096 = 2 x 2048 passes, then fails for lack of data),
  // and <= 0, no limit at all.
  REQUIRE_THROWS_WITH(image::decode_image(png_claiming(64, 64), out, "small.png", 1000),
                      Catch::Contains("64x64 = 4096 pixels, more than twice the limit of 1000"));
  REQUIRE_THROWS_WITH(image::decode_image(png_claiming(64, 64), out, "small.png", 2048),
                      Catch::Contains("small.png") && !Catch::Contains("decompression bomb"));
  REQUIRE_THROWS_WITH(image::decode_image(png_claiming(64, 64), out, "small.png", 0),
                      Catch::Contains("small.png") && !Catch::Contains("decompression bomb"));
  // The real image still decodes under the default limit.
  image::decode_image(committed("tiny.png"), out, "tiny.png");
  REQUIRE_FALSE(out.empty());
}

TEST_CASE("decode_image(path) reads only regular files, and checks the format before reading the rest",
          "[image][hostile]") {
  const testing::TempDir tmp("normlab_image_hostile");
  const auto fifo = tmp.path / "b.png";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE_THROWS_WITH(image::decode_image(fifo), Catch::Contains("b.png' is not a regular file (a FIFO, socket or device)"));
  REQUIRE(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));  // did not wait for a writer
  REQUIRE_THROWS_WITH(image::decode_image(tmp.path), Catch::Contains("is a folder, not a file"));
  // A large sparse file named .png: refused from its first 16 bytes, the rest never read.
  const auto big = tmp.path / "big.png";
  { std::ofstream(big, std::ios::binary).put('\0'); }
  fs::resize_file(big, std::uintmax_t{3} << 30);
  std::vector<uint8_t> buffer;
  image::Image out;
  REQUIRE_THROWS_WITH(image::decode_image(big, out, buffer), Catch::Contains("big.png' is neither a JPEG nor a PNG file"));
  REQUIRE(buffer.capacity() < 1024);
  // A symlink to a regular image is read through.
  fs::create_symlink(testing::test_data_dir() + "/images/tiny.png", tmp.path / "link.png");
  REQUIRE_FALSE(image::decode_image(tmp.path / "link.png").empty());
}

TEST_CASE("a PNG whose header chunks fail their CRC is refused, as Pillow refuses it", "[image][hostile]") {
  image::Image out;
  auto bytes = committed("tiny.png");
  bytes[29] ^= 0x01;  // IHDR's CRC
  REQUIRE_THROWS_WITH(image::decode_image(bytes, out, "crc.png"),
                      Catch::Contains("cannot decode PNG image 'crc.png': broken PNG file (bad header checksum in IHDR)"));
  // The image data's own CRC is not checked (Pillow does not check it either): still decodes.
  bytes = committed("tiny.png");
  std::size_t at = 8;
  while (std::string(reinterpret_cast<const char*>(bytes.data() + at + 4), 4) != "IDAT")
    at += 12 + ((std::size_t{bytes[at]} << 24) | (std::size_t{bytes[at + 1]} << 16) | (std::size_t{bytes[at + 2]} << 8) | bytes[at + 3]);
  const std::size_t idat_length = (std::size_t{bytes[at + 2]} << 8) | bytes[at + 3];
  auto bad_idat_crc = bytes;
  bad_idat_crc[at + 8 + idat_length] ^= 0x01;
  image::Image plain, crc_ignored;
  image::decode_image(bytes, plain, "tiny.png");
  image::decode_image(bad_idat_crc, crc_ignored, "idat.png");
  REQUIRE(crc_ignored.pixels == plain.pixels);
  // Broken deflate data in IDAT: refused (Pillow: "broken data stream when reading image file").
  auto bad_zlib = bytes;
  for (std::size_t i = 0; i < idat_length && i < 8; ++i) bad_zlib[at + 8 + i] = 0xFF;
  REQUIRE_THROWS_WITH(image::decode_image(bad_zlib, out, "zlib.png"), Catch::Contains("cannot decode PNG image 'zlib.png'"));
}
