#pragma once
// Hyper-parameters at run time: a Pipeline carries its optimizer's and scheduler's options
// (LibTorch-style, e.g. optim::AdadeltaOptions), starting from the policies' compile-time
// constants. A policy takes part by declaring `options_type`, `options()` and `make_with(...,
// options)`; one without them is made by its `make` and has no options (NoOptions).

#include <type_traits>
#include <utility>

namespace normlab {

/// The options of a policy that has none.
struct NoOptions {
  bool operator==(const NoOptions&) const = default;
};

namespace detail {
template <class Policy>
struct options_of {
  using type = NoOptions;
};
template <class Policy>
  requires requires { typename Policy::options_type; }
struct options_of<Policy> {
  using type = typename Policy::options_type;
};
}  // namespace detail

/// A policy's options type: Policy::options_type, or NoOptions.
template <class Policy>
using options_of_t = typename detail::options_of<Policy>::type;

/// Whether Policy builds from run-time options (options_type, options(), make_with).
template <class Policy>
inline constexpr bool has_options = !std::is_same_v<options_of_t<Policy>, NoOptions>;

/// The policy's compile-time constants as options (NoOptions where it has none).
template <class Policy>
options_of_t<Policy> default_options() {
  if constexpr (has_options<Policy>)
    return Policy::options();
  else
    return {};
}

/// Policy::make_with(arg, options) where the policy has options, else Policy::make(arg): an
/// optimizer from its parameters, a schedule from its optimizer.
template <class Policy, class Arg>
auto make_with_options(Arg&& arg, const options_of_t<Policy>& options) {
  if constexpr (has_options<Policy>)
    return Policy::make_with(std::forward<Arg>(arg), options);
  else
    return Policy::make(std::forward<Arg>(arg));
}

/// Whether `options` are the policy's compile-time constants (for paths that train with the
/// constants alone: RunOptions::fast).
template <class Policy>
bool are_default_options(const options_of_t<Policy>& options) {
  return options == default_options<Policy>();
}

}  // namespace normlab
