#pragma once
// K LeNets as one module (run_variants, batched_study.hpp): every parameter stacked [K, ...]
// in one flat buffer, each variant's parameters views of its slice; forward_variant(k) runs one
// variant with LeNet's own kernels, forward() all K at once with grouped convolutions and batched
// products (BatchedLinear).

#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <torch/torch.h>
#include <utility>
#include <vector>

#include "normlab/detail/compiled.hpp"
#include "normlab/models/dropout_masks.hpp"
#include "normlab/models/lenet.hpp"
#include "normlab/models/relu_max_pool.hpp"

namespace normlab {
namespace detail {

/**
 * K linear layers as batched matrix products: y[k] = x[k] W[k]^T + b[k], x [K, B, in], W [K, out, in],
 * b [K, out]. Forward is baddbmm (on the CPU a loop of the addmm a Linear runs); the backward is
 * written out so that each product has the operand order and the result layout of torch::linear's
 * own backward (grad W = grad^T x, grad x = grad W, grad b = sum over the batch), hence the same
 * BLAS calls and, on the CPU, the same bits as K Linear layers.
 */
struct BatchedLinear : public torch::autograd::Function<BatchedLinear> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& w,
                               const torch::Tensor& b) {
    ctx->save_for_backward({x, w});
    return torch::baddbmm(b.unsqueeze(1), x, w.transpose(1, 2));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const auto& g = grads[0];
    return {g.bmm(w), g.transpose(1, 2).bmm(x), g.sum(1)};
  }
};


}  // namespace detail

namespace models {

/**
 * K LeNets as one module. Every LeNet parameter `conv1.weight` [32, 1, 3, 3] becomes one stacked
 * parameter `conv1_weight` [K, 32, 1, 3, 3] (registered in LeNet's order); variant k's parameters
 * are views of slice k (variant_parameters(k)), leaves an optimizer updates in place.
 *
 * With VariantKernels::PerVariant, forward_variant(k, ...) runs variant k alone (LeNet's forward,
 * op for op) and gradients land in the views; with Grouped, forward(...) runs all K at once through
 * the stacked parameters (gradients land in the stacked parameters; point_grads_at_stacked() makes
 * the views' gradients slices of them).
 */
class MultiLeNetImpl : public torch::nn::Module {
 public:
  /// Stacks the parameters of `nets` (at least one), which must all live on one device.
  explicit MultiLeNetImpl(const std::vector<LeNet>& nets);

  int64_t variants() const { return variants_; }
  /// Every stacked parameter, one after the other, in one contiguous tensor.
  const torch::Tensor& flat() const { return flat_; }
  /// Tensors of the stacked parameters' shapes ([K, ...] each, in LeNet's order) over the storage of
  /// `flat`, a tensor laid out as flat(): parameters, gradients, optimizer state, learning rates.
  /// They alias `flat` through set_(), so each keeps a version counter of its own.
  std::vector<torch::Tensor> stacked_views(const torch::Tensor& flat) const;
  /// The stacked parameters' gradients, concatenated in flat()'s layout into `out` (one copy).
  void gather_grads(torch::Tensor& out) const;
  /// Drops the stacked parameters' gradients, so that the next backward writes them afresh.
  void clear_grads();
  /// The stacked parameters, in LeNet's order (conv1.weight, conv1.bias, ..., fc2.bias).
  const std::vector<torch::Tensor>& stacked() const { return stacked_; }
  /// LeNet's parameter names, in the same order.
  const std::vector<std::string>& names() const { return names_; }
  /// Variant k's parameters: views of the stacked storage, in LeNet's order.
  const std::vector<torch::Tensor>& variant_parameters(int64_t k) const { return views_.at(static_cast<std::size_t>(k)); }

  /// A LeNet holding a copy of variant k's current parameters (on the same device).
  LeNet variant(int64_t k) const;

  /// LeNet's two dropout masks for a batch of `batch` (drawn in LeNet's order; none in eval mode).
  std::pair<torch::Tensor, torch::Tensor> draw_masks(int64_t batch, const torch::TensorOptions& options) const;

  /// Variant k alone: LeNet's forward with its parameters, masks applied as dropout applies them.
  /// @param x variant k's normalized batch [B, 1, 28, 28]; returns log-probabilities [B, classes].
  torch::Tensor forward_variant(int64_t k, const torch::Tensor& x, const torch::Tensor& mask1,
                                const torch::Tensor& mask2) const;

  /// All K at once (VariantKernels::Grouped). @param x the K variants' normalized batches as the
  /// channels of one [B, K, 28, 28] tensor; returns log-probabilities [K, B, classes].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask1, const torch::Tensor& mask2);

  /// Fast mode (not bit-identical to LeNet): conv2, its relu and the pooling run on channels-last
  /// (NHWC) activations, which oneDNN convolves without reordering and max_pool2d vectorizes.
  void set_channels_last(bool on) { channels_last_ = on; }
  bool channels_last() const { return channels_last_; }

  /// After a Grouped backward: each view's gradient becomes the slice of its stacked gradient.
  void point_grads_at_stacked();

  /// zero_grad() of LibTorch 1.13 (in place) for variant k's parameters.
  void zero_grads(int64_t k);

 private:
  int64_t variants_ = 0, classes_ = 10;
  bool channels_last_ = false;
  torch::Tensor flat_;
  std::vector<torch::Tensor> stacked_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<std::string> names_;
  std::vector<std::vector<torch::Tensor>> views_;
};
#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE MultiLeNetImpl::MultiLeNetImpl(const std::vector<LeNet>& nets) {
  if (nets.empty()) throw std::invalid_argument("normlab::MultiLeNet: no variants");
  variants_ = static_cast<int64_t>(nets.size());
  classes_ = nets.front()->fc2->options.out_features();
  torch::NoGradGuard no_grad;
  // One flat buffer holds every stacked parameter, one after the other ([K, ...] each), so that an
  // optimizer can update all K variants' parameters with one kernel per operation.
  std::vector<torch::Tensor> stacks;
  int64_t total = 0;
  for (const auto& named : nets.front()->named_parameters()) {
    std::vector<torch::Tensor> slices;
    for (const auto& net : nets) slices.push_back(net->named_parameters()[named.key()].detach());
    stacks.push_back(torch::stack(slices));
    total += stacks.back().numel();
    shapes_.push_back(stacks.back().sizes().vec());
    names_.push_back(named.key());
  }
  flat_ = torch::empty({total}, stacks.front().options());
  auto views = stacked_views(flat_);
  for (std::size_t i = 0; i < stacks.size(); ++i) {
    views[i].copy_(stacks[i]);
    std::string name = names_[i];
    std::replace(name.begin(), name.end(), '.', '_');
    stacked_.push_back(register_parameter(name, views[i]));
  }
  // Views made with set_(): they alias slice k of the storage but keep their own version counter,
  // so one variant's in-place update does not invalidate another variant's saved tensors.
  for (int64_t k = 0; k < variants_; ++k) {
    std::vector<torch::Tensor> views;
    for (const auto& p : stacked_) {
      const auto slice = p.select(0, k);
      views.push_back(torch::empty({0}, p.options())
                          .set_(p.storage(), slice.storage_offset(), slice.sizes(), slice.strides())
                          .requires_grad_(true));
    }
    views_.push_back(std::move(views));
  }
}

NORMLAB_INLINE std::vector<torch::Tensor> MultiLeNetImpl::stacked_views(const torch::Tensor& flat) const {
  std::vector<torch::Tensor> views;
  int64_t offset = flat.storage_offset();
  for (const auto& shape : shapes_) {
    std::vector<int64_t> strides(shape.size(), 1);
    for (std::size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
    auto v = torch::empty({0}, flat.options()).set_(flat.storage(), offset, shape, strides);
    offset += v.numel();
    views.push_back(v);
  }
  return views;
}

NORMLAB_INLINE void MultiLeNetImpl::gather_grads(torch::Tensor& out) const {
  std::vector<torch::Tensor> grads;
  for (const auto& p : stacked_) {
    if (!p.grad().defined()) throw std::logic_error("normlab::MultiLeNet: a stacked parameter has no gradient");
    grads.push_back(p.grad().reshape({-1}));
  }
  if (!out.defined()) out = torch::empty_like(flat_);
  at::cat_out(out, grads);
}

NORMLAB_INLINE void MultiLeNetImpl::clear_grads() {
  for (auto& p : stacked_) p.mutable_grad() = torch::Tensor();
}

NORMLAB_INLINE LeNet MultiLeNetImpl::variant(int64_t k) const {
  LeNet net(classes_);
  net->to(stacked_.front().device());
  torch::NoGradGuard no_grad;
  auto params = net->named_parameters();
  for (std::size_t i = 0; i < names_.size(); ++i) params[names_[i]].copy_(stacked_[i].select(0, k));
  return net;
}

NORMLAB_INLINE std::pair<torch::Tensor, torch::Tensor> MultiLeNetImpl::draw_masks(int64_t batch, const torch::TensorOptions& options) const {
  if (!is_training()) return {};
  auto first = detail::DropoutMasks::draw({batch, 64, 12, 12}, 0.25, options);
  auto second = detail::DropoutMasks::draw({batch, 128}, 0.5, options);
  return {first, second};
}

NORMLAB_INLINE torch::Tensor MultiLeNetImpl::forward_variant(int64_t k, const torch::Tensor& x, const torch::Tensor& mask1,
                                const torch::Tensor& mask2) const {
  const auto& p = views_.at(static_cast<std::size_t>(k));
  auto convolutions = [&](const torch::Tensor& in) {
    auto h = torch::relu(torch::conv2d(in, p[0], p[1]));
    if (channels_last_) h = h.contiguous(at::MemoryFormat::ChannelsLast);  // conv2, pool: NHWC kernels
    return relu_max_pool2x2(torch::conv2d(h, p[2], p[3]));  // as LeNet's forward
  };
  // Evaluation as LeNet's forward does it (sliced on the CPU, the same bits).
  auto h = LeNetImpl::evaluate_in_slices(is_training(), x) ? LeNetImpl::convolutions_in_slices(x, convolutions)
                                                           : convolutions(x);
  if (mask1.defined()) h = h * mask1;
  h = torch::flatten(h, 1);
  h = torch::relu(torch::linear(h, p[4], p[5]));
  if (mask2.defined()) h = h * mask2;
  h = torch::linear(h, p[6], p[7]);
  return torch::log_softmax(h.to(torch::kFloat32), 1);  // .to: a no-op but under mixed precision
}

NORMLAB_INLINE torch::Tensor MultiLeNetImpl::forward(const torch::Tensor& x, const torch::Tensor& mask1, const torch::Tensor& mask2) {
  const int64_t k = variants_;
  const int64_t batch = x.size(0);
  const std::array<int64_t, 2> one{1, 1}, zero{0, 0};
  auto grouped = [&](const torch::Tensor& in, const torch::Tensor& w, const torch::Tensor& b) {
    return torch::conv2d(in, w.flatten(0, 1), b.flatten(), torch::IntArrayRef(one), torch::IntArrayRef(zero),
                         torch::IntArrayRef(one), k);
  };
  torch::Tensor h;  // [B, K*32, 26, 26]
  if (x.is_cuda()) {
    h = grouped(x, stacked_[0], stacked_[1]);
  } else {
    // On the CPU conv1 runs one variant at a time: oneDNN's kernel for one-channel groups sums
    // conv1's weight gradient in another order, and Adadelta's first steps (an update of about
    // sqrt(eps / (1 - rho)) whatever the gradient's size) turn that rounding into 1e-4 within
    // ten batches; variant by variant, each gets its alone run's bits.
    std::vector<torch::Tensor> first;
    for (int64_t v = 0; v < k; ++v)
      first.push_back(torch::conv2d(x.narrow(1, v, 1), stacked_[0].select(0, v), stacked_[1].select(0, v)));
    h = k == 1 ? first.front() : torch::cat(first, 1);
  }
  h = torch::relu(h);
  h = torch::relu(grouped(h, stacked_[2], stacked_[3]));
  h = torch::max_pool2d(h, 2);                                  // [B, K*64, 12, 12]
  h = h.view({batch, k, -1, h.size(2), h.size(3)});              // [B, K, 64, 12, 12]
  if (mask1.defined()) h = h * mask1.unsqueeze(1);
  h = h.flatten(2).transpose(0, 1);                             // [K, B, 9216]
  h = torch::relu(detail::BatchedLinear::apply(h, stacked_[4], stacked_[5]));
  if (mask2.defined()) h = h * mask2;                           // [K, B, 128]
  h = detail::BatchedLinear::apply(h, stacked_[6], stacked_[7]);
  return torch::log_softmax(h.to(torch::kFloat32), 2);                              // [K, B, classes]
}

NORMLAB_INLINE void MultiLeNetImpl::point_grads_at_stacked() {
  for (int64_t k = 0; k < variants_; ++k)
    for (std::size_t i = 0; i < stacked_.size(); ++i)
      if (stacked_[i].grad().defined())
        views_[static_cast<std::size_t>(k)][i].mutable_grad() = stacked_[i].grad().select(0, k);
}

NORMLAB_INLINE void MultiLeNetImpl::zero_grads(int64_t k) {
  for (auto& p : views_.at(static_cast<std::size_t>(k)))
    if (p.grad().defined()) p.mutable_grad().zero_();
}
#endif

TORCH_MODULE(MultiLeNet);

}  // namespace models

}  // namespace normlab
