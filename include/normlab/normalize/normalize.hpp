#pragma once
// Normalization policies: `Normalize<Mean, Std>` (compile-time constants, as in the notebook),
// `NormalizePerChannel<Channels{..}, Channels{..}>` (RGB), `normalize::Identity` (no transform) and
// `normalize::Runtime` (values given to Pipeline::run, as a search needs).
//
// A policy only names its values; BatchNormalizer applies them once per batch, on the device.

#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>

#include "normlab/normalize/values.hpp"
#include "normlab/policy.hpp"

namespace normlab {

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
  static constexpr const char* name = "Normalize";
  static constexpr bool is_identity = false;
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
  static constexpr const char* name = "NormalizePerChannel";
  static constexpr bool is_identity = false;
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
  static constexpr const char* name = "normalize::Identity";
  static constexpr bool is_identity = true;
  static NormalizationValues values() { return NormalizationValues::uniform(0.0, 1.0); }
};

/// The values come from RunOptions::normalization at run time (a search's trials). The only
/// Normalization that takes them: a Pipeline with a compile-time one refuses values that differ.
struct Runtime {
  using normlab_policy = policy::Normalization;
  static constexpr const char* name = "normalize::Runtime";
  static constexpr bool is_identity = false;
  static NormalizationValues values() {
    throw std::invalid_argument(
        "normlab::normalize::Runtime: no (mean, std) given; set RunOptions::normalization");
  }
};

}  // namespace normalize
}  // namespace normlab
