#pragma once
// What a Normalization policy must have, checked with one sentence per missing member, and the one
// place that makes a policy's normalizer. A Normalization policy is:
//
//   struct MyNormalization {
//     using normlab_policy = normlab::policy::Normalization;
//     static constexpr const char* name = "my-normalization";
//     using normalizer = MyNormalizer;                // constructible from (values, device);
//                                                     // torch::Tensor operator()(uint8 [N,C,H,W])
//     static normlab::NormalizationValues values();   // its (mean, std), or the default of
//     static constexpr bool takes_runtime_values = true;  // <- a study's trials (optional)
//     static constexpr bool affine_in_values = true;      // output is (z - mean) / std (optional)
//   };
//
// A normalizer that learns (it has `std::vector<torch::Tensor> parameters()`) is trained with the
// network: the Pipeline hands its parameters to the optimizer after the model's. docs/pipeline.md
// has worked examples; normalize/per_image.hpp and normalize/learned_affine.hpp are two.

#include <concepts>
#include <torch/torch.h>
#include <type_traits>
#include <vector>

#include "normlab/normalize/batch_normalizer.hpp"
#include "normlab/normalize/normalize.hpp"
#include "normlab/normalize/values.hpp"
#include "normlab/policy.hpp"

namespace normlab {

/// Turns a uint8 [N, C, H, W] batch on the device into the network's float input.
template <class N>
concept Normalizer = std::constructible_from<N, NormalizationValues, torch::Device> &&
                     requires(N& n, const torch::Tensor& raw) {
                       { n(raw) } -> std::convertible_to<torch::Tensor>;
                     };

/// A Normalizer with parameters of its own, trained with the network.
template <class N>
concept LearnedNormalizer = Normalizer<N> && requires(N& n) {
  { n.parameters() } -> std::convertible_to<std::vector<torch::Tensor>>;
};

namespace detail {

/// One static_assert per missing member of a Normalization policy, each a normlab sentence.
template <class Policy>
constexpr bool check_normalization_policy() {
  static_assert(requires { typename Policy::normalizer; },
                "normlab: a Normalization policy needs `using normalizer = ...;`, the class that turns a "
                "uint8 batch into the network's input (normalize/normalizer.hpp, docs/pipeline.md)");
  if constexpr (requires { typename Policy::normalizer; })
    static_assert(Normalizer<typename Policy::normalizer>,
                  "normlab: a Normalization policy's `normalizer` must be constructible from "
                  "(normlab::NormalizationValues, torch::Device) and have torch::Tensor "
                  "operator()(const torch::Tensor& uint8_batch) (normalize/normalizer.hpp)");
  static_assert(requires { { Policy::values() } -> std::convertible_to<NormalizationValues>; },
                "normlab: a Normalization policy needs `static NormalizationValues values()`: its (mean, "
                "std), or the default when it takes them at run time (normalize/normalizer.hpp)");
  static_assert(requires { { Policy::name } -> std::convertible_to<const char*>; },
                "normlab: a Normalization policy needs `static constexpr const char* name` (it names the "
                "policy in logs, errors and study records)");
  return true;
}

/// Whether Policy's normalizer is torchvision's ToTensor + Normalize (BatchNormalizer), as the
/// stacked K-variant trainer (train/variant_trainer.hpp) reimplements it.
template <class Policy>
inline constexpr bool uses_batch_normalizer = std::is_base_of_v<BatchNormalizer, typename Policy::normalizer>;

}  // namespace detail

/// The normalizer of a Normalization policy for these (validated) values, on `device`.
template <class Policy>
typename Policy::normalizer make_normalizer(const NormalizationValues& values, torch::Device device) {
  static_assert(detail::check_normalization_policy<Policy>());
  values.validate();
  return typename Policy::normalizer(values, device);
}

/// The parameters the optimizer trains: the model's, then the normalizer's when it learns.
template <class Module, class N>
std::vector<torch::Tensor> trained_parameters(Module& net, N& normalizer) {
  auto parameters = net->parameters();
  if constexpr (LearnedNormalizer<N>)
    for (auto& p : normalizer.parameters()) parameters.push_back(p);
  return parameters;
}

}  // namespace normlab
