#pragma once
// A folder of images in torchvision's ImageFolder layout (root/<class>/**/<image>), and a
// multi-threaded loader that decodes and transforms its images into uint8 batches.
//
// ImageFolder follows torchvision 0.14's rules (datasets/folder.py) exactly: the classes are the
// sorted names of root's sub-folders (symlinks to folders count, hidden folders too); each class
// folder is walked as `sorted(os.walk(class_dir, followlinks=True))`, so folders are visited in the
// string order of their paths and the files of each in sorted order; a file is an image when its
// lower-cased name ends with one of IMG_EXTENSIONS. Names sort by their bytes, which for UTF-8 is
// Python's code-point order. A class without any image is an error, as in torchvision.
// Differences, for folders from elsewhere: each folder is walked once, however many symlinks lead
// to it (os.walk would loop on a cycle until the OS refuses, and walk a DAG of links exponentially),
// by the first path in sorted order; a symlink to the image folder or to a folder above it (such as
// `/`) is not followed, as it could only lead back in or out to unrelated files; and only regular
// files are samples (a FIFO named b.png would block its reader forever).
//
// ImageBatchLoader is DataLoader(ImageFolder(root, transform), batch_size, num_workers=W) for the
// notebook's transforms, in sample order (no shuffling), yielding uint8 batches; see its comment.

#include <sys/stat.h>
#include <sys/types.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "normlab/data/idx.hpp"  // DataError
#include "normlab/image/image.hpp"
#include "normlab/image/transforms.hpp"

namespace normlab::data {

/// torchvision's IMG_EXTENSIONS.
inline constexpr std::array<std::string_view, 9> kImageExtensions{
    ".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"};

/// has_file_allowed_extension(name, IMG_EXTENSIONS): the lower-cased name ends with one of them.
inline bool has_image_extension(std::string_view name) {
  for (const auto ext : kImageExtensions) {
    if (name.size() < ext.size()) continue;
    const auto tail = name.substr(name.size() - ext.size());
    bool same = true;
    for (std::size_t i = 0; i < ext.size() && same; ++i) {
      char c = tail[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      same = c == ext[i];
    }
    if (same) return true;
  }
  return false;
}

/// One image of an ImageFolder: its path (root joined with the relative path, as os.path.join
/// makes it) and its class index.
struct ImageSample {
  std::string path;
  int64_t target;
};

/**
 * The samples of a folder in torchvision's ImageFolder layout, found as torchvision 0.14 finds
 * them (see the file comment). Only names are read here; images are decoded by the loader.
 *
 * @param root the folder holding one sub-folder per class. Throws DataError when it does not
 *        exist, holds no class folder, or a class folder holds no image.
 */
class ImageFolder {
 public:
  explicit ImageFolder(const std::filesystem::path& root) : root_(root) {
    std::error_code ec;
    if (!std::filesystem::exists(root_, ec))
      throw DataError("normlab: image folder '" + root_.string() + "' does not exist");
    if (!std::filesystem::is_directory(root_, ec))
      throw DataError("normlab: image folder '" + root_.string() + "' is not a folder");
    find_classes();
    make_dataset();
  }

  const std::filesystem::path& root() const noexcept { return root_; }
  /// Class names, sorted; a class's index is its position.
  const std::vector<std::string>& classes() const noexcept { return classes_; }
  /// The index of a class name (torchvision's class_to_idx[name]); throws when there is none.
  int64_t class_index(const std::string& name) const {
    const auto it = std::lower_bound(classes_.begin(), classes_.end(), name);
    if (it == classes_.end() || *it != name)
      throw DataError("normlab: image folder '" + root_.string() + "' has no class '" + name + "'");
    return it - classes_.begin();
  }
  /// (path, class index) of every image, in torchvision's order.
  const std::vector<ImageSample>& samples() const noexcept { return samples_; }
  int64_t size() const noexcept { return static_cast<int64_t>(samples_.size()); }
  const ImageSample& operator[](int64_t i) const { return samples_.at(static_cast<std::size_t>(i)); }

 private:
  void find_classes() {
    std::error_code ec;
    std::filesystem::directory_iterator it(root_, ec), end;
    if (ec) throw DataError("normlab: cannot list image folder '" + root_.string() + "': " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) throw DataError("normlab: cannot list image folder '" + root_.string() + "': " + ec.message());
      std::error_code dir_ec;
      if (it->is_directory(dir_ec)) classes_.push_back(it->path().filename().string());
    }
    std::sort(classes_.begin(), classes_.end());
    if (classes_.empty())
      throw DataError("normlab: no class folders in image folder '" + root_.string() +
                      "' (ImageFolder expects root/<class>/<images>)");
  }

  /// os.walk(top, followlinks=True): every folder reached (following symlinks), with its regular
  /// files. Unreadable folders are skipped, as os.walk does without onerror. `visited` holds the
  /// (device, inode) of every folder walked or not to be walked (the image folder and those above).
  static void walk(const std::string& top, std::vector<std::pair<std::string, std::vector<std::string>>>& out,
                   std::set<std::pair<dev_t, ino_t>>& visited) {
    struct stat st {};
    if (::stat(top.c_str(), &st) != 0) return;
    if (!visited.insert({st.st_dev, st.st_ino}).second) return;  // walked already, or above the root
    std::error_code ec;
    std::filesystem::directory_iterator it(top, ec), end;
    if (ec) return;
    std::vector<std::string> files, dirs;
    for (; it != end; it.increment(ec)) {
      if (ec) break;
      std::error_code type_ec;
      auto name = it->path().filename().string();
      const auto type = it->status(type_ec).type();  // follows symlinks
      if (type == std::filesystem::file_type::directory)
        dirs.push_back(std::move(name));
      else if (type == std::filesystem::file_type::regular)
        files.push_back(std::move(name));
    }
    out.emplace_back(top, std::move(files));
    std::sort(dirs.begin(), dirs.end());  // the first path to a folder reached twice is kept
    for (const auto& d : dirs) walk(top + "/" + d, out, visited);
  }

  /// (device, inode) of the image folder and of every folder above it, up to `/`.
  std::set<std::pair<dev_t, ino_t>> root_and_above() const {
    std::set<std::pair<dev_t, ino_t>> ids;
    std::error_code ec;
    auto dir = std::filesystem::canonical(root_, ec);
    if (ec) return ids;
    while (true) {
      struct stat st {};
      if (::stat(dir.c_str(), &st) == 0) ids.insert({st.st_dev, st.st_ino});
      if (dir == dir.root_path() || !dir.has_parent_path() || dir.parent_path() == dir) break;
      dir = dir.parent_path();
    }
    return ids;
  }

  void make_dataset() {
    std::string base = root_.string();
    while (base.size() > 1 && base.back() == '/') base.pop_back();  // os.path.join adds no second '/'
    std::vector<std::string> empty;
    const auto above = root_and_above();
    for (std::size_t c = 0; c < classes_.size(); ++c) {
      const std::string class_dir = base + "/" + classes_[c];
      std::error_code ec;
      if (!std::filesystem::is_directory(class_dir, ec)) continue;
      std::vector<std::pair<std::string, std::vector<std::string>>> folders;
      auto visited = above;  // per class: a link into another class's folder still counts there
      walk(class_dir, folders, visited);
      std::sort(folders.begin(), folders.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      bool found = false;
      for (auto& [folder, files] : folders) {
        std::sort(files.begin(), files.end());
        for (const auto& f : files) {
          if (!has_image_extension(f)) continue;
          samples_.push_back({folder + "/" + f, static_cast<int64_t>(c)});
          found = true;
        }
      }
      if (!found) empty.push_back(classes_[c]);
    }
    if (!empty.empty()) {
      std::string names, exts;
      for (const auto& e : empty) names += (names.empty() ? "" : ", ") + e;
      for (const auto e : kImageExtensions) exts += (exts.empty() ? "" : ", ") + std::string(e);
      throw DataError("normlab: image folder '" + root_.string() + "': found no valid file for the classes " +
                      names + ". Supported extensions are: " + exts);
    }
  }

  std::filesystem::path root_;
  std::vector<std::string> classes_;
  std::vector<ImageSample> samples_;
};

namespace detail {
/// A batch being filled by the loader's workers.
struct LoaderSlot {
  torch::Tensor images;
  std::vector<std::exception_ptr> errors;
  int64_t remaining = 0;
  bool claimed = false;  // some sample of the batch has been claimed: images exists
};
}  // namespace detail

/// A batch of transformed images.
struct ImageBatch {
  torch::Tensor images;             ///< uint8 [B, 3, H, W]
  torch::Tensor labels;             ///< int64 [B]
  std::vector<std::string> paths;   ///< the B files, in order
  std::vector<int64_t> indices;     ///< their indices in the folder's samples()
  int64_t size() const { return static_cast<int64_t>(paths.size()); }
};

/**
 * Options of ImageBatchLoader; the names follow torch.utils.data.DataLoader.
 * @param batch_size images per batch (default 64, the notebook's); the last batch may be short.
 * @param workers threads that read, decode and transform images (default 4); 0 does the work on
 *        the calling thread inside next(), as num_workers=0.
 * @param prefetch batches each worker may have in flight ahead of the consumer (default 2,
 *        DataLoader's prefetch_factor): at most prefetch * workers batches exist at once.
 * @param limit only the first `limit` samples (default 0: all), as a Subset(range(limit)).
 * @param skip_corrupt skip images that cannot be read or decoded, counting them (default false:
 *        the first one in sample order throws its ImageError from next()).
 * @param order sample indices to visit, in this order (default empty: 0, 1, ..., N-1); `limit`
 *        applies to it. A permutation made from torch's generator gives a shuffled epoch.
 */
struct ImageLoaderOptions {
  TORCH_ARG(int64_t, batch_size) = 64;
  TORCH_ARG(int64_t, workers) = 4;
  TORCH_ARG(int64_t, prefetch) = 2;
  TORCH_ARG(int64_t, limit) = 0;
  TORCH_ARG(bool, skip_corrupt) = false;
  TORCH_ARG(std::vector<int64_t>, order) = {};
  /// Images above twice this many pixels are refused from their header, as Pillow's
  /// DecompressionBombError (default: Pillow's Image.MAX_IMAGE_PIXELS); <= 0: no limit.
  TORCH_ARG(int64_t, max_pixels) = image::kMaxImagePixels;
};

/**
 * One pass over an ImageFolder, as `DataLoader(ImageFolder(root, transform), batch_size,
 * num_workers=W)` makes it with the notebook's transform, but in C++ threads and keeping uint8
 * (normlab::BatchNormalizer does the / 255 and Normalize on the device).
 *
 * Worker threads claim samples one at a time, read and decode them, and write the transformed
 * pixels straight into their batch's tensor; batches are handed out strictly in order, so the
 * result never depends on the number of workers or on timing. At most prefetch * workers batches
 * are in flight (a bounded queue), so memory stays bounded however slow the consumer.
 *
 * An image that cannot be read or decoded makes next() throw its ImageError, which names the
 * file, once the batch holding it is due; the workers are stopped and joined first. With
 * skip_corrupt the image is left out of its batch instead (so that batch is shorter, and a batch
 * left empty is not yielded), counted by skipped() and named by skipped_paths(): never silently.
 *
 * @tparam Transform a normlab::image::Compose (default: the notebook's Resize(256), ToTensor,
 *         CenterCrop(224)) that makes a tensor of fixed size.
 */
template <typename Transform = image::NotebookTransform>
class ImageBatchLoader {
  static_assert(Transform::makes_tensor,
                "normlab::data::ImageBatchLoader needs a transform that makes a tensor (put ToTensor "
                "in it), as DataLoader collates tensors");
  static_assert(Transform::fixed_height > 0 && Transform::fixed_width > 0,
                "normlab::data::ImageBatchLoader needs a transform whose output size does not depend "
                "on the image (a CenterCrop after the last Resize), so that images stack into batches");

 public:
  static constexpr int64_t kHeight = Transform::fixed_height, kWidth = Transform::fixed_width;

  ImageBatchLoader(const ImageFolder& folder, ImageLoaderOptions options = {}, Transform transform = {})
      : options_(std::move(options)), transform_(std::move(transform)) {
    if (options_.batch_size() <= 0)
      throw std::invalid_argument("normlab::data::ImageBatchLoader: batch_size must be positive");
    if (options_.workers() < 0 || options_.prefetch() <= 0)
      throw std::invalid_argument("normlab::data::ImageBatchLoader: workers must be >= 0 and prefetch > 0");
    const auto& all = folder.samples();
    std::vector<int64_t> order = options_.order();
    if (order.empty()) {
      order.resize(all.size());
      for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    }
    if (options_.limit() > 0 && options_.limit() < static_cast<int64_t>(order.size()))
      order.resize(static_cast<std::size_t>(options_.limit()));
    samples_.reserve(order.size());
    for (const auto i : order) {
      if (i < 0 || i >= static_cast<int64_t>(all.size()))
        throw std::out_of_range("normlab::data::ImageBatchLoader: sample index " + std::to_string(i) +
                                " is outside the folder's " + std::to_string(all.size()) + " samples");
      samples_.push_back(all[static_cast<std::size_t>(i)]);
      indices_.push_back(i);
    }
    const int64_t n = size();
    batches_ = (n + options_.batch_size() - 1) / options_.batch_size();
    window_ = std::max<int64_t>(1, options_.prefetch() * std::max<int64_t>(1, options_.workers()));
    slots_.resize(static_cast<std::size_t>(std::min(window_, std::max<int64_t>(1, batches_))));
    try {
      for (int64_t w = 0; w < options_.workers(); ++w) threads_.emplace_back([this] { work(); });
    } catch (...) {  // a thread that cannot start: stop the others before giving up
      stop();
      throw;
    }
  }

  ImageBatchLoader(const ImageBatchLoader&) = delete;
  ImageBatchLoader& operator=(const ImageBatchLoader&) = delete;
  ~ImageBatchLoader() { stop(); }

  /// Samples in the pass (after limit).
  int64_t size() const noexcept { return static_cast<int64_t>(samples_.size()); }
  /// Batches in the pass (fewer are yielded when skip_corrupt empties some).
  int64_t batches() const noexcept { return batches_; }
  /// Images skipped so far (skip_corrupt).
  int64_t skipped() const noexcept { return static_cast<int64_t>(skipped_paths_.size()); }
  /// The files skipped so far, with why, in sample order.
  const std::vector<std::string>& skipped_paths() const noexcept { return skipped_paths_; }
  const std::vector<std::string>& skipped_reasons() const noexcept { return skipped_reasons_; }

  /// The next batch, or nothing at the end of the pass.
  std::optional<ImageBatch> next() {
    while (next_batch_ < batches_ && !failed_) {
      const int64_t b = next_batch_++;
      Slot slot = options_.workers() == 0 ? load_here(b) : take(b);
      if (auto batch = finish(b, std::move(slot))) return batch;
    }
    return std::nullopt;
  }

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = ImageBatch;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(ImageBatchLoader* loader) : loader_(loader) { ++*this; }
    ImageBatch& operator*() { return *current_; }
    ImageBatch* operator->() { return &*current_; }
    iterator& operator++() {
      current_ = loader_->next();
      if (!current_) loader_ = nullptr;
      return *this;
    }
    bool operator==(const iterator& other) const { return loader_ == other.loader_; }
    bool operator!=(const iterator& other) const { return !(*this == other); }

   private:
    ImageBatchLoader* loader_ = nullptr;
    std::optional<ImageBatch> current_;
  };
  /// Batches from the current position of the pass (a pass is consumed once).
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

 private:
  static constexpr int64_t kImageBytes = 3 * kHeight * kWidth;

  using Slot = detail::LoaderSlot;

  int64_t batch_begin(int64_t b) const { return b * options_.batch_size(); }
  int64_t batch_count(int64_t b) const { return std::min(options_.batch_size(), size() - batch_begin(b)); }
  Slot& slot(int64_t b) { return slots_[static_cast<std::size_t>(b % static_cast<int64_t>(slots_.size()))]; }

  void claim_slot(Slot& s, int64_t b) {
    const int64_t count = batch_count(b);
    s.images = torch::empty({count, 3, kHeight, kWidth}, torch::kUInt8);
    s.errors.assign(static_cast<std::size_t>(count), nullptr);
    s.remaining = count;
    s.claimed = true;
  }

  /// Reads, decodes and transforms one sample into `out`; the error, if any, is returned.
  std::exception_ptr load_one(int64_t i, uint8_t* out, image::Image& img, std::vector<uint8_t>& bytes) const {
    try {
      image::decode_image(samples_[static_cast<std::size_t>(i)].path, img, bytes, options_.max_pixels());
      transform_.into(img, out);
      return nullptr;
    } catch (...) {
      return std::current_exception();
    }
  }

  void work() {
    image::Image img;
    std::vector<uint8_t> bytes;
    const int64_t n = size(), bs = options_.batch_size(), slots = static_cast<int64_t>(slots_.size());
    try {
      for (;;) {
        int64_t i = 0, b = 0;
        uint8_t* out = nullptr;
        {
          std::unique_lock lock(mutex_);
          work_cv_.wait(lock, [&] {
            return stop_ || next_sample_ >= n || next_sample_ / bs < consumed_ + slots;
          });
          if (stop_ || next_sample_ >= n) return;
          i = next_sample_++;
          b = i / bs;
          Slot& s = slot(b);
          if (!s.claimed) claim_slot(s, b);
          out = s.images.data_ptr<uint8_t>() + (i - batch_begin(b)) * kImageBytes;
        }
        auto error = load_one(i, out, img, bytes);
        {
          std::lock_guard lock(mutex_);
          Slot& s = slot(b);
          if (error) s.errors[static_cast<std::size_t>(i - batch_begin(b))] = std::move(error);
          if (--s.remaining == 0) ready_cv_.notify_all();
        }
      }
    } catch (...) {  // not an image's fault (out of memory...): the consumer rethrows it
      std::lock_guard lock(mutex_);
      if (!fatal_) fatal_ = std::current_exception();
      ready_cv_.notify_all();
    }
  }

  /// Waits for batch b from the workers and frees its slot.
  Slot take(int64_t b) {
    std::unique_lock lock(mutex_);
    ready_cv_.wait(lock, [&] { return fatal_ || (slot(b).claimed && slot(b).remaining == 0); });
    if (fatal_) {
      auto fatal = fatal_;
      lock.unlock();
      failed_ = true;
      stop();
      std::rethrow_exception(fatal);
    }
    Slot out = std::move(slot(b));
    slot(b) = Slot{};
    ++consumed_;
    work_cv_.notify_all();
    return out;
  }

  /// workers == 0: batch b, loaded on this thread.
  Slot load_here(int64_t b) {
    Slot s;
    claim_slot(s, b);
    for (int64_t j = 0; j < s.remaining; ++j)
      s.errors[static_cast<std::size_t>(j)] = load_one(
          batch_begin(b) + j, s.images.data_ptr<uint8_t>() + j * kImageBytes, here_image_, here_bytes_);
    s.remaining = 0;
    return s;
  }

  /// The batch from a filled slot: errors thrown (or skipped), labels and paths attached.
  std::optional<ImageBatch> finish(int64_t b, Slot s) {
    const int64_t first = batch_begin(b), count = batch_count(b);
    std::vector<int64_t> keep;
    keep.reserve(static_cast<std::size_t>(count));
    for (int64_t j = 0; j < count; ++j) {
      const auto& error = s.errors[static_cast<std::size_t>(j)];
      if (!error) {
        keep.push_back(j);
        continue;
      }
      if (!options_.skip_corrupt()) {
        failed_ = true;
        stop();
        std::rethrow_exception(error);
      }
      skipped_paths_.push_back(samples_[static_cast<std::size_t>(first + j)].path);
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        skipped_reasons_.push_back(e.what());
      } catch (...) {
        skipped_reasons_.push_back("unknown error");
      }
    }
    if (keep.empty()) return std::nullopt;
    ImageBatch batch;
    batch.images = std::move(s.images);
    if (static_cast<int64_t>(keep.size()) < count) {  // close the gaps, in place
      auto* data = batch.images.data_ptr<uint8_t>();
      for (std::size_t k = 0; k < keep.size(); ++k)
        if (keep[k] != static_cast<int64_t>(k))
          std::memmove(data + k * kImageBytes, data + keep[k] * kImageBytes, kImageBytes);
      batch.images = batch.images.narrow(0, 0, static_cast<int64_t>(keep.size()));
    }
    batch.labels = torch::empty({static_cast<int64_t>(keep.size())}, torch::kInt64);
    auto* labels = batch.labels.data_ptr<int64_t>();
    for (std::size_t k = 0; k < keep.size(); ++k) {
      const auto i = static_cast<std::size_t>(first + keep[k]);
      labels[k] = samples_[i].target;
      batch.paths.push_back(samples_[i].path);
      batch.indices.push_back(indices_[i]);
    }
    return batch;
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

  ImageLoaderOptions options_;
  Transform transform_;
  std::vector<ImageSample> samples_;
  std::vector<int64_t> indices_;
  int64_t batches_ = 0, window_ = 1;

  std::mutex mutex_;
  std::condition_variable work_cv_, ready_cv_;
  std::vector<Slot> slots_;
  int64_t next_sample_ = 0;  // next sample a worker claims
  int64_t consumed_ = 0;     // batches taken by the consumer
  bool stop_ = false;
  std::exception_ptr fatal_;
  std::vector<std::thread> threads_;

  int64_t next_batch_ = 0;
  bool failed_ = false;
  std::vector<std::string> skipped_paths_, skipped_reasons_;
  image::Image here_image_;
  std::vector<uint8_t> here_bytes_;
};

}  // namespace normlab::data
