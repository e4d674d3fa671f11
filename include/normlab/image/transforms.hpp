#pragma once
// Image transforms with torchvision 0.14's semantics, composed at compile time:
//
//   using Notebook = Compose<Resize<256>, ToTensor, CenterCrop<224>>;   // the notebook's order
//   torch::Tensor x = Notebook{}(decode_image("cat.jpg"));            // uint8 [3, 224, 224]
//
// - Resize<S> is torchvision's Resize(S) on a PIL image: the shorter side becomes S, the longer
//   int(S * long / short); Resize<H, W> gives exactly H x W. The pixels are those of Pillow 9.4's
//   Image.resize(size, BILINEAR), whose line-for-line port of ImagingResample (Resample.c) is in
//   pillow_resample.hpp (included here, with resize_bilinear).
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

#include "normlab/image/image.hpp"
#include "normlab/image/pillow_resample.hpp"

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
