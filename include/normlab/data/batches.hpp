#pragma once
// Batching over a data set held on the device: index ranges (range-v3), and the random draws that
// PyTorch's DataLoader makes, so that a C++ run consumes the global generator exactly as the
// notebook's Python run does (../../shared notes F.3: one draw per iterator, plus the sampler's
// seed when shuffling) and dropout masks line up bit for bit.

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>
#include <range/v3/view/iota.hpp>
#include <range/v3/view/transform.hpp>
#include <torch/torch.h>

#include "normlab/data/dataset.hpp"
#include "normlab/detail/compiled.hpp"

namespace normlab::data {

/// Samples [start, start + size) of the (possibly permuted) data set.
struct BatchRange {
  int64_t start;
  int64_t size;
};

/// The batches of an epoch over n samples, the last one short (drop_last=False).
/// Throws std::invalid_argument for a batch size < 1 (it would divide by zero) or n < 0.
inline auto batch_ranges(int64_t n, int64_t batch_size) {
  if (batch_size < 1 || n < 0)
    throw std::invalid_argument("normlab::data::batch_ranges: batch size " + std::to_string(batch_size) +
                                " over " + std::to_string(n) + " samples (the batch size must be >= 1)");
  const int64_t count = (n + batch_size - 1) / batch_size;
  return ranges::views::iota(int64_t{0}, count) |
         ranges::views::transform([n, batch_size](int64_t i) {
           return BatchRange{i * batch_size, std::min(batch_size, n - i * batch_size)};
         });
}

/// One pass over a data set, as a DataLoader iterator makes it.
class EpochOrder {
 public:
  /// Makes the global-generator draws a new DataLoader iterator makes: its base seed, and with
  /// shuffling RandomSampler's own seed, from which the permutation comes.
  EpochOrder(int64_t n, bool shuffle);

  bool shuffled() const { return order_.defined(); }

  /// The permutation as indices (empty when not shuffled), e.g. for ImageLoaderOptions::order.
  std::vector<int64_t> indices() const {
    if (!order_.defined()) return {};
    const auto* p = order_.data_ptr<int64_t>();
    return std::vector<int64_t>(p, p + order_.numel());
  }

  /// The batch's images and labels, sliced (or gathered, when shuffled) on the data's device.
  std::pair<torch::Tensor, torch::Tensor> take(const LabelledImages& data, BatchRange r) const;

 private:
  torch::Tensor order_;
};

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE EpochOrder::EpochOrder(int64_t n, bool shuffle) {
  torch::empty({}, torch::kInt64).random_();  // _BaseDataLoaderIter's base seed
  if (shuffle) {
    const auto seed = torch::empty({}, torch::kInt64).random_().item<int64_t>();
    auto generator = at::detail::createCPUGenerator(static_cast<uint64_t>(seed));
    order_ = torch::randperm(n, generator, torch::kInt64);
  }
}

NORMLAB_INLINE std::pair<torch::Tensor, torch::Tensor> EpochOrder::take(const LabelledImages& data, BatchRange r) const {
  if (!order_.defined())
    return {data.images.narrow(0, r.start, r.size), data.labels.narrow(0, r.start, r.size)};
  auto index = order_.narrow(0, r.start, r.size).to(data.images.device());
  return {data.images.index_select(0, index), data.labels.index_select(0, index)};
}
#endif

}  // namespace normlab::data
