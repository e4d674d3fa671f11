#pragma once
// Dataset policies for MNIST and Fashion-MNIST in torchvision's layout: <root>/MNIST/raw/ and
// <root>/FashionMNIST/raw/ holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each raw or .gz. A root that holds the four
// files itself also works.

#include <filesystem>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "normlab/detail/compiled.hpp"
#include "normlab/data/dataset.hpp"
#include "normlab/data/idx.hpp"
#include "normlab/policy.hpp"

namespace normlab::data {

/// Finds `<stem>` or `<stem>.gz` in the places torchvision and users keep them.
inline std::filesystem::path find_idx(const std::filesystem::path& root, const std::string& folder,
                                      const std::string& stem) {
  if (!std::filesystem::is_directory(root))
    throw DataError("normlab: data directory '" + root.string() +
                    "' does not exist (run scripts/get-data.sh, or pass --data DIR)");
  const std::vector<std::filesystem::path> dirs{root / folder / "raw", root / folder, root};
  std::string looked;
  for (const auto& dir : dirs) {
    for (const auto& name : {stem, stem + ".gz"}) {
      if (std::filesystem::is_regular_file(dir / name)) return dir / name;
      looked += "\n  " + (dir / name).string();
    }
  }
  throw DataError("normlab: no " + folder + " file '" + stem + "[.gz]' under '" + root.string() +
                  "'; looked for:" + looked);
}

/// Images and labels from one IDX pair; their counts must agree and the images must be 3-D.
inline LabelledImages read_idx_pair(const std::filesystem::path& images_path,
                                    const std::filesystem::path& labels_path) {
  auto images = read_idx(images_path, 3);
  auto labels = read_idx(labels_path, 1);
  if (images.dim() != 3)
    throw DataError("normlab: '" + images_path.string() + "' holds " +
                    std::to_string(images.dim()) + "-D data; expected images [N, H, W]");
  if (labels.dim() != 1)
    throw DataError("normlab: '" + labels_path.string() + "' holds " +
                    std::to_string(labels.dim()) + "-D data; expected labels [N]");
  if (images.size(0) != labels.size(0))
    throw DataError("normlab: '" + images_path.string() + "' holds " +
                    std::to_string(images.size(0)) + " images but '" + labels_path.string() +
                    "' holds " + std::to_string(labels.size(0)) + " labels");
  return {images.unsqueeze(1), labels.to(torch::kInt64)};
}

/// Reads both halves of an MNIST-like set from <root>/<folder>.
NORMLAB_INLINE TrainTest read_mnist_like(const std::filesystem::path& root, const std::string& folder);
#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE TrainTest read_mnist_like(const std::filesystem::path& root, const std::string& folder) {
  auto half = [&](const std::string& prefix) {
    const auto images = find_idx(root, folder, prefix + "-images-idx3-ubyte");
    const auto labels = find_idx(root, folder, prefix + "-labels-idx1-ubyte");
    auto pair = read_idx_pair(images, labels);
    // What LeNet and the loss assume, said here with the file's name rather than by LibTorch later.
    if (pair.images.size(2) != 28 || pair.images.size(3) != 28)
      throw DataError("normlab: '" + images.string() + "' holds " + std::to_string(pair.images.size(2)) + "x" +
                      std::to_string(pair.images.size(3)) + " images; MNIST-like sets are 28x28");
    if (pair.labels.numel() > 0) {
      const auto top = pair.labels.max().item<int64_t>();
      if (top >= 10)
        throw DataError("normlab: '" + labels.string() + "' holds the label " + std::to_string(top) +
                        "; MNIST-like sets have the 10 classes 0..9");
    }
    return pair;
  };
  return {half("train"), half("t10k"), 10};
}
#endif

/// MNIST handwritten digits (torchvision's datasets.MNIST layout).
struct Mnist {
  using normlab_policy = policy::Dataset;
  static constexpr const char* name = "mnist";
  static constexpr const char* folder = "MNIST";
  static TrainTest load(const std::filesystem::path& root) { return read_mnist_like(root, folder); }
};

/// Fashion-MNIST (torchvision's datasets.FashionMNIST layout), same format as MNIST.
struct FashionMnist {
  using normlab_policy = policy::Dataset;
  static constexpr const char* name = "fashion-mnist";
  static constexpr const char* folder = "FashionMNIST";
  static TrainTest load(const std::filesystem::path& root) { return read_mnist_like(root, folder); }
};

/// Loads a data set chosen at run time by name ("mnist" or "fashion-mnist").
inline TrainTest load_by_name(const std::string& name, const std::filesystem::path& root) {
  if (name == Mnist::name) return Mnist::load(root);
  if (name == FashionMnist::name) return FashionMnist::load(root);
  throw std::invalid_argument("normlab: unknown dataset '" + name +
                              "' (expected mnist or fashion-mnist)");
}

}  // namespace normlab::data
