#pragma once
// Turns a slice of the uint8 data set into the network's input: ToTensor's /255, then
// Normalize's (x - mean) / std, as one batched pass on the device into a reused buffer (no
// per-sample work, no allocation per step). The arithmetic is torchvision's, in float32 and in the
// same order, so results are bit-identical to ToTensor + Normalize.

#include <torch/torch.h>

#include "normlab/normalize/values.hpp"

namespace normlab {

class BatchNormalizer {
 public:
  /// @param values  validated here; one value or one per channel
  /// @param device  where batches are made
  /// @param identity skip the (x - 0) / 1 arithmetic
  BatchNormalizer(NormalizationValues values, torch::Device device, bool identity = false)
      : values_(std::move(values)), identity_(identity) {
    values_.validate();
    auto as_tensor = [&](const std::vector<double>& v) {
      // torchvision converts the Python floats to float32 tensors of shape [C, 1, 1].
      return torch::tensor(v, torch::dtype(torch::kFloat64))
          .to(torch::kFloat32)
          .view({1, static_cast<int64_t>(v.size()), 1, 1})
          .to(device);
    };
    mean_ = as_tensor(values_.mean);
    std_ = as_tensor(values_.std);
  }

  const NormalizationValues& values() const { return values_; }

  /// Converts `raw` (uint8 [N, C, H, W], on the device) into a float batch. The returned tensor
  /// views an internal buffer that the next call overwrites.
  torch::Tensor operator()(const torch::Tensor& raw) {
    if (raw.dim() != 4)
      throw std::invalid_argument("normlab::BatchNormalizer: expected a [N, C, H, W] batch");
    const auto channels = raw.size(1);
    if (values_.channels() != 1 && static_cast<int64_t>(values_.channels()) != channels)
      throw std::invalid_argument("normlab::BatchNormalizer: " + std::to_string(values_.channels()) +
                                  " normalization channels for images with " +
                                  std::to_string(channels) + " channels");
    if (!buffer_.defined() || buffer_.size(0) < raw.size(0) || buffer_.sizes().slice(1) != raw.sizes().slice(1))
      buffer_ = torch::empty(raw.sizes(), raw.options().dtype(torch::kFloat32));
    auto batch = buffer_.narrow(0, 0, raw.size(0));
    batch.copy_(raw);
    batch.div_(255);
    if (!identity_) batch.sub_(mean_).div_(std_);
    return batch;
  }

 private:
  NormalizationValues values_;
  bool identity_;
  torch::Tensor mean_, std_, buffer_;
};

}  // namespace normlab
