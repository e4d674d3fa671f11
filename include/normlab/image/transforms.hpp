#pragma once
// Image transforms with torchvision 0.14's semantics, composed at compile time:
//
//   using Notebook = Compose<Resize<256>, ToTensor, CenterCrop<224>>;   // the notebook's order
//   torch::Tensor x = Notebook{}(decode_image("cat.jpg"));            // uint8 [3, 224, 224]
//
// - Resize<S> is torchvision's Resize(S) on a PIL image: the shorter side becomes S, the longer
//   int(S * long / short); Resize<H, W> gives exactly H x W. The pixels are those of Pillow 9.4's
//   Image.resize(size, BILINEAR): a line-for-line port of ImagingResample (Resample.c): the
//   triangle filter whose support grows with the downscale factor (Pillow's antialiasing),
//   coefficients computed in double and normalised to 22-bit fixed point, a horizontal pass then a
//   vertical pass, each rounding and clipping to 8 bits. Pillow 9.4 applies no "reduce" step first
//   (Image.resize only does when reducing_gap is given, and torchvision never gives it).
// - CenterCrop<H, W = H> is torchvision's CenterCrop: zero padding first when the image is smaller
//   than the crop (left = (cw - w) // 2, right = (cw - w + 1) // 2), then
//   top = int(round((h - ch) / 2.0)) with Python's round half to even.
// - ToTensor turns the image into a uint8 [3, H, W] tensor. It keeps uint8: the / 255 (and
//   Normalize) happen later, batched on the device, in normlab::BatchNormalizer, whose float32
//   arithmetic is torchvision's, so ToTensor + Normalize are reproduced bit for bit.
//
// Composition is lazy: a transform turns a View (a source image, an optional pending resize, a
// window with zero padding) into another View, and pixels are computed once at the end. A resize
// followed by a crop therefore only computes the output pixels the crop keeps, which is exact
// because every output pixel of Pillow's separable filter depends on its own row and column
// coefficients alone. Compose checks at compile time what torchvision would do differently: a
// Resize after ToTensor is torchvision's tensor interpolation (a different filter, not
// implemented here), so it is refused.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <concepts>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <torch/torch.h>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

#include "normlab/image/image.hpp"

namespace normlab::image {

// ---- geometry: torchvision's arithmetic ----------------------------------------------------------

/// Output (height, width) of torchvision's Resize(size) (an int: the shorter side), from
/// transforms.functional._compute_resized_output_size: the longer side is truncated, not rounded.
inline std::pair<int, int> resized_output_size(int height, int width, int size) {
  const bool wide = width > height;
  const int64_t short_side = wide ? height : width, long_side = wide ? width : height;
  // Python: int(size * long / short): an exact integer product, a correctly rounded division.
  const int new_long = static_cast<int>(static_cast<double>(int64_t{size} * long_side) /
                                        static_cast<double>(short_side));
  return wide ? std::pair{size, new_long} : std::pair{new_long, size};
}

/// int(round(d / 2.0)) for an integer d, with Python's round half to even.
constexpr int round_half_even_half(int d) {
  const int q = d >= 0 ? d / 2 : -((-d + 1) / 2);  // floor(d / 2)
  if (d - 2 * q == 0) return q;
  return (q % 2 == 0) ? q : q + 1;  // d / 2 = q + 0.5: the even neighbour
}

/// Where torchvision's center_crop takes a crop of (crop_h, crop_w) from an image of (h, w),
/// after its zero padding: the padding on each side, then the crop's offset in the padded image.
struct CenterCropGeometry {
  int pad_left = 0, pad_top = 0, pad_right = 0, pad_bottom = 0;
  int top = 0, left = 0;
};

inline CenterCropGeometry center_crop_geometry(int height, int width, int crop_h, int crop_w) {
  CenterCropGeometry g;
  if (crop_w > width || crop_h > height) {
    if (crop_w > width) {
      g.pad_left = (crop_w - width) / 2;
      g.pad_right = (crop_w - width + 1) / 2;
    }
    if (crop_h > height) {
      g.pad_top = (crop_h - height) / 2;
      g.pad_bottom = (crop_h - height + 1) / 2;
    }
    height += g.pad_top + g.pad_bottom;
    width += g.pad_left + g.pad_right;
    if (crop_w == width && crop_h == height) return g;
  }
  g.top = round_half_even_half(height - crop_h);
  g.left = round_half_even_half(width - crop_w);
  return g;
}

// ---- Pillow 9.4's bilinear resampling ------------------------------------------------------------

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

// ---- View: what a chain of transforms has made of an image, computed lazily ----------------------

/**
 * A source image as transforms have described it so far: resized (Pillow bilinear) to
 * resized_width() x resized_height() when resized(), then seen through a window whose pixels
 * outside the content rectangle are zeros (torchvision's padding). Nothing is computed until
 * render(). A View borrows its source unless it was made from an rvalue Image.
 */
class View {
 public:
  struct Rect {
    int top, left, height, width;
    int bottom() const { return top + height; }
    int right() const { return left + width; }
  };

  explicit View(const Image& source) : borrowed_(&source) { reset_geometry(); }
  explicit View(Image&& source) : owned_(std::move(source)) { reset_geometry(); }
  View(const View& other) { *this = other; }
  View(View&& other) noexcept { *this = std::move(other); }
  View& operator=(const View& other) {
    if (this != &other) {
      owned_ = other.owned_;
      borrowed_ = other.borrowed_;
      copy_state(other);
    }
    return *this;
  }
  View& operator=(View&& other) noexcept {
    if (this != &other) {
      owned_ = std::move(other.owned_);
      borrowed_ = other.borrowed_;
      copy_state(other);
    }
    return *this;
  }

  const Image& source() const { return borrowed_ ? *borrowed_ : owned_; }
  int height() const { return window_.height; }
  int width() const { return window_.width; }
  bool resized() const { return resize_; }
  int resized_height() const { return resized_h_; }
  int resized_width() const { return resized_w_; }
  const Rect& window() const { return window_; }
  const Rect& content() const { return content_; }
  /// True once ToTensor has run: the result is a [3, H, W] tensor rather than an image.
  bool is_tensor() const { return tensor_; }
  void mark_tensor() { tensor_ = true; }
  /// True when the view is its source as it is (no resize, no crop, no padding).
  bool is_plain() const {
    return !resize_ && window_.top == 0 && window_.left == 0 && window_.height == source().height &&
           window_.width == source().width;
  }

  /// Pillow's resize of the current view to height x width (computed when rendered). A view that
  /// is already resized, cropped or padded is rendered first, as the transforms run one by one.
  void resize(int height, int width) {
    if (height == window_.height && width == window_.width) return;  // torchvision returns img
    if (!is_plain()) materialize();
    resize_ = true;
    resized_h_ = height;
    resized_w_ = width;
    window_ = content_ = Rect{0, 0, height, width};
  }

  /// torchvision's center_crop: zero padding when the view is smaller, then the centred window.
  void center_crop(int crop_h, int crop_w) {
    const auto g = center_crop_geometry(window_.height, window_.width, crop_h, crop_w);
    // Padding widens the window; the content rectangle stays, so the new border renders as zeros.
    window_.top -= g.pad_top;
    window_.left -= g.pad_left;
    window_.height += g.pad_top + g.pad_bottom;
    window_.width += g.pad_left + g.pad_right;
    window_ = Rect{window_.top + g.top, window_.left + g.left, crop_h, crop_w};
    content_ = intersect(content_, window_);  // what lies outside the crop is gone for good
  }

  /// Computes the view into `out` (height() * width() * 3 bytes): HWC, or CHW when planar.
  void render(uint8_t* out, bool planar) const {
    const detail::Canvas canvas{out, window_.height, window_.width, planar};
    const Rect inside = intersect(content_, window_);
    if (inside.height <= 0 || inside.width <= 0) {
      std::memset(out, 0, static_cast<std::size_t>(window_.height) * window_.width * 3);
      return;
    }
    if (inside.height != window_.height || inside.width != window_.width)
      std::memset(out, 0, static_cast<std::size_t>(window_.height) * window_.width * 3);
    const int cy = inside.top - window_.top, cx = inside.left - window_.left;
    const Image& src = source();
    if (resize_) {
      detail::resample_window(src, resized_w_, resized_h_, inside.left, inside.top, inside.width,
                              inside.height, canvas, cx, cy);
    } else if (!planar) {
      for (int j = 0; j < inside.height; ++j)
        std::memcpy(canvas.at(0, cy + j, cx),
                    src.row(inside.top + j) + static_cast<std::size_t>(inside.left) * 3,
                    static_cast<std::size_t>(inside.width) * 3);
    } else {
      for (int j = 0; j < inside.height; ++j) {
        const uint8_t* in = src.row(inside.top + j) + static_cast<std::size_t>(inside.left) * 3;
        uint8_t* __restrict r = canvas.at(0, cy + j, cx);
        uint8_t* __restrict g = canvas.at(1, cy + j, cx);
        uint8_t* __restrict b = canvas.at(2, cy + j, cx);
        for (int i = 0; i < inside.width; ++i) {
          r[i] = in[3 * i];
          g[i] = in[3 * i + 1];
          b[i] = in[3 * i + 2];
        }
      }
    }
  }

  /// The view as an image (HWC).
  Image to_image() const {
    if (is_plain()) return source();
    Image out(window_.width, window_.height);
    render(out.data(), false);
    return out;
  }

  /// The view as a uint8 [3, H, W] tensor.
  torch::Tensor to_tensor() const {
    auto out = torch::empty({3, window_.height, window_.width}, torch::kUInt8);
    render(out.data_ptr<uint8_t>(), true);
    return out;
  }

 private:
  static Rect intersect(const Rect& a, const Rect& b) {
    const int top = std::max(a.top, b.top), left = std::max(a.left, b.left);
    const int bottom = std::min(a.bottom(), b.bottom()), right = std::min(a.right(), b.right());
    return Rect{top, left, std::max(0, bottom - top), std::max(0, right - left)};
  }
  void reset_geometry() {
    resize_ = false;
    resized_h_ = source().height;
    resized_w_ = source().width;
    window_ = content_ = Rect{0, 0, resized_h_, resized_w_};
  }
  void materialize() {
    Image pixels = to_image();
    owned_ = std::move(pixels);
    borrowed_ = nullptr;
    reset_geometry();
  }
  void copy_state(const View& other) {
    resize_ = other.resize_;
    resized_h_ = other.resized_h_;
    resized_w_ = other.resized_w_;
    window_ = other.window_;
    content_ = other.content_;
    tensor_ = other.tensor_;
  }

  Image owned_;
  const Image* borrowed_ = nullptr;
  bool resize_ = false;
  int resized_h_ = 0, resized_w_ = 0;
  Rect window_{}, content_{};
  bool tensor_ = false;
};

// ---- transforms -------------------------------------------------------------------------------

/// What Compose knows about a transform at compile time.
struct TransformTraits {
  bool to_tensor = false;      ///< turns the image into a tensor (ToTensor)
  bool needs_pil = false;      ///< torchvision would do something else on a tensor (Resize)
  int fixed_height = -1;       ///< output height whatever the input (-1: depends on it)
  int fixed_width = -1;
  bool keeps_size = false;     ///< output size = input size
};

/// A transform: `View apply(View) const` and a `static constexpr TransformTraits traits`.
template <typename T>
concept Transform = requires(const T& t, View v) {
  { t.apply(std::move(v)) } -> std::same_as<View>;
  { T::traits } -> std::convertible_to<TransformTraits>;
};

template <typename... Ts>
class Compose;

namespace detail {
/// Runs a single transform on an image: the result is an Image, or a tensor after ToTensor.
template <typename T>
auto run_alone(const T& t, const Image& img) {
  View v = t.apply(View(img));
  if constexpr (T::traits.to_tensor) {
    return v.to_tensor();
  } else {
    return v.to_image();
  }
}
}  // namespace detail

/**
 * torchvision's Resize on a PIL image with bilinear interpolation (its default), which is Pillow's
 * antialiased bilinear filter in 8-bit fixed point.
 * @tparam Size   Resize(Size): the shorter side becomes Size, the longer int(Size * long / short)
 * @tparam Width  when > 0, Resize((Size, Width)): exactly Size rows and Width columns
 */
template <int Size, int Width = 0>
struct Resize {
  static_assert(Size > 0 && Width >= 0, "normlab::image::Resize requires Size > 0 (and Width >= 0)");
  static constexpr TransformTraits traits{false, true, Width > 0 ? Size : -1, Width > 0 ? Width : -1, false};

  /// The output (height, width) for an input of (height, width).
  static std::pair<int, int> output_size(int height, int width) {
    if constexpr (Width > 0) {
      return {Size, Width};
    } else {
      return resized_output_size(height, width, Size);
    }
  }
  View apply(View v) const {
    if (v.is_tensor())
      throw std::logic_error("normlab::image::Resize: the input is already a tensor (torchvision's "
                             "tensor resize is a different filter, which normlab does not offer)");
    const auto [h, w] = output_size(v.height(), v.width());
    v.resize(h, w);
    return v;
  }
  Image operator()(const Image& img) const { return detail::run_alone(*this, img); }
};

/**
 * torchvision's CenterCrop((Height, Width)): zero padding when the input is smaller than the crop,
 * then the centred window, its offsets rounded half to even as Python's round().
 */
template <int Height, int Width = Height>
struct CenterCrop {
  static_assert(Height > 0 && Width > 0, "normlab::image::CenterCrop requires a positive size");
  static constexpr TransformTraits traits{false, false, Height, Width, false};

  View apply(View v) const {
    v.center_crop(Height, Width);
    return v;
  }
  Image operator()(const Image& img) const { return detail::run_alone(*this, img); }

  /// On a tensor [..., H, W] of any dtype, as torchvision's F.center_crop on tensors.
  torch::Tensor operator()(const torch::Tensor& t) const {
    if (t.dim() < 2)
      throw std::invalid_argument("normlab::image::CenterCrop: expected a tensor [..., H, W]");
    const int h = static_cast<int>(t.size(-2)), w = static_cast<int>(t.size(-1));
    const auto g = center_crop_geometry(h, w, Height, Width);
    torch::Tensor x = t;
    if (g.pad_left || g.pad_right || g.pad_top || g.pad_bottom)
      x = torch::constant_pad_nd(x, {g.pad_left, g.pad_right, g.pad_top, g.pad_bottom}, 0);
    return x.narrow(-2, g.top, Height).narrow(-1, g.left, Width).contiguous();
  }
};

/**
 * torchvision's ToTensor, without the division: an RGB image becomes a uint8 [3, H, W] tensor
 * (CHW). normlab::BatchNormalizer later divides by 255 and normalizes, batched on the device, with
 * the same float32 arithmetic as ToTensor + Normalize.
 */
struct ToTensor {
  static constexpr TransformTraits traits{true, false, -1, -1, true};

  View apply(View v) const {
    if (v.is_tensor())
      throw std::logic_error("normlab::image::ToTensor: the input is already a tensor");
    v.mark_tensor();
    return v;
  }
  torch::Tensor operator()(const Image& img) const { return detail::run_alone(*this, img); }
};

namespace detail {

/// What a chain of transforms makes, worked out at compile time.
struct ChainInfo {
  bool tensor = false;
  int fixed_height = -1, fixed_width = -1;
  int tensor_count = 0;
  bool pil_after_tensor = false;
  bool needs_pil = false;   // some transform needs an image, not a tensor
  bool keeps_size = true;   // every transform keeps the size
};

template <typename... Ts>
constexpr ChainInfo chain_info() {
  ChainInfo info;
  auto step = [&info](const TransformTraits& t) {
    if (t.needs_pil && info.tensor) info.pil_after_tensor = true;
    if (t.needs_pil && !info.tensor) info.needs_pil = true;
    if (!t.keeps_size) info.keeps_size = false;
    if (t.to_tensor) {
      info.tensor = true;
      ++info.tensor_count;
    }
    if (!t.keeps_size) {
      info.fixed_height = t.fixed_height;
      info.fixed_width = t.fixed_width;
    }
  };
  (step(Ts::traits), ...);
  return info;
}

}  // namespace detail

/**
 * Transforms applied in order, as torchvision's transforms.Compose; the whole chain is one
 * transform. The result of operator() is a uint8 [3, H, W] tensor when the chain holds ToTensor,
 * else an Image. Pixels are computed once, at the end (see View).
 * @tparam Ts Resize, CenterCrop, ToTensor, or any type modelling normlab::image::Transform.
 */
template <typename... Ts>
class Compose {
  static_assert((Transform<Ts> && ...),
                "normlab::image::Compose: every argument must be a transform (Resize, CenterCrop, "
                "ToTensor, or a type with `View apply(View) const` and `static constexpr "
                "TransformTraits traits`; see docs/images.md)");
  static constexpr detail::ChainInfo info = detail::chain_info<Ts...>();
  static_assert(!info.pil_after_tensor,
                "normlab::image::Compose: Resize after ToTensor would be torchvision's tensor "
                "interpolation, a different filter that normlab does not implement; put Resize "
                "before ToTensor, as the notebook does");
  static_assert(info.tensor_count <= 1, "normlab::image::Compose: ToTensor appears more than once");

 public:
  static constexpr TransformTraits traits{info.tensor, info.needs_pil, info.fixed_height,
                                          info.fixed_width, info.keeps_size};
  /// True when the chain ends in a tensor (it holds ToTensor).
  static constexpr bool makes_tensor = info.tensor;
  /// The output size when it does not depend on the input (the chain has a CenterCrop after its
  /// last Resize), else -1.
  static constexpr int fixed_height = info.fixed_height;
  static constexpr int fixed_width = info.fixed_width;

  Compose() = default;
  explicit Compose(Ts... transforms) : transforms_(std::move(transforms)...) {}

  View apply(View v) const {
    std::apply([&v](const Ts&... t) { ((v = t.apply(std::move(v))), ...); }, transforms_);
    return v;
  }

  /// The transformed image: a uint8 [3, H, W] tensor when the chain holds ToTensor, else an Image.
  auto operator()(const Image& img) const {
    View v = apply(View(img));
    if constexpr (makes_tensor) {
      return v.to_tensor();
    } else {
      return v.to_image();
    }
  }

  /// Renders the transformed image as uint8 CHW into `out`, which holds 3 * fixed_height *
  /// fixed_width bytes (how ImageBatchLoader fills a batch in place).
  void into(const Image& img, uint8_t* out) const
    requires(fixed_height > 0 && fixed_width > 0)
  {
    const View v = apply(View(img));
    if (v.height() != fixed_height || v.width() != fixed_width)
      throw std::logic_error("normlab::image::Compose: output size differs from the fixed size");
    v.render(out, true);
  }

 private:
  std::tuple<Ts...> transforms_;
};

/// The notebook's ResNet preprocessing up to Normalize: Resize(256), ToTensor(), CenterCrop(224).
using NotebookTransform = Compose<Resize<256>, ToTensor, CenterCrop<224>>;

}  // namespace normlab::image
