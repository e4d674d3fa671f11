// Decoding against Pillow 9.4 (tests/golden/images.txt, scripts/golden/image_golden.py): every
// committed test image must decode to exactly the bytes of PIL.Image.open(f).convert("RGB").

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <normlab/image/image.hpp>

#include "../golden.hpp"

using namespace normlab;
namespace fs = std::filesystem;

namespace {

std::string images_dir() { return testing::test_data_dir() + "/images"; }

std::vector<uint8_t> file_bytes(const fs::path& path) {
  std::vector<uint8_t> bytes;
  image::read_file(path, bytes);
  return bytes;
}

fs::path temp_dir() { return fs::temp_directory_path() / ("normlab-image-test-" + std::to_string(::getpid())); }
struct RemoveTempDir {
  ~RemoveTempDir() {
    std::error_code ec;
    fs::remove_all(temp_dir(), ec);
  }
} remove_temp_dir;

fs::path write_temp(const std::string& name, const std::vector<uint8_t>& bytes) {
  const auto dir = temp_dir();
  fs::create_directories(dir);
  const auto path = dir / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

std::string message_of(const fs::path& path) {
  try {
    (void)image::decode_image(path);
  } catch (const image::ImageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("every test image decodes to Pillow's RGB bytes", "[image]") {
  const auto rows = testing::golden_rows("images.txt");
  int cases = 0, pixels_checked = 0, worst = 0;
  image::Image img;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r][0] != "case") continue;
    auto f = testing::case_fields(rows[r]);
    const std::string name = f["name"];
    INFO("image " << name);
    img = image::decode_image(images_dir() + "/" + name);
    REQUIRE(img.width == std::stoi(f["w"]));
    REQUIRE(img.height == std::stoi(f["h"]));
    REQUIRE(img.pixels.size() == static_cast<std::size_t>(img.width) * img.height * 3);
    // The sampled pixels first: they say where a difference is, and how large.
    for (std::size_t p = r + 1; p < rows.size() && rows[p][0] == "pixel"; ++p) {
      const int x = std::stoi(rows[p][1]), y = std::stoi(rows[p][2]);
      for (int c = 0; c < 3; ++c) {
        const int diff = std::abs(img.at(y, x, c) - std::stoi(rows[p][3 + c]));
        worst = std::max(worst, diff);
        CHECK(diff == 0);
      }
      ++pixels_checked;
    }
    uint64_t sum = 0;
    for (auto v : img.pixels) sum += v;
    CHECK(sum == std::stoull(f["sum"]));
    CHECK(testing::fnv1a64(img.data(), img.pixels.size()) == std::stoull(f["fnv"]));
    ++cases;
  }
  std::printf("[image] decoding vs Pillow 9.4: %d files, every byte hashed; largest difference over "
              "%d sampled pixels: %d\n", cases, pixels_checked, worst);
  REQUIRE(cases >= 12);
}

TEST_CASE("decoding reuses an Image and recognises formats by content", "[image]") {
  const auto jpeg = file_bytes(images_dir() + "/rgb_420_q90.jpg");
  const auto png = file_bytes(images_dir() + "/rgb.png");
  REQUIRE(image::sniff_format(jpeg) == image::ImageFormat::Jpeg);
  REQUIRE(image::sniff_format(png) == image::ImageFormat::Png);
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0};
  REQUIRE(image::sniff_format(gif) == image::ImageFormat::Unknown);

  // A PNG file named .jpg decodes as a PNG, as Pillow does.
  const auto renamed = write_temp("really_a_png.jpg", png);
  REQUIRE(image::decode_image(renamed).pixels == image::decode_image(images_dir() + "/rgb.png").pixels);

  image::Image reused;
  image::decode_image(std::span<const uint8_t>(jpeg), reused, "a");
  REQUIRE(reused.width == 400);
  image::decode_image(std::span<const uint8_t>(png), reused, "b");
  REQUIRE(reused.width == 333);
  REQUIRE(reused.pixels.size() == 333u * 251u * 3u);
}

TEST_CASE("unreadable, empty, truncated, corrupt and unsupported files name the file", "[image]") {
  SECTION("missing") {
    const auto msg = message_of("/nonexistent/normlab/cat.jpg");
    REQUIRE_THAT(msg, Catch::Contains("/nonexistent/normlab/cat.jpg") && Catch::Contains("does not exist"));
  }
  SECTION("a folder") {
    const auto dir = temp_dir() / "folder.jpg";
    fs::create_directories(dir);
    REQUIRE_THAT(message_of(dir), Catch::Contains(dir.string()) && Catch::Contains("folder"));
  }
  SECTION("empty") {
    const auto path = write_temp("empty.png", {});
    REQUIRE_THAT(message_of(path), Catch::Contains(path.string()) && Catch::Contains("empty"));
  }
  SECTION("unsupported format") {
    const auto path = write_temp("anim.gif", {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0});
    REQUIRE_THAT(message_of(path), Catch::Contains(path.string()) && Catch::Contains("neither a JPEG nor a PNG"));
  }
  SECTION("truncated JPEG (baseline and progressive)") {
    for (const char* name : {"rgb_420_q90.jpg", "progressive.jpg"}) {
      auto bytes = file_bytes(images_dir() + "/" + name);
      bytes.resize(bytes.size() / 2);
      const auto path = write_temp(std::string("half_") + name, bytes);
      REQUIRE_THAT(message_of(path), Catch::Contains(path.string()) && Catch::Contains("truncated"));
    }
  }
  SECTION("JPEG cut inside its header") {
    auto bytes = file_bytes(images_dir() + "/rgb_420_q90.jpg");
    bytes.resize(40);
    const auto path = write_temp("header_only.jpg", bytes);
    REQUIRE_THAT(message_of(path), Catch::Contains(path.string()) && Catch::Contains("JPEG"));
  }
  SECTION("JPEG with a broken frame header") {
    auto bytes = file_bytes(images_dir() + "/rgb_420_q90.jpg");
    for (std::size_t i = 2; i + 1 < bytes.size(); ++i) {
      if (bytes[i] == 0xFF && bytes[i + 1] == 0xC0) {  // SOF0: zero the precision and the size
        for (std::size_t k = i + 4; k < i + 9; ++k) bytes[k] = 0;
        break;
      }
    }
    const auto path = write_temp("bad_sof.jpg", bytes);
    REQUIRE_THAT(message_of(path), Catch::Contains(path.string()));
  }
  SECTION("a JPEG without its EOI marker is truncated, as for Pillow") {
    // libjpeg's Huffman decoder reads ahead, so the last rows need bytes that are not there;
    // Pillow then says "image file is truncated (12 bytes not processed)".
    auto bytes = file_bytes(images_dir() + "/rgb_420_q90.jpg");
    REQUIRE(bytes[bytes.size() - 2] == 0xFF);
    REQUIRE(bytes[bytes.size() - 1] == 0xD9);
    bytes.resize(bytes.size() - 2);
    const auto path = write_temp("no_eoi.jpg", bytes);
    REQUIRE_THAT(message_of(path), Catch::Contains(path.string()) && Catch::Contains("truncated"));
  }
  SECTION("truncated PNG") {
    auto bytes = file_bytes(images_dir() + "/rgb.png");
    bytes.resize(bytes.size() * 2 / 3);
    const auto path = write_temp("cut.png", bytes);
    REQUIRE_THAT(message_of(path), Catch::Contains(path.string()) && Catch::Contains("truncated"));
  }
  SECTION("PNG with garbage image data") {
    auto bytes = file_bytes(images_dir() + "/rgb.png");
    for (std::size_t i = 100; i < bytes.size() - 20; ++i) bytes[i] = static_cast<uint8_t>(i * 131);
    const auto path = write_temp("garbage.png", bytes);
    REQUIRE_THAT(message_of(path), Catch::Contains(path.string()) && Catch::Contains("PNG"));
  }
}

TEST_CASE("PNG modes convert as Pillow's convert(\"RGB\")", "[image]") {
  // Spot checks of the rules the golden hashes cover in full.
  const auto gray16 = image::decode_image(images_dir() + "/gray16.png");
  int saturated = 0;
  for (std::size_t i = 0; i < gray16.pixels.size(); i += 3) {
    REQUIRE(gray16.pixels[i] == gray16.pixels[i + 1]);
    REQUIRE(gray16.pixels[i] == gray16.pixels[i + 2]);
    saturated += gray16.pixels[i] == 255;
  }
  REQUIRE(saturated > 0);  // values above 255 clip (mode "I" -> "RGB"), not scaled
  const auto bit1 = image::decode_image(images_dir() + "/bit1.png");
  for (auto v : bit1.pixels) REQUIRE((v == 0 || v == 255));
}
