// ImageFolder against torchvision 0.14 (tests/golden/image_folder.txt), and ImageBatchLoader:
// order, determinism across worker counts, limit, corrupt files.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <normlab/data/image_folder.hpp>

#include "../golden.hpp"

using namespace normlab;
namespace fs = std::filesystem;

namespace {

std::string images_dir() { return testing::test_data_dir() + "/images"; }

fs::path temp_base() { return fs::temp_directory_path() / ("normlab-image-folder-" + std::to_string(::getpid())); }
struct RemoveTempBase {
  ~RemoveTempBase() {
    std::error_code ec;
    fs::remove_all(temp_base(), ec);
  }
} remove_temp_base;

/// A fresh empty folder under the temp directory.
fs::path fresh_dir(const std::string& name) {
  const auto dir = temp_base() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string error_of(const fs::path& root) {
  try {
    data::ImageFolder folder(root);
  } catch (const data::DataError& e) {
    return e.what();
  }
  return "";
}

/// A small real image folder: the committed test images spread over three classes, with JPEG and
/// PNG files of every kind.
fs::path make_real_folder(const std::string& name) {
  const auto root = fresh_dir(name);
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(images_dir())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const char* classes[] = {"coat", "dress", "sneaker"};
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto dir = root / classes[i % 3];
    fs::create_directories(dir);
    fs::copy_file(files[i], dir / files[i].filename());
  }
  return root;
}

std::vector<data::ImageBatch> drain(data::ImageBatchLoader<>& loader) {
  std::vector<data::ImageBatch> batches;
  for (auto& batch : loader) batches.push_back(std::move(batch));
  return batches;
}

}  // namespace

TEST_CASE("ImageFolder finds classes and files in torchvision's order", "[image_folder]") {
  const auto rows = testing::golden_rows("image_folder.txt");
  const auto root = fresh_dir("layout");
  std::vector<std::string> want_classes;
  std::vector<std::pair<std::string, int64_t>> want_samples;
  for (const auto& row : rows) {
    if (row[0] == "dir") {
      fs::create_directories(root / row[1]);
    } else if (row[0] == "file") {
      fs::create_directories((root / row[1]).parent_path());
      std::ofstream(root / row[1]).flush();
    } else if (row[0] == "link") {
      fs::create_symlink(row[2], root / row[1]);
    } else if (row[0] == "class") {
      REQUIRE(std::stoul(row[1]) == want_classes.size());
      want_classes.push_back(row[2]);
    } else if (row[0] == "sample") {
      REQUIRE(std::stoul(row[1]) == want_samples.size());
      want_samples.emplace_back(row[2], std::stoll(row[3]));
    }
  }
  REQUIRE(want_samples.size() > 20);

  const data::ImageFolder folder(root);
  REQUIRE(folder.classes() == want_classes);
  REQUIRE(folder.size() == static_cast<int64_t>(want_samples.size()));
  for (std::size_t i = 0; i < want_samples.size(); ++i) {
    INFO("sample " << i);
    REQUIRE(folder.samples()[i].path == (root / want_samples[i].first).string());
    REQUIRE(folder.samples()[i].target == want_samples[i].second);
  }
  REQUIRE(folder.class_index("bag") == 3);
  REQUIRE_THROWS_AS(folder.class_index("nope"), data::DataError);
  // A trailing slash on the root changes nothing (os.path.join).
  const data::ImageFolder slashed(root.string() + "/");
  REQUIRE(slashed.samples()[0].path == folder.samples()[0].path);
}

TEST_CASE("ImageFolder's extension rule is torchvision's", "[image_folder]") {
  for (const char* yes : {"a.jpg", "A.JPG", "b.JpEg", "c.png", "d.ppm", "e.bmp", "f.pgm", "g.tif", "h.TIFF", "i.webp", ".jpg"})
    REQUIRE(data::has_image_extension(yes));
  for (const char* no : {"a.gif", "jpg", "a.jpg.bak", "a.jp", "", "a.jpe", "README"})
    REQUIRE_FALSE(data::has_image_extension(no));
}

TEST_CASE("ImageFolder errors name the folder and say what is wrong", "[image_folder]") {
  REQUIRE_THAT(error_of("/nonexistent/normlab/imagenet"),
               Catch::Contains("/nonexistent/normlab/imagenet") && Catch::Contains("does not exist"));
  const auto no_classes = fresh_dir("no_classes");
  std::ofstream(no_classes / "loose.jpg").flush();
  REQUIRE_THAT(error_of(no_classes), Catch::Contains(no_classes.string()) && Catch::Contains("no class folders"));
  const auto empty_class = fresh_dir("empty_class");
  fs::create_directories(empty_class / "cat");
  fs::create_directories(empty_class / "dog");
  fs::create_directories(empty_class / "eel");
  std::ofstream(empty_class / "cat" / "1.jpg").flush();
  std::ofstream(empty_class / "eel" / "notes.txt").flush();
  REQUIRE_THAT(error_of(empty_class), Catch::Contains("found no valid file for the classes dog, eel") &&
                                          Catch::Contains(".jpg, .jpeg, .png"));
  REQUIRE_THAT(error_of(empty_class / "cat" / "1.jpg"), Catch::Contains("is not a folder"));
}

TEST_CASE("ImageBatchLoader yields the notebook's batches in order, whatever the workers", "[image_folder]") {
  const auto root = make_real_folder("real");
  const data::ImageFolder folder(root);
  const int64_t n = folder.size();
  REQUIRE(n >= 12);

  data::ImageBatchLoader<> serial(folder, data::ImageLoaderOptions().batch_size(5).workers(0));
  data::ImageBatchLoader<> one(folder, data::ImageLoaderOptions().batch_size(5).workers(1));
  data::ImageBatchLoader<> three(folder, data::ImageLoaderOptions().batch_size(5).workers(3).prefetch(1));
  REQUIRE(one.batches() == (n + 4) / 5);
  const auto a = drain(serial), b = drain(one), c = drain(three);
  REQUIRE(a.size() == static_cast<std::size_t>((n + 4) / 5));
  REQUIRE(b.size() == a.size());
  REQUIRE(c.size() == a.size());
  int64_t seen = 0;
  for (std::size_t k = 0; k < a.size(); ++k) {
    REQUIRE(a[k].images.sizes() == torch::IntArrayRef{a[k].size(), 3, 224, 224});
    REQUIRE(a[k].images.dtype() == torch::kUInt8);
    REQUIRE(a[k].labels.dtype() == torch::kInt64);
    REQUIRE(torch::equal(a[k].images, b[k].images));
    REQUIRE(torch::equal(a[k].images, c[k].images));
    REQUIRE(torch::equal(a[k].labels, c[k].labels));
    REQUIRE(a[k].paths == c[k].paths);
    for (int64_t j = 0; j < a[k].size(); ++j, ++seen) {
      const auto& sample = folder.samples()[static_cast<std::size_t>(seen)];
      REQUIRE(a[k].paths[static_cast<std::size_t>(j)] == sample.path);
      REQUIRE(a[k].indices[static_cast<std::size_t>(j)] == seen);
      REQUIRE(a[k].labels[j].item<int64_t>() == sample.target);
      REQUIRE(torch::equal(c[k].images[j], image::NotebookTransform{}(image::decode_image(sample.path))));
    }
  }
  REQUIRE(seen == n);
  REQUIRE(a.back().size() == (n % 5 == 0 ? 5 : n % 5));
  REQUIRE(three.skipped() == 0);
  REQUIRE_FALSE(three.next().has_value());  // the pass is over

  SECTION("limit and order") {
    data::ImageBatchLoader<> first7(folder, data::ImageLoaderOptions().batch_size(4).workers(2).limit(7));
    const auto d = drain(first7);
    REQUIRE(d.size() == 2);
    REQUIRE(d[1].size() == 3);
    REQUIRE(torch::equal(d[1].images[2], a[1].images[1]));  // sample 6
    std::vector<int64_t> reversed(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i) reversed[static_cast<std::size_t>(i)] = n - 1 - i;
    data::ImageBatchLoader<> back(folder, data::ImageLoaderOptions().batch_size(64).workers(3).order(reversed));
    const auto e = drain(back);
    REQUIRE(e.size() == 1);
    REQUIRE(e[0].indices.front() == n - 1);
    REQUIRE(torch::equal(e[0].images[n - 1], a[0].images[0]));
  }
  SECTION("more workers than images, a batch larger than the set, stopping early") {
    data::ImageBatchLoader<> wide(folder, data::ImageLoaderOptions().batch_size(1000).workers(8));
    const auto all = wide.next();
    REQUIRE(all.has_value());
    REQUIRE(all->size() == n);
    data::ImageBatchLoader<> abandoned(folder, data::ImageLoaderOptions().batch_size(2).workers(3));
    REQUIRE(abandoned.next().has_value());  // destroyed with batches in flight: joins cleanly
  }
}

TEST_CASE("a corrupt image throws naming the file, or is skipped and counted", "[image_folder]") {
  const auto root = make_real_folder("corrupt");
  // A JPEG cut in half (truncated) and a file that is not an image at all.
  std::vector<uint8_t> bytes;
  image::read_file(images_dir() + "/rgb_420_q90.jpg", bytes);
  bytes.resize(bytes.size() / 2);
  const auto broken = root / "dress" / "broken.jpg";
  std::ofstream(broken, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
  const auto text = root / "sneaker" / "zz_notes.png";
  std::ofstream(text) << "not a picture\n";
  const data::ImageFolder folder(root);
  const int64_t n = folder.size();
  int64_t broken_index = -1, text_index = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (folder[i].path == broken.string()) broken_index = i;
    if (folder[i].path == text.string()) text_index = i;
  }
  REQUIRE(broken_index >= 0);
  REQUIRE(text_index > broken_index);

  for (int64_t workers : {0, 1, 3}) {
    INFO("workers " << workers);
    data::ImageBatchLoader<> loader(folder, data::ImageLoaderOptions().batch_size(4).workers(workers));
    int64_t delivered = 0;
    std::string message;
    try {
      while (auto batch = loader.next()) delivered += batch->size();
    } catch (const image::ImageError& e) {
      message = e.what();
    }
    REQUIRE_THAT(message, Catch::Contains(broken.string()) && Catch::Contains("truncated"));
    REQUIRE(delivered == broken_index / 4 * 4);  // every batch before the broken one's
    REQUIRE_FALSE(loader.next().has_value());    // the workers are stopped; the pass is over
  }

  for (int64_t workers : {0, 3}) {
    INFO("workers " << workers);
    data::ImageBatchLoader<> loader(folder, data::ImageLoaderOptions().batch_size(4).workers(workers).skip_corrupt(true));
    std::vector<std::string> paths;
    for (auto& batch : loader) {
      REQUIRE(batch.images.size(0) == batch.size());
      REQUIRE(batch.labels.size(0) == batch.size());
      for (int64_t j = 0; j < batch.size(); ++j) {
        const auto& p = batch.paths[static_cast<std::size_t>(j)];
        paths.push_back(p);
        REQUIRE(torch::equal(batch.images[j], image::NotebookTransform{}(image::decode_image(p))));
      }
    }
    REQUIRE(loader.skipped() == 2);
    REQUIRE(loader.skipped_paths() == std::vector<std::string>{broken.string(), text.string()});
    REQUIRE_THAT(loader.skipped_reasons()[1], Catch::Contains("neither a JPEG nor a PNG"));
    REQUIRE(static_cast<int64_t>(paths.size()) == n - 2);
    REQUIRE(std::find(paths.begin(), paths.end(), broken.string()) == paths.end());
  }
}
