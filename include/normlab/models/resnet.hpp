#pragma once
// torchvision 0.14's ResNet (He et al., "Deep Residual Learning for Image Recognition", CVPR 2016;
// the "v1.5" variant with the stride in Bottleneck's 3x3 conv), as LibTorch modules.
//
// - Names: every parameter and buffer has torchvision's name (conv1.weight, bn1.running_mean,
//   layer1.0.conv1.weight, layer2.0.downsample.0.weight, ..., fc.bias), in torchvision's order, so
//   weights move between Python and C++ by name (models/state_dict.hpp reads torch.save files).
// - Initialisation: modules are built in torchvision's order (a block's downsample before the block,
//   registered after it) and re-initialised in its order (kaiming_normal_(fan_out, relu) for every
//   conv, BN weight 1 / bias 0, Linear's default), so torch::manual_seed(s) followed by
//   models::resnet18(k) gives the parameters of Python's torch.manual_seed(s);
//   torchvision.models.resnet18(num_classes=k) bit for bit (tests/models/resnet_test.cpp).
// - Exact compensation of input normalization for conv1 (7x7, no bias, zero padding 3): see
//   exact_compensation() below and docs/models.md.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "normlab/normalize/values.hpp"
#include "normlab/policy.hpp"

namespace normlab {
namespace models {

namespace resnet_detail {
/// torchvision's conv3x3: 3x3, padding 1, no bias.
inline torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}
/// torchvision's conv1x1: 1x1, no bias.
inline torch::nn::Conv2d conv1x1(int64_t in, int64_t out, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false));
}
/// The explicit (height, width) padding of a conv; throws for 'same'/'valid' string padding.
inline std::pair<int64_t, int64_t> explicit_padding(const torch::nn::Conv2d& conv) {
  // An unqualified get_if finds c10::get_if (1.13) or std::get_if (2.x) by argument-dependent lookup.
  if (const auto* sizes = get_if<torch::ExpandingArray<2>>(&conv->options.padding()))
    return {(*sizes)->at(0), (*sizes)->at(1)};
  throw std::invalid_argument("normlab::models::ResNet: conv1 must use explicit integer padding");
}
}  // namespace resnet_detail

/// torchvision's BasicBlock (ResNet-18/34): two 3x3 convs; `downsample` (1x1 conv + BN) when the
/// shape changes. Children, in torchvision's order: conv1, bn1, relu, conv2, bn2[, downsample].
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t expansion = 1;

  /// @param inplanes input channels
  /// @param planes output channels (x expansion)
  /// @param stride stride of conv1 (and of downsample)
  /// @param downsample the shortcut's projection, built by the caller *before* the block (as
  ///        torchvision's _make_layer does: it draws its random numbers first); empty: identity
  BasicBlockImpl(int64_t inplanes, int64_t planes, int64_t stride = 1,
                 torch::nn::Sequential downsample_ = nullptr)
      : conv1(register_module("conv1", resnet_detail::conv3x3(inplanes, planes, stride))),
        bn1(register_module("bn1", torch::nn::BatchNorm2d(planes))),
        relu(register_module("relu", torch::nn::ReLU(torch::nn::ReLUOptions(true)))),
        conv2(register_module("conv2", resnet_detail::conv3x3(planes, planes))),
        bn2(register_module("bn2", torch::nn::BatchNorm2d(planes))),
        downsample(downsample_ ? register_module("downsample", downsample_) : nullptr) {}

  torch::Tensor forward(torch::Tensor x) {
    auto out = relu(bn1(conv1(x)));
    out = bn2(conv2(out));
    out += downsample ? downsample->forward(x) : x;
    return relu(out);
  }

  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn1;
  torch::nn::ReLU relu;
  torch::nn::Conv2d conv2;
  torch::nn::BatchNorm2d bn2;
  torch::nn::Sequential downsample;  ///< empty when the shortcut is the identity
};
TORCH_MODULE(BasicBlock);

/// torchvision's Bottleneck (ResNet-50/101/152): 1x1, 3x3 (with the stride), 1x1 x4 convs.
/// Children, in torchvision's order: conv1, bn1, conv2, bn2, conv3, bn3, relu[, downsample].
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t expansion = 4;

  /// Arguments as BasicBlockImpl's; the block outputs planes * 4 channels.
  BottleneckImpl(int64_t inplanes, int64_t planes, int64_t stride = 1,
                 torch::nn::Sequential downsample_ = nullptr)
      : conv1(register_module("conv1", resnet_detail::conv1x1(inplanes, planes))),
        bn1(register_module("bn1", torch::nn::BatchNorm2d(planes))),
        conv2(register_module("conv2", resnet_detail::conv3x3(planes, planes, stride))),
        bn2(register_module("bn2", torch::nn::BatchNorm2d(planes))),
        conv3(register_module("conv3", resnet_detail::conv1x1(planes, planes * expansion))),
        bn3(register_module("bn3", torch::nn::BatchNorm2d(planes * expansion))),
        relu(register_module("relu", torch::nn::ReLU(torch::nn::ReLUOptions(true)))),
        downsample(downsample_ ? register_module("downsample", downsample_) : nullptr) {}

  torch::Tensor forward(torch::Tensor x) {
    auto out = relu(bn1(conv1(x)));
    out = relu(bn2(conv2(out)));
    out = bn3(conv3(out));
    out += downsample ? downsample->forward(x) : x;
    return relu(out);
  }

  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn1;
  torch::nn::Conv2d conv2;
  torch::nn::BatchNorm2d bn2;
  torch::nn::Conv2d conv3;
  torch::nn::BatchNorm2d bn3;
  torch::nn::ReLU relu;
  torch::nn::Sequential downsample;  ///< empty when the shortcut is the identity
};
TORCH_MODULE(Bottleneck);

/// Which residual block a ResNet stacks.
enum class ResNetBlock { Basic, Bottleneck };

/// Options of a ResNet, as torchvision.models.ResNet's arguments (groups, width_per_group,
/// replace_stride_with_dilation and norm_layer are not offered: they keep torchvision's defaults).
struct ResNetOptions {
  /// @param block BasicBlock (ResNet-18/34) or Bottleneck (ResNet-50/101/152)
  /// @param layers blocks in layer1..layer4, e.g. {2, 2, 2, 2} for ResNet-18
  ResNetOptions(ResNetBlock block, std::vector<int64_t> layers)
      : block_(block), layers_(std::move(layers)) {}
  TORCH_ARG(ResNetBlock, block);
  TORCH_ARG(std::vector<int64_t>, layers);
  /// outputs of fc (default 1000, ImageNet)
  TORCH_ARG(int64_t, num_classes) = 1000;
  /// zero the last BN's weight of every residual branch (torchvision's option; default false)
  TORCH_ARG(bool, zero_init_residual) = false;
};

/// torchvision.models.ResNet: conv1 (7x7/2, pad 3, no bias), bn1, relu, maxpool (3x3/2, pad 1),
/// layer1..layer4 (nn::Sequential of blocks, children "0", "1", ...), avgpool, fc. Returns logits.
class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const ResNetOptions& options_)
      : options(checked(options_)),
        conv1(register_module(
            "conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)))),
        bn1(register_module("bn1", torch::nn::BatchNorm2d(64))),
        relu(register_module("relu", torch::nn::ReLU(torch::nn::ReLUOptions(true)))),
        maxpool(register_module("maxpool", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)))),
        layer1(register_module("layer1", make_layer(64, options.layers()[0], 1))),
        layer2(register_module("layer2", make_layer(128, options.layers()[1], 2))),
        layer3(register_module("layer3", make_layer(256, options.layers()[2], 2))),
        layer4(register_module("layer4", make_layer(512, options.layers()[3], 2))),
        avgpool(register_module("avgpool", torch::nn::AdaptiveAvgPool2d(torch::nn::AdaptiveAvgPool2dOptions({1, 1})))),
        fc(register_module("fc", torch::nn::Linear(512 * expansion(), options.num_classes()))) {
    // torchvision's loop over self.modules(): pre-order, registration order, as LibTorch's modules().
    torch::NoGradGuard no_grad;
    for (const auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<torch::nn::Conv2d>())
        torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
      else if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
        torch::nn::init::constant_(bn->weight, 1);
        torch::nn::init::constant_(bn->bias, 0);
      }
    }
    if (options.zero_init_residual()) {
      for (const auto& m : modules(false)) {
        if (auto* b = m->as<Bottleneck>()) torch::nn::init::constant_(b->bn3->weight, 0);
        else if (auto* b = m->as<BasicBlock>()) torch::nn::init::constant_(b->bn2->weight, 0);
      }
    }
  }

  /// Logits, [N, num_classes], for a [N, 3, H, W] batch.
  torch::Tensor forward(torch::Tensor x) {
    x = relu(stem(x));
    x = maxpool(x);
    x = layer1->forward(x);
    x = layer2->forward(x);
    x = layer3->forward(x);
    x = layer4->forward(x);
    x = avgpool(x);
    x = torch::flatten(x, 1);
    return fc(x);
  }

  /// bn1(conv1(x)): what exact_compensation() keeps unchanged (in eval mode, to rounding).
  torch::Tensor stem(const torch::Tensor& x) { return bn1(conv1_forward(x)); }

  /// conv1(x), padding the input with conv1_pad_value (per channel) where it is set.
  torch::Tensor conv1_forward(const torch::Tensor& x) {
    if (!conv1_pad_value.defined()) return conv1(x);
    const auto [ph, pw] = resnet_detail::explicit_padding(conv1);
    TORCH_CHECK(x.dim() == 4 && x.size(1) == conv1_pad_value.numel(),
                "normlab::models::ResNet: expected a [N, ", conv1_pad_value.numel(), ", H, W] input, got ",
                x.sizes());
    auto sizes = x.sizes().vec();
    sizes[2] += 2 * ph;
    sizes[3] += 2 * pw;
    auto value = conv1_pad_value.to(x.options()).view({1, -1, 1, 1});
    auto padded = value.expand(sizes).clone(torch::MemoryFormat::Contiguous);
    padded.narrow(2, ph, x.size(2)).narrow(3, pw, x.size(3)).copy_(x);
    namespace F = torch::nn::functional;
    auto conv = F::Conv2dFuncOptions().stride(conv1->options.stride()).padding(0)
                    .dilation(conv1->options.dilation()).groups(conv1->options.groups());
    if (conv1->options.bias()) conv.bias(conv1->bias);
    return F::conv2d(padded, conv1->weight, conv);
  }

  /// Output channels of the last block (512 for BasicBlock, 2048 for Bottleneck) / 512.
  int64_t expansion() const {
    return options.block() == ResNetBlock::Basic ? BasicBlockImpl::expansion : BottleneckImpl::expansion;
  }

  // Module::to() moves parameters and buffers; conv1_pad_value is neither (see below), so follow.
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override {
    torch::nn::Module::to(device, dtype, non_blocking);
    if (conv1_pad_value.defined()) conv1_pad_value = conv1_pad_value.to(device, dtype, non_blocking);
  }
  void to(torch::Dtype dtype, bool non_blocking = false) override {
    torch::nn::Module::to(dtype, non_blocking);
    if (conv1_pad_value.defined()) conv1_pad_value = conv1_pad_value.to(dtype, non_blocking);
  }
  void to(torch::Device device, bool non_blocking = false) override {
    torch::nn::Module::to(device, non_blocking);
    if (conv1_pad_value.defined()) conv1_pad_value = conv1_pad_value.to(device, non_blocking);
  }

 private:
  int64_t inplanes_ = 64;  // make_layer()'s running channel count: declared (so initialised) first

 public:
  ResNetOptions options;
  torch::nn::Conv2d conv1;
  torch::nn::BatchNorm2d bn1;
  torch::nn::ReLU relu;
  torch::nn::MaxPool2d maxpool;
  torch::nn::Sequential layer1, layer2, layer3, layer4;
  torch::nn::AdaptiveAvgPool2d avgpool;
  torch::nn::Linear fc;
  /// Per-input-channel value of conv1's padded border, shape [3]; undefined (the default): zeros,
  /// as torchvision. Set by exact_compensation(). Deliberately neither a parameter nor a buffer:
  /// the state_dict keeps torchvision's keys exactly (so a compensated net's state_dict alone does
  /// not describe it: re-apply the compensation after loading, see docs/models.md).
  torch::Tensor conv1_pad_value;

 private:
  static const ResNetOptions& checked(const ResNetOptions& o) {
    if (o.layers().size() != 4)
      throw std::invalid_argument("normlab::models::ResNet: layers must hold 4 block counts (got " +
                                  std::to_string(o.layers().size()) + ")");
    for (auto n : o.layers())
      if (n < 1) throw std::invalid_argument("normlab::models::ResNet: every layer needs at least one block");
    if (o.num_classes() < 1) throw std::invalid_argument("normlab::models::ResNet: num_classes must be >= 1");
    return o;
  }

  /// torchvision's _make_layer: the downsample (if any) is built before the first block.
  torch::nn::Sequential make_layer(int64_t planes, int64_t blocks, int64_t stride) {
    const int64_t out = planes * expansion();
    torch::nn::Sequential downsample{nullptr};
    if (stride != 1 || inplanes_ != out)
      downsample = torch::nn::Sequential(resnet_detail::conv1x1(inplanes_, out, stride), torch::nn::BatchNorm2d(out));
    torch::nn::Sequential layer;
    auto add = [&](int64_t in, int64_t s, torch::nn::Sequential ds) {
      if (options.block() == ResNetBlock::Basic)
        layer->push_back(BasicBlock(in, planes, s, std::move(ds)));
      else
        layer->push_back(Bottleneck(in, planes, s, std::move(ds)));
    };
    add(inplanes_, stride, downsample);
    inplanes_ = out;
    for (int64_t i = 1; i < blocks; ++i) add(inplanes_, 1, nullptr);
    return layer;
  }
};
TORCH_MODULE(ResNet);

/// torchvision.models.resnet18(num_classes=...): BasicBlock, [2, 2, 2, 2].
inline ResNet resnet18(int64_t num_classes = 1000) {
  return ResNet(ResNetOptions(ResNetBlock::Basic, {2, 2, 2, 2}).num_classes(num_classes));
}
/// torchvision.models.resnet34(num_classes=...): BasicBlock, [3, 4, 6, 3].
inline ResNet resnet34(int64_t num_classes = 1000) {
  return ResNet(ResNetOptions(ResNetBlock::Basic, {3, 4, 6, 3}).num_classes(num_classes));
}
/// torchvision.models.resnet50(num_classes=...): Bottleneck, [3, 4, 6, 3].
inline ResNet resnet50(int64_t num_classes = 1000) {
  return ResNet(ResNetOptions(ResNetBlock::Bottleneck, {3, 4, 6, 3}).num_classes(num_classes));
}
/// torchvision.models.resnet101(num_classes=...): Bottleneck, [3, 4, 23, 3].
inline ResNet resnet101(int64_t num_classes = 1000) {
  return ResNet(ResNetOptions(ResNetBlock::Bottleneck, {3, 4, 23, 3}).num_classes(num_classes));
}
/// torchvision.models.resnet152(num_classes=...): Bottleneck, [3, 8, 36, 3].
inline ResNet resnet152(int64_t num_classes = 1000) {
  return ResNet(ResNetOptions(ResNetBlock::Bottleneck, {3, 8, 36, 3}).num_classes(num_classes));
}

/// Exact compensation of an input normalization x' = (x - m_c) / s_c for a ResNet: afterwards the
/// net fed x' computes, in eval mode, what it computed on x (to float rounding). With the shift
/// shift[o] = sum_c m_c sum_{kh,kw} W[o,c,kh,kw] (W before the update):
///  - conv1.weight:       W'[o,c] = s_c W[o,c], so conv1'(x') = conv1(x) - shift;
///  - bn1.running_mean:   rm' = rm - shift, so bn1 (eval) sees the same centred value
///                        (if conv1 has a bias instead, b' = b + shift);
///  - conv1_pad_value:    p' = (p - m_c) / s_c (p = 0 at first): the border holds what a raw zero
///                        becomes, so the zero padding stays exact.
/// In train mode bn1 normalises with the batch's own statistics, which absorb the shift anyway; the
/// running mean then keeps tracking the compensated conv1. Applying it twice composes: compensating
/// for (m1, s1) then (m2, s2) equals compensating once for the composed affine map.
/// Computed in float64, stored in the parameters' dtype.
/// @param net a ResNet (any depth)
/// @param v one (mean, std) for all channels, or one per input channel (3)
inline void exact_compensation(ResNet& net, const NormalizationValues& v) {
  v.validate();
  auto& conv = net->conv1;
  const int64_t channels = conv->options.in_channels();
  if (v.channels() != 1 && static_cast<int64_t>(v.channels()) != channels)
    throw std::invalid_argument("normlab::models::exact_compensation: " + std::to_string(v.channels()) +
                                " normalization channels for conv1's " + std::to_string(channels) +
                                " input channels");
  if (conv->options.groups() != 1)
    throw std::invalid_argument("normlab::models::exact_compensation: grouped conv1 is not supported");
  if (!get_if<torch::enumtype::kZeros>(&conv->options.padding_mode()))
    throw std::invalid_argument("normlab::models::exact_compensation: conv1 must pad with zeros");
  resnet_detail::explicit_padding(conv);  // throws for string padding

  torch::NoGradGuard no_grad;
  const auto f64 = torch::dtype(torch::kFloat64);
  const auto mean = torch::tensor(v.mean, f64).expand({channels}).contiguous();
  const auto stdev = torch::tensor(v.std, f64).expand({channels}).contiguous();
  const auto w = conv->weight.detach().to(torch::kCPU, torch::kFloat64);  // [O, C, kh, kw]
  const auto shift = (w.sum({2, 3}) * mean.view({1, channels})).sum(1);   // [O]

  if (conv->options.bias()) {
    conv->bias.copy_(conv->bias.detach().to(torch::kCPU, torch::kFloat64) + shift);
  } else {
    auto& rm = net->bn1->running_mean;
    if (!rm.defined())
      throw std::invalid_argument(
          "normlab::models::exact_compensation: conv1 has no bias and bn1 keeps no running mean");
    rm.copy_(rm.to(torch::kCPU, torch::kFloat64) - shift);
  }
  const auto old_pad = net->conv1_pad_value.defined()
                           ? net->conv1_pad_value.detach().to(torch::kCPU, torch::kFloat64)
                           : torch::zeros({channels}, f64);
  net->conv1_pad_value = ((old_pad - mean) / stdev).to(conv->weight.device(), conv->weight.scalar_type());
  conv->weight.copy_(w * stdev.view({1, channels, 1, 1}));
}

}  // namespace models

/// Folds `Normalize(mean, std)` into a ResNet trained on normalized input, so that it computes the
/// same on raw input: the compensation for the inverse map x' = (x - (-m/s)) / (1/s). conv1's
/// border then holds m_c (a raw zero seen as normalized: the notebook's algebra, E.1).
inline void fold_normalization(models::ResNet& net, const NormalizationValues& v) {
  v.validate();
  NormalizationValues inverse;
  inverse.mean.clear();
  inverse.std.clear();
  for (std::size_t c = 0; c < v.channels(); ++c) {
    inverse.mean.push_back(-v.mean[c] / v.std[c]);
    inverse.std.push_back(1.0 / v.std[c]);
  }
  models::exact_compensation(net, inverse);
}

namespace detail {
/// The Model policy shared by ResNet18/34/50: logits, cross entropy (nn.CrossEntropyLoss).
template <models::ResNetBlock Block, int64_t L1, int64_t L2, int64_t L3, int64_t L4>
struct ResNetPolicy {
  using normlab_policy = policy::Model;
  using module_type = models::ResNet;
  /// torchvision.models.resnetXX(num_classes=classes), initialised as torchvision does.
  static models::ResNet make(int64_t classes = 1000) {
    return models::ResNet(models::ResNetOptions(Block, {L1, L2, L3, L4}).num_classes(classes));
  }
  static torch::nn::Conv2d& first_conv(models::ResNet& model) { return model->conv1; }
  /// The notebook's nn.CrossEntropyLoss() on logits.
  static torch::Tensor loss(const torch::Tensor& output, const torch::Tensor& target,
                            torch::Reduction::Reduction reduction = torch::Reduction::Mean) {
    return torch::cross_entropy_loss(output, target, {}, reduction);
  }
  /// compensate::Exact's form for ResNet (conv1 has no bias and zero-pads): see
  /// models::exact_compensation. compensate_model() calls it.
  static void exact_compensation(models::ResNet& model, const NormalizationValues& v) {
    models::exact_compensation(model, v);
  }
};
}  // namespace detail

/// Model policy: torchvision's resnet18 (BasicBlock, [2, 2, 2, 2]).
struct ResNet18 : detail::ResNetPolicy<models::ResNetBlock::Basic, 2, 2, 2, 2> {
  static constexpr const char* name = "resnet18";
};
/// Model policy: torchvision's resnet34 (BasicBlock, [3, 4, 6, 3]).
struct ResNet34 : detail::ResNetPolicy<models::ResNetBlock::Basic, 3, 4, 6, 3> {
  static constexpr const char* name = "resnet34";
};
/// Model policy: torchvision's resnet50 (Bottleneck, [3, 4, 6, 3]).
struct ResNet50 : detail::ResNetPolicy<models::ResNetBlock::Bottleneck, 3, 4, 6, 3> {
  static constexpr const char* name = "resnet50";
};

}  // namespace normlab
