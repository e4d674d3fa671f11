#pragma once
// An image folder as the Pipeline's Dataset slot: data::ImageFolderData<Transform>. The ResNet
// protocol (Pipeline::run_images, train/image_protocol.hpp) decodes its test images once and
// streams its training images epoch by epoch with the policy's Transform; load() decodes both
// folders whole, for Pipeline::run on a folder small enough to hold in memory as uint8.

#include <cstdint>
#include <filesystem>
#include <string>
#include <torch/torch.h>
#include <utility>
#include <vector>

#include "normlab/data/dataset.hpp"
#include "normlab/data/image_folder.hpp"
#include "normlab/image/transforms.hpp"
#include "normlab/policy.hpp"

namespace normlab::data {

/// An image folder decoded and transformed once (uint8 [N, C, H, W]), with each image's path, the
/// folder's classes and the count of corrupt images skipped.
struct DecodedImages {
  LabelledImages set;
  std::vector<std::string> paths;
  std::vector<std::string> classes;
  int64_t skipped = 0;
};

/// Decodes the first `limit` images (0: all) of the ImageFolder at `root` with Transform, on
/// `workers` threads, in torchvision's order. Throws DataError when no image could be read.
template <class Transform = image::NotebookTransform>
DecodedImages decode_image_folder(const std::filesystem::path& root, int64_t limit, int64_t workers,
                                  bool skip_corrupt) {
  ImageFolder folder(root);
  ImageBatchLoader<Transform> loader(
      folder, ImageLoaderOptions().batch_size(256).workers(workers).limit(limit).skip_corrupt(skip_corrupt));
  std::vector<torch::Tensor> images, labels;
  DecodedImages out;
  out.classes = folder.classes();
  for (auto& batch : loader) {
    images.push_back(batch.images);
    labels.push_back(batch.labels);
    out.paths.insert(out.paths.end(), batch.paths.begin(), batch.paths.end());
  }
  out.skipped = loader.skipped();
  if (images.empty()) throw DataError("normlab: no readable image in '" + root.string() + "'");
  out.set = {torch::cat(images), torch::cat(labels)};
  return out;
}

/**
 * The Dataset policy of an image folder: `root/train` and `root/val` in torchvision's ImageFolder
 * layout, each image made by Transform (default: the notebook's Resize(256), ToTensor,
 * CenterCrop(224)). The ResNet protocol (Pipeline::run_images) reads it its own way (test images
 * once, training images streamed per epoch); load() is for Pipeline::run.
 *
 * @tparam Transform a normlab::image::Compose that makes a tensor of fixed size
 */
template <class Transform = image::NotebookTransform>
struct ImageFolderData {
  using normlab_policy = policy::Dataset;
  using transform = Transform;
  static constexpr const char* name = "image-folder";

  /// Both folders, decoded whole (two threads); classes: the training folder's.
  static TrainTest load(const std::filesystem::path& root) {
    auto train = decode_image_folder<Transform>(root / "train", 0, 2, false);
    auto test = decode_image_folder<Transform>(root / "val", 0, 2, false);
    return {std::move(train.set), std::move(test.set), static_cast<int64_t>(train.classes.size())};
  }
};

/// Whether a Dataset policy is an image folder (it names its Transform): Pipeline::run_images needs one.
template <class D>
inline constexpr bool is_image_folder_data = requires { typename D::transform; };

}  // namespace normlab::data
