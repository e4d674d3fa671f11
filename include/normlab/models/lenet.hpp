#pragma once
// The notebook's network: the PyTorch examples' MNIST net ("LeNet"), with PyTorch's parameter names
// (conv1, conv2, fc1, fc2) so weights move between Python and C++ by name. Modules are registered
// in the same order as in Python, so torch::manual_seed(s) gives bit-identical initial weights.

#include <algorithm>
#include <torch/torch.h>
#include <vector>

#include "normlab/detail/compiled.hpp"
#include "normlab/models/dropout_masks.hpp"
#include "normlab/models/relu_max_pool.hpp"
#include "normlab/policy.hpp"

namespace normlab {
namespace models {

class LeNetImpl : public torch::nn::Module {
 public:
  /// @param classes outputs of fc2 (10 for MNIST)
  explicit LeNetImpl(int64_t classes = 10);

  /// Log-probabilities, [N, classes], for a [N, 1, 28, 28] batch.
  torch::Tensor forward(torch::Tensor x);

  /// The module's dropout; on the CPU in training, x times the same mask drawn in bulk
  /// (detail::DropoutMasks: torch::dropout's mask and generator state, the same product x * mask).
  torch::Tensor dropout(torch::nn::Dropout& module, const torch::Tensor& x);

  /// conv1, relu, conv2, relu, max-pool: the part of forward() that each image goes through alone.
  torch::Tensor convolutions(const torch::Tensor& x) {
    return relu_max_pool2x2(conv2(torch::relu(conv1(x))));  // max_pool2d(relu(.), 2), one pass
  }

  /// Evaluation batches above this size run their convolutions kEvalSlice images at a time on the
  /// CPU. A test batch of 1,000 holds ~230 MB of activations, which glibc maps and unmaps (page
  /// faults) and no cache holds; sliced, LeNet's test pass is faster (docs/performance.md). The bits do not
  /// change: oneDNN's convolutions, relu and pooling give each image the same result whatever the
  /// batch (tests/models/lenet_test.cpp); fc1's product does not (OpenBLAS blocks it by batch size),
  /// so it still runs on the whole batch.
  static constexpr int64_t kEvalSlice = 100;

  bool evaluate_in_slices(const torch::Tensor& x) const { return evaluate_in_slices(is_training(), x); }
  /// The same rule for any module holding LeNets (models::MultiLeNet).
  static bool evaluate_in_slices(bool training, const torch::Tensor& x) {
    return !training && x.is_cpu() && x.dim() > 0 && x.size(0) > kEvalSlice;
  }

  /// `features(slice)` on kEvalSlice images at a time, concatenated.
  template <class Features>
  static torch::Tensor convolutions_in_slices(const torch::Tensor& x, Features&& features) {
    std::vector<torch::Tensor> parts;
    for (int64_t i = 0; i < x.size(0); i += kEvalSlice)
      parts.push_back(features(x.narrow(0, i, std::min(kEvalSlice, x.size(0) - i))));
    return torch::cat(parts);
  }

  torch::nn::Conv2d conv1;
  torch::nn::Conv2d conv2;
  torch::nn::Dropout dropout1;
  torch::nn::Dropout dropout2;
  torch::nn::Linear fc1;
  torch::nn::Linear fc2;
};
#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE LeNetImpl::LeNetImpl(int64_t classes)
    : conv1(register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 3).stride(1)))),
      conv2(register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).stride(1)))),
      dropout1(register_module("dropout1", torch::nn::Dropout(0.25))),
      dropout2(register_module("dropout2", torch::nn::Dropout(0.5))),
      fc1(register_module("fc1", torch::nn::Linear(9216, 128))),
      fc2(register_module("fc2", torch::nn::Linear(128, classes))) {}

NORMLAB_INLINE torch::Tensor LeNetImpl::forward(torch::Tensor x) {
  x = evaluate_in_slices(x) ? convolutions_in_slices(x, [this](const torch::Tensor& s) { return convolutions(s); })
                            : convolutions(x);
  x = dropout(dropout1, x);
  x = torch::flatten(x, 1);
  x = torch::relu(fc1(x));
  x = dropout(dropout2, x);
  x = fc2(x);
  return torch::log_softmax(x, 1);
}

NORMLAB_INLINE torch::Tensor LeNetImpl::dropout(torch::nn::Dropout& module, const torch::Tensor& x) {
  const double p = module->options.p();
  if (is_training() && x.is_cpu() && detail::DropoutMasks::bulk_available(p))
    return x * detail::DropoutMasks::draw(x.sizes(), p, x.options());
  return module(x);
}
#endif

TORCH_MODULE(LeNet);

}  // namespace models

/// Model policy: the notebook's LeNet, trained with nll_loss on its log_softmax output.
struct LeNet {
  using normlab_policy = policy::Model;
  using module_type = models::LeNet;
  static constexpr const char* name = "lenet";
  static models::LeNet make(int64_t classes = 10) { return models::LeNet(classes); }
  static torch::nn::Conv2d& first_conv(models::LeNet& model) { return model->conv1; }
  /// The notebook's F.nll_loss on log-probabilities.
  static torch::Tensor loss(const torch::Tensor& output, const torch::Tensor& target,
                            torch::Reduction::Reduction reduction = torch::Reduction::Mean) {
    return torch::nll_loss(output, target, {}, reduction);
  }
};

}  // namespace normlab
