#pragma once
// normalize::PerImageStandardize: each image standardised by its own statistics, as TensorFlow's
// tf.image.per_image_standardization, then the (mean, std) of the run:
//
//   x = byte / 255;  z = (x - mean(x)) / max(std(x), 1 / sqrt(C*H*W));  out = (z - m) / s
//
// mean(x) and std(x) (population) over the whole image, all channels. What it asks of the
// notebook's question: with each image's own offset and scale removed, does the (m, s) still matter?
// Its output is (z - m) / s, so the conv1 compensations apply (affine_in_values). The twin is the
// same ATen ops in Python (scripts/golden/normalizer_golden.py).

#include <cmath>
#include <stdexcept>
#include <string>
#include <torch/torch.h>

#include "normlab/normalize/normalize.hpp"
#include "normlab/normalize/values.hpp"
#include "normlab/policy.hpp"

namespace normlab {
namespace normalize {

/// PerImageStandardize's normalizer.
class PerImageStandardizer {
 public:
  PerImageStandardizer(NormalizationValues values, torch::Device device) : values_(std::move(values)) {
    values_.validate();
    mean_ = channel_tensor(values_.mean, device);
    std_ = channel_tensor(values_.std, device);
    // A divisor in a tensor, as BatchNormalizer: CUDA divides by it instead of multiplying.
    k255_ = torch::full({}, 255.0f, torch::dtype(torch::kFloat32).device(device));
  }

  const NormalizationValues& values() const { return values_; }

  torch::Tensor operator()(const torch::Tensor& raw) const {
    if (raw.dim() != 4)
      throw std::invalid_argument("normlab::normalize::PerImageStandardize: expected a [N, C, H, W] batch");
    if (values_.channels() != 1 && static_cast<int64_t>(values_.channels()) != raw.size(1))
      throw std::invalid_argument("normlab::normalize::PerImageStandardize: " + std::to_string(values_.channels()) +
                                  " normalization channels for images with " + std::to_string(raw.size(1)) +
                                  " channels");
    const auto x = raw.to(torch::kFloat32).div_(k255_);
    const auto centred = x - x.mean({1, 2, 3}, /*keepdim=*/true);
    const double floor = 1.0 / std::sqrt(static_cast<double>(raw.size(1) * raw.size(2) * raw.size(3)));
    const auto spread = centred.square().mean({1, 2, 3}, /*keepdim=*/true).sqrt_().clamp_min_(floor);
    return centred.div(spread).sub_(mean_).div_(std_);
  }

 private:
  static torch::Tensor channel_tensor(const std::vector<double>& v, torch::Device device) {
    return torch::tensor(v, torch::dtype(torch::kFloat64))
        .to(torch::kFloat32)
        .view({1, static_cast<int64_t>(v.size()), 1, 1})
        .to(device);
  }

  NormalizationValues values_;
  torch::Tensor mean_, std_, k255_;
};

/// Per-image standardisation, then the run's (mean, std) (default (0, 1): standardisation alone).
struct PerImageStandardize {
  using normlab_policy = policy::Normalization;
  using normalizer = PerImageStandardizer;
  static constexpr const char* name = "normalize::PerImageStandardize";
  static constexpr bool takes_runtime_values = true;
  static constexpr bool affine_in_values = true;
  static NormalizationValues values() { return NormalizationValues::uniform(0.0, 1.0); }
};

}  // namespace normalize
}  // namespace normlab
