#pragma once
// max_pool2d(relu(x), 2) in one pass over x, with a backward that writes the input's gradient in
// one pass: the same values and the same gradients as ATen's relu, max_pool2d and their backwards
// (LeNet's conv2 -> relu -> pool), with a quarter of the memory traffic. ATen's three kernels write
// relu's output, the pooled output and 64-bit indices, then zero the input gradient, scatter into
// it and mask it again: a large share of LeNet's training step at a batch of 64 (docs/performance.md).
//
// Same bits: relu and max are exact; each 2x2 window picks the first largest relu value in ATen's
// scan order ((val > max) || isnan(val), from -inf), and the gradient of the window goes to that
// element when the pooled value is not <= 0 (relu's backward tests its output), as 0 + g (ATen adds
// into a zeroed gradient, which turns -0 into +0). tests/models/relu_max_pool_test.cpp compares
// values and gradients with ATen's bit for bit.
//
// Taken for contiguous float32 CPU tensors [N, C, H, W] with even H and W; anything else (CUDA,
// bfloat16 activations under autocast, odd sizes) runs ATen's operations.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <torch/torch.h>

namespace normlab {
namespace detail {

struct ReluMaxPool2x2 : public torch::autograd::Function<ReluMaxPool2x2> {
  static bool applies(const torch::Tensor& x) {
    return x.is_cpu() && x.scalar_type() == torch::kFloat32 && x.dim() == 4 && x.is_contiguous() &&
           x.size(2) % 2 == 0 && x.size(3) % 2 == 0 && x.size(2) > 0 && x.size(3) > 0;
  }

  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    const int64_t planes = x.size(0) * x.size(1), H = x.size(2), W = x.size(3), OH = H / 2, OW = W / 2;
    auto out = torch::empty({x.size(0), x.size(1), OH, OW}, x.options());
    // Per output: which of the window's four inputs won (0..3), plus 4 when the gradient stops
    // there (the pooled value is <= 0, where relu's backward gives 0).
    auto route = torch::empty({x.size(0), x.size(1), OH, OW}, x.options().dtype(torch::kUInt8));
    const float* in = x.data_ptr<float>();
    float* y = out.data_ptr<float>();
    uint8_t* r = route.data_ptr<uint8_t>();
    at::parallel_for(0, planes, 16, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const float* plane = in + p * H * W;
        for (int64_t oh = 0; oh < OH; ++oh) {
          const float* __restrict top = plane + 2 * oh * W;
          const float* __restrict bottom = top + W;
          float* __restrict yo = y + (p * OH + oh) * OW;
          uint8_t* __restrict ro = r + (p * OH + oh) * OW;
          pool_row(top, bottom, yo, ro, OW);
        }
      }
    });
    ctx->save_for_backward({route});
    ctx->saved_data["height"] = H;
    ctx->saved_data["width"] = W;
    ctx->mark_non_differentiable({route});
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto route = ctx->get_saved_variables()[0];
    const int64_t H = ctx->saved_data["height"].toInt(), W = ctx->saved_data["width"].toInt();
    const auto g = grads[0].contiguous();
    const int64_t planes = route.size(0) * route.size(1), OH = H / 2, OW = W / 2;
    auto grad_in = torch::empty({route.size(0), route.size(1), H, W}, g.options());
    const float* go = g.data_ptr<float>();
    const uint8_t* r = route.data_ptr<uint8_t>();
    float* gi = grad_in.data_ptr<float>();
    at::parallel_for(0, planes, 16, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        float* plane = gi + p * H * W;
        for (int64_t oh = 0; oh < OH; ++oh) {
          float* __restrict top = plane + 2 * oh * W;
          float* __restrict bottom = top + W;
          const float* __restrict gout = go + (p * OH + oh) * OW;
          const uint8_t* __restrict ro = r + (p * OH + oh) * OW;
          unpool_row(gout, ro, top, bottom, OW);
        }
      }
    });
    return {grad_in};
  }

 private:
  // Four windows at a time in SSE-sized vectors (GCC/Clang vector extensions, any x86-64 or ARM
  // target): the scalar form's data-dependent selects compile to branches that random activations
  // mispredict (far slower).
  using v4f = float __attribute__((vector_size(16)));
  using v4i = int32_t __attribute__((vector_size(16)));
  static v4f load(const float* p) {
    v4f v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store(float* p, v4f v) { std::memcpy(p, &v, sizeof v); }
  static v4f select(v4i mask, v4f x, v4f y) { return (v4f)(((v4i)x & mask) | ((v4i)y & ~mask)); }
  static v4i select(v4i mask, v4i x, v4i y) { return (x & mask) | (y & ~mask); }
  // Lanes I... of the eight in (a, b): GCC's and Clang's spellings of the same shuffle.
  template <int... I>
  static v4f shuffle(v4f a, v4f b) {
#if defined(__clang__)
    return __builtin_shufflevector(a, b, I...);
#else
    return __builtin_shuffle(a, b, v4i{I...});
#endif
  }
  static v4f evens(v4f a, v4f b) { return shuffle<0, 2, 4, 6>(a, b); }
  static v4f odds(v4f a, v4f b) { return shuffle<1, 3, 5, 7>(a, b); }
  static v4f interleave_low(v4f a, v4f b) { return shuffle<0, 4, 1, 5>(a, b); }
  static v4f interleave_high(v4f a, v4f b) { return shuffle<2, 6, 3, 7>(a, b); }

  // ATen's relu on the CPU: clamp_min(x, 0) as max(0, x) with x returned unless x < 0, so NaN
  // and -0 come through (x86's max returns its second operand for NaN and for two zeros).
  static float relu(float v) { return v < 0.0f ? 0.0f : v; }
  static v4f relu(v4f v) { return (v4f)((v4i)v & ~(v < v4f{})); }

  // One row of windows: `top` and `bottom` are two input rows, 2n values each.
  static void pool_row(const float* __restrict top, const float* __restrict bottom, float* __restrict out,
                       uint8_t* __restrict route, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      const v4f t0 = load(top + 2 * i), t1 = load(top + 2 * i + 4);
      const v4f b0 = load(bottom + 2 * i), b1 = load(bottom + 2 * i + 4);
      const v4f a = relu(evens(t0, t1)), b = relu(odds(t0, t1)), c = relu(evens(b0, b1)), d = relu(odds(b0, b1));
      v4f best = a;
      v4i at = {0, 0, 0, 0};
      v4i take = (b > best) | (b != b);  // (val > max) || isnan(val), in ATen's scan order
      best = select(take, b, best);
      at = select(take, v4i{1, 1, 1, 1}, at);
      take = (c > best) | (c != c);
      best = select(take, c, best);
      at = select(take, v4i{2, 2, 2, 2}, at);
      take = (d > best) | (d != d);
      best = select(take, d, best);
      at = select(take, v4i{3, 3, 3, 3}, at);
      at |= (best <= v4f{}) & 4;
      store(out + i, best);
      for (int j = 0; j < 4; ++j) route[i + j] = static_cast<uint8_t>(at[j]);
    }
    for (; i < n; ++i) {
      const float v[4] = {relu(top[2 * i]), relu(top[2 * i + 1]), relu(bottom[2 * i]), relu(bottom[2 * i + 1])};
      float best = v[0];
      uint8_t at = 0;
      for (uint8_t k = 1; k < 4; ++k)
        if (v[k] > best || v[k] != v[k]) {
          best = v[k];
          at = k;
        }
      out[i] = best;
      route[i] = static_cast<uint8_t>(at | (best <= 0.0f ? 4 : 0));
    }
  }

  // The gradient of one row of windows: 0 + g at the routed element (0 where stopped), 0 elsewhere.
  static void unpool_row(const float* __restrict grad, const uint8_t* __restrict route, float* __restrict top,
                         float* __restrict bottom, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
      const v4i at = {route[i], route[i + 1], route[i + 2], route[i + 3]};
      const v4f g = select(at < 4, v4f{} + load(grad + i), v4f{});
      const v4f zero{};
      const v4f a = select(at == 0, g, zero), b = select(at == 1, g, zero);
      const v4f c = select(at == 2, g, zero), d = select(at == 3, g, zero);
      store(top + 2 * i, interleave_low(a, b));
      store(top + 2 * i + 4, interleave_high(a, b));
      store(bottom + 2 * i, interleave_low(c, d));
      store(bottom + 2 * i + 4, interleave_high(c, d));
    }
    for (; i < n; ++i) {
      const uint8_t at = route[i];
      const float v = (at & 4) ? 0.0f : 0.0f + grad[i];
      top[2 * i] = at == 0 ? v : 0.0f;
      top[2 * i + 1] = at == 1 ? v : 0.0f;
      bottom[2 * i] = at == 2 ? v : 0.0f;
      bottom[2 * i + 1] = at == 3 ? v : 0.0f;
    }
  }
};

}  // namespace detail

/// max_pool2d(relu(x), 2): fused on the CPU where ReluMaxPool2x2 applies, else ATen's operations.
inline torch::Tensor relu_max_pool2x2(const torch::Tensor& x) {
  if (detail::ReluMaxPool2x2::applies(x)) return detail::ReluMaxPool2x2::apply(x);
  return torch::max_pool2d(torch::relu(x), 2);
}

}  // namespace normlab
