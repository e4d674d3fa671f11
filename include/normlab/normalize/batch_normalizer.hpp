#pragma once
// Turns a slice of the uint8 data set into the network's input: ToTensor's /255, then
// Normalize's (x - mean) / std, as one batched pass on the device into a reused buffer (no
// per-sample work, no allocation per step). The arithmetic is torchvision's, in float32 and in the
// same order, so results are bit-identical to ToTensor + Normalize.
//
// On the CPU the conversion and the arithmetic are fused into one pass over the bytes
// (detail::normalize_bytes): float(x) / 255, - mean, / std per element in float32, either with IEEE
// divides (ATen's own operations) or with a reciprocal-and-correction form that is much faster (docs/performance.md). The
// result depends only on the byte and its channel, so the fused pass is checked once, at
// construction, against the ATen ops on all 256 byte values, and used only where it gives the same
// bits (else the next form, finally the ATen ops). On CUDA (and for non-contiguous batches): three
// ATen kernels with a tensor divisor, which give torchvision's CPU bits on the GPU too
// (tests/normalize/normalize_test.cpp, "[cuda]"). docs/performance.md has the timings.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "normlab/detail/compiled.hpp"
#include "normlab/normalize/values.hpp"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
#endif

namespace normlab {
namespace detail {

/// The constants of one fused pass: float32 mean and std as torchvision makes them, and the
/// reciprocals 1/255 and 1/std split into a float and a correction (hi + lo), for the SIMD form.
struct ByteAffine {
  float mean = 0, std = 1;
  float r255_hi = 0, r255_lo = 0, rstd_hi = 0, rstd_lo = 0;
  ByteAffine(double m, double s) : mean(static_cast<float>(m)), std(static_cast<float>(s)) {
    r255_hi = 1.0f / 255.0f;
    r255_lo = static_cast<float>(1.0 / 255.0 - static_cast<double>(r255_hi));
    rstd_hi = 1.0f / std;
    rstd_lo = static_cast<float>(1.0 / static_cast<double>(std) - static_cast<double>(rstd_hi));
  }
};

/// How a fused pass divides. Division: float(x) / 255, - mean, / std with IEEE divides, exactly
/// ATen's operations (portable, slower: divides dominate). Reciprocal: q = fma(a, r_hi, a * r_lo)
/// for each of the two divides, a quotient within ~2^-47 of the true one, so it rounds to the same
/// float unless the true quotient lies that close to a rounding boundary; whether that happens for
/// one (mean, std) is a question about 256 values, settled by trying them (BatchNormalizer does).
enum class FusedKind { Division, Reciprocal };

// Division, 16 lanes at a time with GCC/Clang vector extensions (each lane an IEEE float32
// operation; a divide and a subtract give the compiler nothing to contract), then scalar.
template <bool Identity>
inline void normalize_bytes_division(const uint8_t* in, float* out, int64_t n, const ByteAffine& a) {
  int64_t i = 0;
#if defined(__GNUC__) || defined(__clang__)
  typedef float f16 __attribute__((vector_size(64)));
  typedef uint8_t u16 __attribute__((vector_size(16)));
  const f16 k255 = f16{} + 255.0f, m = f16{} + a.mean, s = f16{} + a.std;
  for (; i + 16 <= n; i += 16) {
    u16 bytes;
    std::memcpy(&bytes, in + i, sizeof bytes);
    f16 v = __builtin_convertvector(bytes, f16) / k255;
    if constexpr (!Identity) v = (v - m) / s;
    std::memcpy(out + i, &v, sizeof v);
  }
#endif
  for (; i < n; ++i) {
    float v = static_cast<float>(in[i]) / 255.0f;
    if constexpr (!Identity) v = (v - a.mean) / a.std;
    out[i] = v;
  }
}

// Reciprocal, scalar (the tail of the SIMD loops; std::fma is exact wherever it runs).
template <bool Identity>
inline void normalize_bytes_reciprocal_scalar(const uint8_t* in, float* out, int64_t n, const ByteAffine& a) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = static_cast<float>(in[i]);
    float v = std::fma(x, a.r255_hi, x * a.r255_lo);
    if constexpr (!Identity) {
      const float y = v - a.mean;
      v = std::fma(y, a.rstd_hi, y * a.rstd_lo);
    }
    out[i] = v;
  }
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define NORMLAB_FUSED_SIMD 1
template <bool Identity>
__attribute__((target("avx512f"))) inline void normalize_bytes_avx512(const uint8_t* in, float* out,
                                                                       int64_t n, const ByteAffine& a) {
  const __m512 r_hi = _mm512_set1_ps(a.r255_hi), r_lo = _mm512_set1_ps(a.r255_lo);
  const __m512 m = _mm512_set1_ps(a.mean), s_hi = _mm512_set1_ps(a.rstd_hi), s_lo = _mm512_set1_ps(a.rstd_lo);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 x = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
    __m512 v = _mm512_fmadd_ps(x, r_hi, _mm512_mul_ps(x, r_lo));
    if constexpr (!Identity) {
      const __m512 y = _mm512_sub_ps(v, m);
      v = _mm512_fmadd_ps(y, s_hi, _mm512_mul_ps(y, s_lo));
    }
    _mm512_storeu_ps(out + i, v);
  }
  normalize_bytes_reciprocal_scalar<Identity>(in + i, out + i, n - i, a);
}

template <bool Identity>
__attribute__((target("avx2,fma"))) inline void normalize_bytes_avx2(const uint8_t* in, float* out,
                                                                      int64_t n, const ByteAffine& a) {
  const __m256 r_hi = _mm256_set1_ps(a.r255_hi), r_lo = _mm256_set1_ps(a.r255_lo);
  const __m256 m = _mm256_set1_ps(a.mean), s_hi = _mm256_set1_ps(a.rstd_hi), s_lo = _mm256_set1_ps(a.rstd_lo);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + i))));
    __m256 v = _mm256_fmadd_ps(x, r_hi, _mm256_mul_ps(x, r_lo));
    if constexpr (!Identity) {
      const __m256 y = _mm256_sub_ps(v, m);
      v = _mm256_fmadd_ps(y, s_hi, _mm256_mul_ps(y, s_lo));
    }
    _mm256_storeu_ps(out + i, v);
  }
  normalize_bytes_reciprocal_scalar<Identity>(in + i, out + i, n - i, a);
}
#endif

/// Whether this CPU runs the Reciprocal form with SIMD (AVX-512F, or AVX2 with FMA).
inline bool fused_reciprocal_available() {
#ifdef NORMLAB_FUSED_SIMD
  static const bool yes = __builtin_cpu_supports("avx512f") ||
                          (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
  return yes;
#else
  return false;
#endif
}

/// out[i] = (float(in[i]) / 255 - mean) / std (only / 255 with Identity), in float32, in one pass.
template <bool Identity>
inline void normalize_bytes(const uint8_t* in, float* out, int64_t n, const ByteAffine& a,
                            FusedKind kind = FusedKind::Division) {
#ifdef NORMLAB_FUSED_SIMD
  if (kind == FusedKind::Reciprocal) {
    static const bool avx512 = __builtin_cpu_supports("avx512f");
    if (avx512) return normalize_bytes_avx512<Identity>(in, out, n, a);
    if (fused_reciprocal_available()) return normalize_bytes_avx2<Identity>(in, out, n, a);
  }
#endif
  normalize_bytes_division<Identity>(in, out, n, a);
}

}  // namespace detail

class BatchNormalizer {
 public:
  /// @param values  validated here; one value or one per channel
  /// @param device  where batches are made
  /// @param identity skip the (x - 0) / 1 arithmetic
  BatchNormalizer(NormalizationValues values, torch::Device device, bool identity = false);

  const NormalizationValues& values() const { return values_; }

  /// Whether contiguous CPU batches take the fused one-pass path (it gave the ATen ops' bits on all
  /// 256 byte values of every channel), and which form: "reciprocal", "division" or "aten ops".
  bool fused() const { return kind_.has_value(); }
  const char* path() const {
    return !kind_ ? "aten ops" : *kind_ == detail::FusedKind::Reciprocal ? "reciprocal" : "division";
  }

  /// Converts `raw` (uint8 [N, C, H, W], on the device) into a float batch. The returned tensor
  /// views an internal buffer that the next call overwrites.
  torch::Tensor operator()(const torch::Tensor& raw);

 private:
  // One pass over the bytes: the whole batch as one run when every channel has the same values,
  // else one run per (image, channel) plane with its channel's values.
  void run_fused(const torch::Tensor& raw, torch::Tensor& batch) const;

  void run(const uint8_t* in, float* out, int64_t n, std::size_t channel, detail::FusedKind kind) const;

  // Tries the fastest form first; keeps the first whose output has the ATen ops' exact bits for
  // every byte value of every channel (the values a vector loop and its scalar tail see).
  void choose_fused_kind();

  NormalizationValues values_;
  bool identity_;
  std::vector<detail::ByteAffine> affine_;   // per channel
  std::optional<detail::FusedKind> kind_;    // none: the ATen ops
  torch::Tensor mean_, std_, k255_, buffer_;
};

/// normalize::Identity's normalizer: ToTensor's x / 255 and no (x - 0) / 1 arithmetic.
class ToTensorOnly : public BatchNormalizer {
 public:
  ToTensorOnly(NormalizationValues values, torch::Device device)
      : BatchNormalizer(std::move(values), device, /*identity=*/true) {}
};

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE BatchNormalizer::BatchNormalizer(NormalizationValues values, torch::Device device, bool identity)
    : values_(std::move(values)), identity_(identity) {
  values_.validate();
  auto as_tensor = [&](const std::vector<double>& v) {
    // torchvision converts the Python floats to float32 tensors of shape [C, 1, 1].
    return torch::tensor(v, torch::dtype(torch::kFloat64))
        .to(torch::kFloat32)
        .view({1, static_cast<int64_t>(v.size()), 1, 1})
        .to(device);
  };
  mean_ = as_tensor(values_.mean);
  std_ = as_tensor(values_.std);
  // A divisor held in a tensor on the device: CUDA's div by a CPU scalar multiplies by its
  // reciprocal (one bit off torchvision's CPU x / 255 for some bytes); by a tensor it divides.
  k255_ = torch::full({}, 255.0f, torch::dtype(torch::kFloat32).device(device));
  if (device.is_cpu()) choose_fused_kind();
}

NORMLAB_INLINE torch::Tensor BatchNormalizer::operator()(const torch::Tensor& raw) {
  if (raw.dim() != 4)
    throw std::invalid_argument("normlab::BatchNormalizer: expected a [N, C, H, W] batch");
  const auto channels = raw.size(1);
  if (values_.channels() != 1 && static_cast<int64_t>(values_.channels()) != channels)
    throw std::invalid_argument("normlab::BatchNormalizer: " + std::to_string(values_.channels()) +
                                " normalization channels for images with " +
                                std::to_string(channels) + " channels");
  if (!buffer_.defined() || buffer_.size(0) < raw.size(0) || buffer_.sizes().slice(1) != raw.sizes().slice(1))
    buffer_ = torch::empty(raw.sizes(), raw.options().dtype(torch::kFloat32));
  auto batch = buffer_.narrow(0, 0, raw.size(0));
  if (kind_ && raw.device().is_cpu() && raw.scalar_type() == torch::kUInt8 && raw.is_contiguous()) {
    run_fused(raw, batch);
    return batch;
  }
  // Elsewhere (CUDA, or a non-contiguous batch): the bytes are read, converted and divided by 255
  // in one kernel (the same values as copy_ then div_; by a tensor, not a scalar, because CUDA
  // multiplies by the reciprocal of a scalar divisor), then - mean and / std: three kernels.
  // (A 256-entry table gathered with index_select, two kernels, measured slower on an H100.)
  at::div_out(batch, raw, k255_);
  if (!identity_) batch.sub_(mean_).div_(std_);
  return batch;
}

NORMLAB_INLINE void BatchNormalizer::run_fused(const torch::Tensor& raw, torch::Tensor& batch) const {
  const bool one_run = values_.channels() == 1 || values_.is_uniform();
  const int64_t planes = raw.size(0) * raw.size(1);
  const int64_t runs = one_run ? 1 : planes;
  const int64_t length = runs ? raw.numel() / runs : 0;
  const auto* in = raw.data_ptr<uint8_t>();
  auto* out = batch.data_ptr<float>();
  for (int64_t r = 0; r < runs; ++r)
    run(in + r * length, out + r * length, length, one_run ? 0 : static_cast<std::size_t>(r % raw.size(1)), *kind_);
}

NORMLAB_INLINE void BatchNormalizer::run(const uint8_t* in, float* out, int64_t n, std::size_t channel, detail::FusedKind kind) const {
  if (identity_)
    detail::normalize_bytes<true>(in, out, n, affine_[channel], kind);
  else
    detail::normalize_bytes<false>(in, out, n, affine_[channel], kind);
}

NORMLAB_INLINE void BatchNormalizer::choose_fused_kind() {
  for (std::size_t c = 0; c < values_.channels(); ++c) affine_.emplace_back(values_.mean[c], values_.std[c]);
  auto bytes = torch::cat({torch::arange(256, torch::kInt64), torch::arange(15, torch::kInt64)}).to(torch::kUInt8);
  const auto mean = mean_.cpu().view(-1), std = std_.cpu().view(-1);
  std::vector<torch::Tensor> reference;
  for (std::size_t c = 0; c < values_.channels(); ++c) {
    auto r = bytes.to(torch::kFloat32).div_(255);
    if (!identity_) r.sub_(mean[static_cast<int64_t>(c)]).div_(std[static_cast<int64_t>(c)]);
    reference.push_back(r);
  }
  std::vector<detail::FusedKind> kinds;
  if (detail::fused_reciprocal_available()) kinds.push_back(detail::FusedKind::Reciprocal);
  kinds.push_back(detail::FusedKind::Division);
  for (auto kind : kinds) {
    bool same = true;
    for (std::size_t c = 0; c < values_.channels() && same; ++c) {
      std::vector<float> fast(static_cast<std::size_t>(bytes.numel()));
      run(bytes.data_ptr<uint8_t>(), fast.data(), bytes.numel(), c, kind);
      same = std::memcmp(fast.data(), reference[c].data_ptr<float>(), fast.size() * sizeof(float)) == 0;
    }
    if (same) {
      kind_ = kind;
      return;
    }
  }
}
#endif

}  // namespace normlab
