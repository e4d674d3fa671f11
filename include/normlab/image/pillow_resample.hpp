#pragma once
// Pillow 9.4's `Image.resize(size, Image.BILINEAR)` of an RGB image, ported line for line from
// ImagingResample (libImaging/Resample.c): the triangle filter whose support grows with the
// downscale factor (Pillow's antialiasing), coefficients computed in double and normalised to
// 22-bit fixed point, a horizontal pass then a vertical pass, each rounding and clipping to 8 bits.
// Pillow 9.4 applies no "reduce" step first (Image.resize only does when reducing_gap is given,
// and torchvision never gives it). resample_window computes any window of the output, which is
// how transforms.hpp's lazy Resize + CenterCrop computes only the pixels the crop keeps.
// Its own header because it is a port of Pillow's C, checked byte for byte against Pillow, that
// knows nothing of views, transforms or tensors. No LibTorch.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#include "normlab/image/image.hpp"

namespace normlab::image {

namespace detail {

inline constexpr int kPrecisionBits = 32 - 8 - 2;  // Resample.c's PRECISION_BITS

/// Stops the compiler from fusing `1.0 - a * b` into an FMA when built with -mfma or -march=native:
/// Pillow's wheels and Debian's build have no FMA, and the coefficients must round as theirs do.
inline double no_fma(double v) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__SSE2__))
  asm("" : "+x"(v));
#elif defined(__GNUC__) && defined(__aarch64__)
  asm("" : "+w"(v));
#else
  volatile double keep = v;
  v = keep;
#endif
  return v;
}

/// Resampling coefficients along one axis for the output positions [first, first + count):
/// precompute_coeffs (bilinear filter, box 0..in_size) followed by normalize_coeffs_8bpc.
struct Coefficients {
  int ksize = 0;
  std::vector<int> bounds;   ///< per output position: first input index, number of taps
  std::vector<int32_t> k;    ///< per output position: ksize fixed-point weights
  std::vector<double> work;  ///< the double weights of one position
};

inline void bilinear_coefficients(int in_size, int out_size, int first, int count, Coefficients& c) {
  // box = (0, in_size) as floats; (double)(in1 - in0) / outSize
  const double scale = static_cast<double>(static_cast<float>(in_size) - 0.0f) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 1.0 * filterscale;  // BILINEAR.support = 1.0
  const int ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.ksize = ksize;
  c.bounds.resize(static_cast<std::size_t>(count) * 2);
  c.k.assign(static_cast<std::size_t>(count) * ksize, 0);
  c.work.resize(static_cast<std::size_t>(ksize));
  const double ss = 1.0 / filterscale;
  for (int i = 0; i < count; ++i) {
    const int xx = first + i;
    const double center = 0.0 + (xx + 0.5) * scale;  // in0 + (xx + 0.5) * scale
    double ww = 0.0;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double* w = c.work.data();
    for (int x = 0; x < xmax; ++x) {
      double arg = no_fma((x + xmin - center + 0.5) * ss);
      if (arg < 0.0) arg = -arg;  // bilinear_filter
      const double value = arg < 1.0 ? 1.0 - arg : 0.0;
      w[x] = value;
      ww += value;
    }
    int32_t* k = &c.k[static_cast<std::size_t>(i) * ksize];
    for (int x = 0; x < xmax; ++x) {
      double value = w[x];
      if (ww != 0.0) value /= ww;
      const double scaled = value * (1 << kPrecisionBits);
      k[x] = value < 0 ? static_cast<int32_t>(-0.5 + scaled) : static_cast<int32_t>(0.5 + scaled);
    }
    c.bounds[2 * i] = xmin;
    c.bounds[2 * i + 1] = xmax;
  }
}

/// clip8(): the fixed-point sum, shifted back to 8 bits and clamped (Pillow's lookup table).
inline uint8_t clip8(int32_t ss) {
  const int32_t v = ss >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
}

/// Per-thread buffers of the resampler, reused across images.
struct ResampleScratch {
  Coefficients horizontal, vertical;
  std::vector<int> starts;     // horizontal taps of fixed length: first input pixel per output
  std::vector<int32_t> fixed;  // and its weights, zero-padded to ksize
  std::vector<uint8_t> planes; // stage 1's rows, one plane per channel
  std::vector<int32_t> sums;   // the vertical pass's accumulators of one output row
};

inline ResampleScratch& resample_scratch() {
  thread_local ResampleScratch scratch;
  return scratch;
}

/// Where rendered pixels go: a canvas of height x width RGB pixels, interleaved (HWC) or planar
/// (CHW). Rows arrive one channel at a time.
struct Canvas {
  uint8_t* data;
  int height, width;
  bool planar;

  /// The address of channel c of pixel (x, y), and the distance between neighbouring pixels.
  uint8_t* at(int c, int y, int x) const {
    return planar ? data + (static_cast<std::size_t>(c) * height + y) * width + x
                  : data + (static_cast<std::size_t>(y) * width + x) * 3 + c;
  }
  int step() const { return planar ? 1 : 3; }
};

/// One horizontal output row, K taps per output pixel (zero-padded weights), written as planes.
template <int K>
[[gnu::always_inline]] inline void horizontal_row_fixed(const uint8_t* in, const int* starts,
                                                       const int32_t* weights, int count,
                                                       uint8_t* __restrict r, uint8_t* __restrict g,
                                                       uint8_t* __restrict b) {
  constexpr int32_t half = 1 << (kPrecisionBits - 1);
  for (int i = 0; i < count; ++i) {
    const uint8_t* p = in + starts[i] * 3;
    const int32_t* k = weights + static_cast<std::size_t>(i) * K;
    int32_t s0 = half, s1 = half, s2 = half;
    for (int t = 0; t < K; ++t) {
      s0 += p[3 * t] * k[t];
      s1 += p[3 * t + 1] * k[t];
      s2 += p[3 * t + 2] * k[t];
    }
    r[i] = clip8(s0);
    g[i] = clip8(s1);
    b[i] = clip8(s2);
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
/// horizontal_row_fixed with one pixel's R, G, B (and a fourth byte, weighted but unused) in the
/// four int32 lanes of an SSE register: the same integer sums, clipped by saturating packs, which
/// clamp exactly as clip8 (the shifted sums lie in -640..639). Reads one byte past the last tap,
/// so the caller keeps it off the image's last row.
template <int K>
__attribute__((target("avx2"))) inline void horizontal_row_fixed_simd(
    const uint8_t* in, const int* starts, const int32_t* weights, int count, uint8_t* __restrict r,
    uint8_t* __restrict g, uint8_t* __restrict b) {
  const __m128i half = _mm_set1_epi32(1 << (kPrecisionBits - 1));
  for (int i = 0; i < count; ++i) {
    const uint8_t* p = in + starts[i] * 3;
    const int32_t* k = weights + static_cast<std::size_t>(i) * K;
    __m128i acc = half;
    for (int t = 0; t < K; ++t) {
      int32_t four;
      std::memcpy(&four, p + 3 * t, 4);
      const __m128i px = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(four));
      acc = _mm_add_epi32(acc, _mm_mullo_epi32(px, _mm_set1_epi32(k[t])));
    }
    acc = _mm_srai_epi32(acc, kPrecisionBits);
    const __m128i words = _mm_packs_epi32(acc, acc);
    const uint32_t bytes = static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_packus_epi16(words, words)));
    r[i] = static_cast<uint8_t>(bytes);
    g[i] = static_cast<uint8_t>(bytes >> 8);
    b[i] = static_cast<uint8_t>(bytes >> 16);
  }
}
#endif

/// The same with Pillow's own (start, count) bounds: any number of taps.
[[gnu::always_inline]] inline void horizontal_row_any(const uint8_t* in, const Coefficients& c,
                                                     int count, uint8_t* __restrict r,
                                                     uint8_t* __restrict g, uint8_t* __restrict b) {
  constexpr int32_t half = 1 << (kPrecisionBits - 1);
  for (int i = 0; i < count; ++i) {
    const int xmin = c.bounds[2 * i], taps = c.bounds[2 * i + 1];
    const int32_t* k = c.k.data() + static_cast<std::size_t>(i) * c.ksize;
    const uint8_t* p = in + xmin * 3;
    int32_t s0 = half, s1 = half, s2 = half;
    for (int t = 0; t < taps; ++t) {
      s0 += p[3 * t] * k[t];
      s1 += p[3 * t + 1] * k[t];
      s2 += p[3 * t + 2] * k[t];
    }
    r[i] = clip8(s0);
    g[i] = clip8(s1);
    b[i] = clip8(s2);
  }
}

/// Pillow's taps, moved so that each output pixel reads exactly ksize input pixels inside the row
/// (weights of the added taps are 0, so every integer sum is unchanged). False when the row is
/// shorter than ksize.
inline bool fixed_taps(const Coefficients& c, int in_size, int count, ResampleScratch& s) {
  const int ksize = c.ksize;
  if (in_size < ksize) return false;
  s.starts.resize(static_cast<std::size_t>(count));
  s.fixed.assign(static_cast<std::size_t>(count) * ksize, 0);
  for (int i = 0; i < count; ++i) {
    const int xmin = c.bounds[2 * i], taps = c.bounds[2 * i + 1];
    const int start = std::min(xmin, in_size - ksize);
    s.starts[i] = start;
    for (int t = 0; t < taps; ++t)
      s.fixed[static_cast<std::size_t>(i) * ksize + (xmin - start) + t] =
          c.k[static_cast<std::size_t>(i) * ksize + t];
  }
  return true;
}

/// What the two passes of one resample_window call work on (see there).
struct PassPlan {
  const Image* src;
  bool horizontal, vertical, fixed;
  int ksize;                  // horizontal taps per output pixel when fixed
  int row_first, rows;        // source rows [row_first, row_first + rows) feed the output
  int x0, count_x, count_y;
  const int* starts;          // fixed horizontal taps
  const int32_t* weights;
  const Coefficients* hcoef;  // Pillow's own horizontal bounds (when not fixed)
  const Coefficients* vcoef;
  uint8_t* planes;            // 3 planes of rows x count_x bytes
  int32_t* sums;              // count_x accumulators
  Canvas canvas;
  int cx, cy;
};

/// Both passes; always inlined into a baseline and an AVX2 copy (same integer results, the latter
/// vectorised wider, with SIMD horizontal taps).
template <bool Simd>
[[gnu::always_inline]] inline void run_passes(const PassPlan& p) {
  constexpr int32_t half = 1 << (kPrecisionBits - 1);
  const std::size_t plane = static_cast<std::size_t>(p.rows) * p.count_x;
  const int count_x = p.count_x;

  // Stage 1: the horizontal pass (or the window's columns as they are), into three planes.
  for (int r = 0; r < p.rows; ++r) {
    const uint8_t* in = p.src->row(p.row_first + r);
    uint8_t* pr = p.planes + static_cast<std::size_t>(r) * count_x;
    uint8_t* pg = pr + plane;
    uint8_t* pb = pg + plane;
    if (!p.horizontal) {
      in += static_cast<std::size_t>(p.x0) * 3;
      for (int i = 0; i < count_x; ++i) {
        pr[i] = in[3 * i];
        pg[i] = in[3 * i + 1];
        pb[i] = in[3 * i + 2];
      }
    }
#if defined(__GNUC__) && defined(__x86_64__)
    else if (Simd && p.fixed && p.row_first + r + 1 < p.src->height && p.ksize <= 7) {
      if (p.ksize == 3) {
        horizontal_row_fixed_simd<3>(in, p.starts, p.weights, count_x, pr, pg, pb);
      } else if (p.ksize == 5) {
        horizontal_row_fixed_simd<5>(in, p.starts, p.weights, count_x, pr, pg, pb);
      } else {
        horizontal_row_fixed_simd<7>(in, p.starts, p.weights, count_x, pr, pg, pb);
      }
    }
#endif
    else if (p.fixed && p.ksize == 3) {
      horizontal_row_fixed<3>(in, p.starts, p.weights, count_x, pr, pg, pb);
    } else if (p.fixed && p.ksize == 5) {
      horizontal_row_fixed<5>(in, p.starts, p.weights, count_x, pr, pg, pb);
    } else if (p.fixed && p.ksize == 7) {
      horizontal_row_fixed<7>(in, p.starts, p.weights, count_x, pr, pg, pb);
    } else {
      horizontal_row_any(in, *p.hcoef, count_x, pr, pg, pb);
    }
  }

  // Stage 2: the vertical pass (or the rows as they are), one channel row at a time.
  const int step = p.canvas.step();
  for (int c = 0; c < 3; ++c) {
    const uint8_t* channel = p.planes + c * plane;
    for (int j = 0; j < p.count_y; ++j) {
      uint8_t* out = p.canvas.at(c, p.cy + j, p.cx);
      if (!p.vertical) {
        const uint8_t* in = channel + static_cast<std::size_t>(j) * count_x;
        if (step == 1) {
          std::memcpy(out, in, static_cast<std::size_t>(count_x));
        } else {
          for (int i = 0; i < count_x; ++i) out[i * step] = in[i];
        }
        continue;
      }
      const int ymin = p.vcoef->bounds[2 * j], taps = p.vcoef->bounds[2 * j + 1];
      const int32_t* k = p.vcoef->k.data() + static_cast<std::size_t>(j) * p.vcoef->ksize;
      int32_t* __restrict sums = p.sums;
      for (int i = 0; i < count_x; ++i) sums[i] = half;
      for (int t = 0; t < taps; ++t) {
        const uint8_t* __restrict in = channel + static_cast<std::size_t>(ymin + t - p.row_first) * count_x;
        const int32_t kt = k[t];
        for (int i = 0; i < count_x; ++i) sums[i] += in[i] * kt;
      }
      if (step == 1) {
        uint8_t* __restrict dst = out;
        for (int i = 0; i < count_x; ++i)
          dst[i] = static_cast<uint8_t>(std::clamp(sums[i] >> kPrecisionBits, 0, 255));
      } else {
        for (int i = 0; i < count_x; ++i) out[i * step] = clip8(sums[i]);
      }
    }
  }
}

inline void run_passes_baseline(const PassPlan& p) { run_passes<false>(p); }
#if defined(__GNUC__) && defined(__x86_64__)
__attribute__((target("avx2"))) inline void run_passes_avx2(const PassPlan& p) { run_passes<true>(p); }
inline bool cpu_has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif
/// Tests set this to run the baseline code on a machine with AVX2 (both must agree byte for byte).
inline bool& force_baseline_resampler() {
  static bool force = false;
  return force;
}

/**
 * The window [x0, x0 + count_x) x [y0, y0 + count_y) of Pillow's
 * `src.resize((out_w, out_h), Image.BILINEAR)`, written to the canvas at (cx, cy).
 * Exactly ImagingResampleInner: a horizontal pass when the width changes, over the source rows
 * that the vertical pass reads, then a vertical pass when the height changes; each pass rounds
 * (the 1 << 21 start) and clips to 8 bits. The first stage writes one plane per channel so that
 * the vertical pass runs over contiguous bytes (vectorised) and writes CHW rows directly.
 */
inline void resample_window(const Image& src, int out_w, int out_h, int x0, int y0, int count_x,
                            int count_y, const Canvas& canvas, int cx, int cy) {
  if (count_x <= 0 || count_y <= 0) return;
  auto& s = resample_scratch();
  PassPlan p{};
  p.src = &src;
  p.horizontal = out_w != src.width;
  p.vertical = out_h != src.height;
  p.x0 = x0;
  p.count_x = count_x;
  p.count_y = count_y;
  p.canvas = canvas;
  p.cx = cx;
  p.cy = cy;

  // Source rows the output rows need.
  int row_first = y0, row_end = y0 + count_y;
  if (p.vertical) {
    bilinear_coefficients(src.height, out_h, y0, count_y, s.vertical);
    row_first = s.vertical.bounds[0];
    row_end = 0;
    for (int j = 0; j < count_y; ++j)
      row_end = std::max(row_end, s.vertical.bounds[2 * j] + s.vertical.bounds[2 * j + 1]);
    p.vcoef = &s.vertical;
  }
  p.row_first = row_first;
  p.rows = row_end - row_first;
  if (p.horizontal) {
    bilinear_coefficients(src.width, out_w, x0, count_x, s.horizontal);
    p.fixed = fixed_taps(s.horizontal, src.width, count_x, s);
    p.ksize = s.horizontal.ksize;
    p.starts = s.starts.data();
    p.weights = s.fixed.data();
    p.hcoef = &s.horizontal;
  }
  s.planes.resize(static_cast<std::size_t>(p.rows) * count_x * 3);
  s.sums.resize(static_cast<std::size_t>(count_x));
  p.planes = s.planes.data();
  p.sums = s.sums.data();
#if defined(__GNUC__) && defined(__x86_64__)
  if (cpu_has_avx2() && !force_baseline_resampler()) return run_passes_avx2(p);
#endif
  run_passes_baseline(p);
}

}  // namespace detail

/// Pillow 9.4's `img.resize((width, height), Image.BILINEAR)` of an RGB image.
inline Image resize_bilinear(const Image& src, int width, int height) {
  if (width <= 0 || height <= 0)
    throw std::invalid_argument("normlab::image::resize_bilinear: the size must be positive (got " +
                                std::to_string(width) + "x" + std::to_string(height) + ")");
  if (src.empty()) throw std::invalid_argument("normlab::image::resize_bilinear: empty image");
  if (width == src.width && height == src.height) return src;  // Pillow copies
  Image out(width, height);
  detail::resample_window(src, width, height, 0, 0, width, height,
                          detail::Canvas{out.data(), height, width, false}, 0, 0);
  return out;
}

}  // namespace normlab::image
