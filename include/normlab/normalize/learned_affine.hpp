#pragma once
// normalize::LearnedAffine: the input affine (x / 255 - m) / s with m and s trained with the network,
// starting from the run's (mean, std). The notebook's question asked of a network that may undo its
// normalization: does the starting point still matter once the net can move it?
//
// One (m, s) per channel of the values given (one for all channels, or one each). At the start
// the output has BatchNormalizer's ATen bits ((x / 255 - m) / s in float32), so the conv1
// compensations apply as to Normalize (affine_in_values). The Pipeline hands m and s to the
// optimizer after the model's parameters (normalize/normalizer.hpp, trained_parameters).

#include <stdexcept>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "normlab/normalize/normalize.hpp"
#include "normlab/normalize/values.hpp"
#include "normlab/policy.hpp"

namespace normlab {
namespace normalize {

/// LearnedAffine's normalizer. Copies share the parameters (torch::Tensor is a handle).
class LearnedAffineNormalizer {
 public:
  LearnedAffineNormalizer(NormalizationValues values, torch::Device device) {
    values.validate();
    auto as_parameter = [&](const std::vector<double>& v) {
      return torch::tensor(v, torch::dtype(torch::kFloat64))
          .to(torch::kFloat32)
          .view({1, static_cast<int64_t>(v.size()), 1, 1})
          .to(device)
          .set_requires_grad(true);
    };
    mean_ = as_parameter(values.mean);
    std_ = as_parameter(values.std);
    k255_ = torch::full({}, 255.0f, torch::dtype(torch::kFloat32).device(device));
  }

  /// The trained shift and scale, [1, C, 1, 1] each (C = 1 when one value covers every channel).
  std::vector<torch::Tensor> parameters() const { return {mean_, std_}; }

  /// The current (mean, std), e.g. to record what training made of the start.
  NormalizationValues values() const {
    auto list = [](const torch::Tensor& t) {
      auto flat = t.detach().to(torch::kCPU, torch::kFloat64).contiguous().view(-1);
      return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
    };
    return {list(mean_), list(std_)};
  }

  torch::Tensor operator()(const torch::Tensor& raw) const {
    if (raw.dim() != 4)
      throw std::invalid_argument("normlab::normalize::LearnedAffine: expected a [N, C, H, W] batch");
    if (mean_.size(1) != 1 && mean_.size(1) != raw.size(1))
      throw std::invalid_argument("normlab::normalize::LearnedAffine: " + std::to_string(mean_.size(1)) +
                                  " normalization channels for images with " + std::to_string(raw.size(1)) +
                                  " channels");
    return raw.to(torch::kFloat32).div_(k255_).sub(mean_).div(std_);
  }

 private:
  torch::Tensor mean_, std_, k255_;
};

/// A learned input affine, starting from the run's (mean, std) (default (0, 1)).
struct LearnedAffine {
  using normlab_policy = policy::Normalization;
  using normalizer = LearnedAffineNormalizer;
  static constexpr const char* name = "normalize::LearnedAffine";
  static constexpr bool takes_runtime_values = true;
  static constexpr bool affine_in_values = true;
  static NormalizationValues values() { return NormalizationValues::uniform(0.0, 1.0); }
};

}  // namespace normalize
}  // namespace normlab
