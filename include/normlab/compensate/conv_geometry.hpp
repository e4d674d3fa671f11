#pragma once
// What the algebra of ../compensate needs to know about a convolution: whether it zero-pads.
// LibTorch stores padding in a variant whose type changed between 1.13 (c10::variant) and 2.x
// (std::variant); an unqualified get_if finds the right one by argument-dependent lookup.

#include <torch/torch.h>

namespace normlab::detail {

/// True when the conv pads its input with zeros somewhere (padding > 0 or 'same' with zeros).
/// Reflect/replicate/circular padding commute with an affine input map, so they count as no padding.
inline bool zero_pads(const torch::nn::Conv2d& conv) {
  const auto& options = conv->options;
  if (!get_if<torch::enumtype::kZeros>(&options.padding_mode())) return false;
  const auto& padding = options.padding();
  if (const auto* sizes = get_if<torch::ExpandingArray<2>>(&padding))
    return (*sizes)->at(0) != 0 || (*sizes)->at(1) != 0;
  if (get_if<torch::enumtype::kValid>(&padding)) return false;
  const auto& kernel = options.kernel_size();  // kSame pads whenever the kernel is larger than 1
  return kernel->at(0) > 1 || kernel->at(1) > 1;
}

}  // namespace normlab::detail
