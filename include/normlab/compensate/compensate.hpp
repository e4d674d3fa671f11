#pragma once
// Compensation policies: how conv1 is adjusted when the input is normalized, so that networks fed
// differently normalized inputs start from comparable functions (../../docs/compensation.md).
//
// - compensate::Notebook: the notebook's `conv1.bias -= mean; conv1.weight /= std`, kept to
//   reproduce it. It is not function-preserving (the exact form multiplies by std).
// Each declares the Normalization policies it applies to (applies_to): the two that adjust conv1 to
// (mean, std) need an input (z - mean) / std; None applies to every one.
// - compensate::Exact: W' = s_c W, b' = b + sum_c m_c sum_k W[o,c,k]: the freshly initialised net
//   computes on normalized input exactly what it computed on raw input.
// - compensate::None: leave conv1 alone.
// And fold_normalization(): removes a Normalize from a trained net by folding it into conv1.
//
// Where conv1 zero-pads and a mean is not 0, no change of weights is exact (the padded border
// would have to hold the mean), so the exact forms refuse with an error instead of approximating.

#include <stdexcept>
#include <string>
#include <type_traits>
#include <torch/torch.h>

#include "normlab/compensate/conv_geometry.hpp"
#include "normlab/normalize/normalize.hpp"
#include "normlab/normalize/values.hpp"
#include "normlab/policy.hpp"

namespace normlab {
namespace detail {

inline void check_channels(const torch::nn::Conv2d& conv, const NormalizationValues& v,
                           const char* who) {
  v.validate();
  const auto in = conv->options.in_channels();
  if (v.channels() != 1 && static_cast<int64_t>(v.channels()) != in)
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(v.channels()) +
                                " normalization channels for a conv with " + std::to_string(in) +
                                " input channels");
  if (conv->options.groups() != 1)
    throw std::invalid_argument(std::string(who) + ": grouped first convolutions are not supported");
}

/// Per-input-channel values as a float64 tensor of shape [1, C, 1, 1] (C = conv's in_channels).
inline torch::Tensor per_channel(const std::vector<double>& v, int64_t channels) {
  auto t = torch::tensor(v, torch::dtype(torch::kFloat64));
  return t.expand({channels}).reshape({1, channels, 1, 1}).clone();
}

inline bool all_zero(const std::vector<double>& v) {
  for (double x : v)
    if (x != 0.0) return false;
  return true;
}

/// The exact forms are exact only without zero padding, or with every mean at 0.
inline void require_exactness(const torch::nn::Conv2d& conv, const NormalizationValues& v,
                              const char* who) {
  if (detail::zero_pads(conv) && !all_zero(v.mean))
    throw std::invalid_argument(
        std::string(who) +
        ": conv1 zero-pads its input, so with a non-zero mean no change of its weights is exact "
        "(the border would have to hold the mean); use a conv that pads with the mean, a mean of 0, "
        "or compensate::Notebook / compensate::None");
  if (!conv->options.bias() && !all_zero(v.mean))
    throw std::invalid_argument(
        std::string(who) +
        ": conv1 has no bias to absorb a non-zero mean; use a mean of 0, or compensate::Notebook / "
        "compensate::None");
}

/// W' = W * scale_c, b' = b + sum_{c,k} W[o,c,k] * shift_c, computed in float64.
inline void affine_update(torch::nn::Conv2d& conv, const torch::Tensor& scale,
                          const torch::Tensor& shift) {
  torch::NoGradGuard no_grad;
  auto w = conv->weight.to(torch::kFloat64);
  if (conv->options.bias()) {
    auto added = (w * shift).sum({1, 2, 3});
    conv->bias.copy_(conv->bias.to(torch::kFloat64) + added.to(conv->bias.device()));
  }
  conv->weight.copy_(w * scale.to(w.device()));
}

}  // namespace detail

namespace compensate {

/// The notebook's `conv1.bias.data -= mean; conv1.weight.data /= std` (same ops, same rounding).
struct Notebook {
  using normlab_policy = policy::Compensation;
  static constexpr const char* name = "notebook";
  template <class Normalization>
  static constexpr bool applies_to = affine_in_values<Normalization>;
  static void apply(torch::nn::Conv2d& conv, const NormalizationValues& v) {
    detail::check_channels(conv, v, "normlab::compensate::Notebook");
    torch::NoGradGuard no_grad;
    if (conv->options.bias()) {
      if (!v.is_uniform())
        throw std::invalid_argument(
            "normlab::compensate::Notebook: `bias -= mean` needs one mean for all channels");
      conv->bias.sub_(v.mean[0]);
    }
    if (v.channels() == 1 || v.is_uniform())
      conv->weight.div_(v.std[0]);
    else
      conv->weight.div_(detail::per_channel(v.std, v.channels()).to(conv->weight.options()));
  }
};

/// Function-preserving: conv1(normalize(x)) == conv1_before(x) for every x.
struct Exact {
  using normlab_policy = policy::Compensation;
  static constexpr const char* name = "exact";
  template <class Normalization>
  static constexpr bool applies_to = affine_in_values<Normalization>;
  static void apply(torch::nn::Conv2d& conv, const NormalizationValues& v) {
    detail::check_channels(conv, v, "normlab::compensate::Exact");
    detail::require_exactness(conv, v, "normlab::compensate::Exact");
    const auto in = conv->options.in_channels();
    detail::affine_update(conv, detail::per_channel(v.std, in), detail::per_channel(v.mean, in));
  }
};

/// conv1 as initialised.
struct None {
  using normlab_policy = policy::Compensation;
  static constexpr const char* name = "none";
  template <class Normalization>
  static constexpr bool applies_to = true;
  static void apply(torch::nn::Conv2d&, const NormalizationValues& v) { v.validate(); }
};

}  // namespace compensate

/// Whether a Compensation applies to a Normalization policy: as the compensation declares with
/// `template <class N> static constexpr bool applies_to`, or, where it declares nothing, only to
/// normalizations whose output is (z - mean) / std (affine_in_values), the input every conv1
/// adjustment to (mean, std) assumes.
template <class Compensation, class Normalization>
inline constexpr bool compensation_applies = [] {
  if constexpr (requires { Compensation::template applies_to<Normalization>; })
    return bool(Compensation::template applies_to<Normalization>);
  else
    return affine_in_values<Normalization>;
}();

namespace detail {
template <class Compensation, class Normalization>
constexpr bool check_compensation_applies() {
  static_assert(compensation_applies<Compensation, Normalization>,
                "normlab: this Compensation adjusts conv1 to an input (z - mean) / std, and the Normalization "
                "does not produce one (it does not declare affine_in_values); use compensate::None with it, "
                "or declare affine_in_values where its output is such an affine (docs/pipeline.md)");
  return true;
}
}  // namespace detail

/// Applies a Compensation policy to a whole network of the Model policy ModelPolicy: to its first
/// convolution, except that compensate::Exact uses the model's own `exact_compensation(net, v)`
/// when it has one (a conv without bias or with zero padding needs the model's help to stay exact,
/// e.g. ResNet shifts bn1's running mean and pads with the mean).
template <class Compensation, class ModelPolicy, class Module>
void compensate_model(Module& net, const NormalizationValues& v) {
  if constexpr (std::is_same_v<Compensation, compensate::Exact> &&
                requires { ModelPolicy::exact_compensation(net, v); })
    ModelPolicy::exact_compensation(net, v);
  else
    Compensation::apply(ModelPolicy::first_conv(net), v);
}

/// Folds `Normalize(mean, std)` into a conv trained on normalized input, so that the conv fed raw
/// input (only /255) computes what it computed before: W' = W / s_c, b' = b - sum (m_c/s_c) W.
/// Zero extra work at inference. Refuses where it cannot be exact (see require_exactness).
inline void fold_normalization(torch::nn::Conv2d& conv, const NormalizationValues& v) {
  detail::check_channels(conv, v, "normlab::fold_normalization");
  detail::require_exactness(conv, v, "normlab::fold_normalization");
  const auto in = conv->options.in_channels();
  auto scale = 1.0 / detail::per_channel(v.std, in);
  detail::affine_update(conv, scale, -detail::per_channel(v.mean, in) * scale);
}

/// The same on a whole model whose first convolution `model->conv1` sees the input.
template <class ModelHolder>
  requires requires(ModelHolder& m) { m->conv1; }
void fold_normalization(ModelHolder& model, const NormalizationValues& v) {
  fold_normalization(model->conv1, v);
}

}  // namespace normlab
