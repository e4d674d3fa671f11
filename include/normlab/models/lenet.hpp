#pragma once
// The notebook's network: the PyTorch examples' MNIST net ("LeNet"), with PyTorch's parameter names
// (conv1, conv2, fc1, fc2) so weights move between Python and C++ by name. Modules are registered
// in the same order as in Python, so torch::manual_seed(s) gives bit-identical initial weights.

#include <torch/torch.h>

#include "normlab/policy.hpp"

namespace normlab {
namespace models {

class LeNetImpl : public torch::nn::Module {
 public:
  /// @param classes outputs of fc2 (10 for MNIST)
  explicit LeNetImpl(int64_t classes = 10)
      : conv1(register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 32, 3).stride(1)))),
        conv2(register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 64, 3).stride(1)))),
        dropout1(register_module("dropout1", torch::nn::Dropout(0.25))),
        dropout2(register_module("dropout2", torch::nn::Dropout(0.5))),
        fc1(register_module("fc1", torch::nn::Linear(9216, 128))),
        fc2(register_module("fc2", torch::nn::Linear(128, classes))) {}

  /// Log-probabilities, [N, classes], for a [N, 1, 28, 28] batch.
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(conv1(x));
    x = torch::relu(conv2(x));
    x = torch::max_pool2d(x, 2);
    x = dropout1(x);
    x = torch::flatten(x, 1);
    x = torch::relu(fc1(x));
    x = dropout2(x);
    x = fc2(x);
    return torch::log_softmax(x, 1);
  }

  torch::nn::Conv2d conv1;
  torch::nn::Conv2d conv2;
  torch::nn::Dropout dropout1;
  torch::nn::Dropout dropout2;
  torch::nn::Linear fc1;
  torch::nn::Linear fc2;
};
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
