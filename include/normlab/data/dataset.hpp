#pragma once
// A labelled image set held whole in memory: uint8 images [N, C, H, W] and int64 labels [N].
// Kept as uint8 so the data moves to the device once, 4x smaller than floats; batches are
// converted and normalized there (BatchNormalizer).

#include <cstdint>
#include <stdexcept>
#include <string>
#include <torch/torch.h>

namespace normlab::data {

struct LabelledImages {
  torch::Tensor images;  ///< uint8 [N, C, H, W]
  torch::Tensor labels;  ///< int64 [N]

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }

  /// The first `limit` samples (all when limit <= 0 or >= size), as torch.utils.data.Subset(range).
  LabelledImages first(int64_t limit) const {
    if (limit <= 0 || limit >= size()) return *this;
    return {images.narrow(0, 0, limit), labels.narrow(0, 0, limit)};
  }

  LabelledImages to(torch::Device device) const {
    return {images.to(device), labels.to(device)};
  }
};

/// The two halves of a benchmark set.
struct TrainTest {
  LabelledImages train;
  LabelledImages test;
  int64_t classes = 10;
};

}  // namespace normlab::data
