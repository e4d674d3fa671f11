// Image folders from elsewhere (issue 14): a FIFO named like an image, a DAG of directory
// symlinks, symlinks to `/` and back to the folder itself. Each must end within seconds.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <normlab/data/image_folder.hpp>

#include "../golden.hpp"
#include "../temp_dir.hpp"

using namespace normlab;
namespace fs = std::filesystem;

namespace {

std::string tiny_png() { return testing::test_data_dir() + "/images/tiny.png"; }

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("a FIFO named like an image is not a sample, and the loader does not block on it",
          "[image_folder][hostile]") {
  const testing::TempDir tmp("normlab_folder_hostile");
  const auto cls = tmp.path / "root" / "cls";
  fs::create_directories(cls);
  fs::copy_file(tiny_png(), cls / "a.png");
  REQUIRE(::mkfifo((cls / "b.png").c_str(), 0600) == 0);
  const auto start = std::chrono::steady_clock::now();
  const data::ImageFolder folder(tmp.path / "root");
  REQUIRE(folder.size() == 1);
  REQUIRE(folder.samples()[0].path == (cls / "a.png").string());
  data::ImageBatchLoader<> loader(folder, data::ImageLoaderOptions().batch_size(4).workers(1));
  int64_t images = 0;
  for (auto& batch : loader) images += batch.size();
  REQUIRE(images == 1);
  REQUIRE(seconds_since(start) < 10);
}

TEST_CASE("a DAG of directory symlinks is walked once per folder, not once per path", "[image_folder][hostile]") {
  const testing::TempDir tmp("normlab_folder_hostile");
  const auto cls = tmp.path / "root" / "cls";
  // d0 .. d40, each d_i holding two links, x and y, to d_{i+1}: 2^40 paths to d40, 41 folders.
  const int depth = 40;
  auto d = [](int i) { return fs::path("d").concat(std::to_string(i)); };  // d0, d1, ...
  for (int i = 0; i <= depth; ++i) fs::create_directories(cls / d(i));
  for (int i = 0; i < depth; ++i) {
    const auto target = fs::path("..") / d(i + 1);
    fs::create_directory_symlink(target, cls / d(i) / "x");
    fs::create_directory_symlink(target, cls / d(i) / "y");
  }
  fs::copy_file(tiny_png(), cls / d(depth) / "deep.png");
  const auto start = std::chrono::steady_clock::now();
  const data::ImageFolder folder(tmp.path / "root");
  REQUIRE(seconds_since(start) < 10);
  // Each folder's sub-folders are walked in sorted order, so d40 is first reached down cls/d0's
  // chain of x links, and that path names the image.
  REQUIRE(folder.size() == 1);
  std::string expected = (cls / d(0)).string();
  for (int i = 0; i < depth; ++i) expected += "/x";
  REQUIRE(folder.samples()[0].path == expected + "/deep.png");
}

TEST_CASE("symlinks to / and back to the image folder are not followed", "[image_folder][hostile]") {
  const testing::TempDir tmp("normlab_folder_hostile");
  const auto root = tmp.path / "root";
  fs::create_directories(root / "cls");
  fs::copy_file(tiny_png(), root / "cls" / "a.png");
  fs::create_directory_symlink("/", root / "cls" / "everything");
  fs::create_directory_symlink("..", root / "cls" / "up");
  fs::create_directory_symlink(tmp.path, root / "cls" / "above");
  const auto start = std::chrono::steady_clock::now();
  const data::ImageFolder folder(root);
  REQUIRE(seconds_since(start) < 10);
  REQUIRE(folder.size() == 1);
  // A class that is itself a symlink to `/` holds no image: torchvision's error for an empty class.
  fs::create_directory_symlink("/", root / "slash");
  REQUIRE_THROWS_WITH(data::ImageFolder(root), Catch::Contains("found no valid file for the classes slash"));
}
