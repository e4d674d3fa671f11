#pragma once
// The affine Normalization policies: `Normalize<Mean, Std>` (compile-time constants, as in the
// notebook), `NormalizePerChannel<Channels{..}, Channels{..}>` (RGB), `normalize::Identity` (no
// transform) and `normalize::Runtime` (values given to Pipeline::run, as a search needs).
//
// A Normalization policy names its (mean, std) and its `normalizer`, the class that turns a uint8
// batch into the network's input (normalize/normalizer.hpp says what one must have). These four use
// BatchNormalizer, torchvision's ToTensor + Normalize bit for bit; others (per-image
// standardisation, a learned input affine, a user's own) are policies of the same shape.

#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>

#include "normlab/normalize/values.hpp"
#include "normlab/policy.hpp"

namespace normlab {

class BatchNormalizer;   // normalize/batch_normalizer.hpp: (x / 255 - mean) / std
class ToTensorOnly;      // normalize/batch_normalizer.hpp: x / 255

/// A compile-time list of per-channel constants, usable as a template argument (C++20).
template <std::size_t N>
struct Channels {
  double value[N];
};
template <class... T>
Channels(T...) -> Channels<sizeof...(T)>;

namespace detail {
constexpr bool valid_std(double s) { return s > 0 && s < std::numeric_limits<double>::infinity(); }
constexpr bool finite(double m) {
  return m > -std::numeric_limits<double>::infinity() &&
         m < std::numeric_limits<double>::infinity();
}
}  // namespace detail

/// `transforms.Normalize((Mean,), (Std,))` on every channel, with the constants in the type.
/// @tparam Mean subtracted from every pixel (after the /255 of ToTensor)
/// @tparam Std  divides every pixel; checked > 0 and finite at compile time
template <double Mean, double Std>
struct Normalize {
  static_assert(detail::valid_std(Std), "normlab::Normalize requires Std > 0 (and finite)");
  static_assert(detail::finite(Mean), "normlab::Normalize requires a finite Mean");
  using normlab_policy = policy::Normalization;
  using normalizer = BatchNormalizer;
  static constexpr const char* name = "Normalize";
  static constexpr bool affine_in_values = true;
  static NormalizationValues values() { return NormalizationValues::uniform(Mean, Std); }
};

/// Per-channel `transforms.Normalize(mean, std)`, e.g. ImageNet's
/// `NormalizePerChannel<Channels{0.485, 0.456, 0.406}, Channels{0.229, 0.224, 0.225}>`.
template <auto Mean, auto Std>
struct NormalizePerChannel {
  static_assert(std::size(Mean.value) == std::size(Std.value),
                "normlab::NormalizePerChannel requires as many Std values as Mean values");
  static_assert([] {
    for (double s : Std.value)
      if (!detail::valid_std(s)) return false;
    return true;
  }(), "normlab::NormalizePerChannel requires every Std > 0 (and finite)");
  using normlab_policy = policy::Normalization;
  using normalizer = BatchNormalizer;
  static constexpr const char* name = "NormalizePerChannel";
  static constexpr bool affine_in_values = true;
  static NormalizationValues values() {
    NormalizationValues v{{}, {}};
    for (double m : Mean.value) v.mean.push_back(m);
    for (double s : Std.value) v.std.push_back(s);
    return v;
  }
};

namespace normalize {

/// No normalization: only ToTensor's /255 (mean 0, std 1, and no arithmetic spent on it).
struct Identity {
  using normlab_policy = policy::Normalization;
  using normalizer = ToTensorOnly;
  static constexpr const char* name = "normalize::Identity";
  static constexpr bool affine_in_values = true;
  static NormalizationValues values() { return NormalizationValues::uniform(0.0, 1.0); }
};

/// The values come from RunOptions::normalization at run time (a search's trials). The only
/// Normalization that takes them: a Pipeline with a compile-time one refuses values that differ.
struct Runtime {
  using normlab_policy = policy::Normalization;
  using normalizer = BatchNormalizer;
  static constexpr const char* name = "normalize::Runtime";
  static constexpr bool affine_in_values = true;
  static constexpr bool takes_runtime_values = true;
  static NormalizationValues values() {
    throw std::invalid_argument(
        "normlab::normalize::Runtime: no (mean, std) given; set RunOptions::normalization");
  }
};

}  // namespace normalize

/// Whether a Normalization policy takes its (mean, std) from RunOptions::normalization (a study's
/// trials): it declares `takes_runtime_values = true`; its values() is then the default, used when
/// none are given (normalize::Runtime's throws: it has none).
template <class Policy>
inline constexpr bool takes_runtime_values = [] {
  if constexpr (requires { Policy::takes_runtime_values; }) return bool(Policy::takes_runtime_values);
  return false;
}();

/// Whether a policy's output is (z - mean) / std for a z that does not depend on (mean, std): then
/// the compensations that adjust conv1 to (mean, std) apply to it (compensate/compensate.hpp).
template <class Policy>
inline constexpr bool affine_in_values = [] {
  if constexpr (requires { Policy::affine_in_values; }) return bool(Policy::affine_in_values);
  return false;
}();

}  // namespace normlab
