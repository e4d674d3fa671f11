#pragma once
// A search space fixed at compile time:
//   using NotebookSpace = Space<Uniform<"mean", -3.0, 3.0>, LogUniform<"std", 0.1, 2.0>>;
// Bounds are checked by the compiler; distributions() gives Optuna's distributions in declaration
// order (the order an objective suggests them in). No LibTorch.
//
// Floating-point template arguments need GCC >= 11, Clang >= 18 or MSVC 19.28.

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "normlab/search/distribution.hpp"

namespace normlab::search {

/// A string literal usable as a template argument: `Uniform<"mean", ...>`.
template <std::size_t N>
struct fixed_string {
  char value[N]{};
  constexpr fixed_string(const char (&text)[N]) { std::copy_n(text, N, value); }
  constexpr std::string_view view() const { return {value, N - 1}; }
};

/// A float parameter uniform on [Low, High]: suggest_float(name, Low, High).
template <fixed_string Name, double Low, double High>
struct Uniform {
  static_assert(Name.view().size() > 0, "normlab::search::Uniform requires a non-empty name");
  static_assert(Low < High, "normlab::search::Uniform requires Low < High");
  static constexpr std::string_view name = Name.view();
  static constexpr double low = Low, high = High;
  static Distribution distribution() { return FloatDistribution{Low, High, false, std::nullopt}; }
};

/// A float parameter log-uniform on [Low, High]: suggest_float(name, Low, High, log=True).
template <fixed_string Name, double Low, double High>
struct LogUniform {
  static_assert(Name.view().size() > 0, "normlab::search::LogUniform requires a non-empty name");
  static_assert(Low < High, "normlab::search::LogUniform requires Low < High");
  static_assert(Low > 0, "normlab::search::LogUniform requires Low > 0");
  static constexpr std::string_view name = Name.view();
  static constexpr double low = Low, high = High;
  static Distribution distribution() { return FloatDistribution{Low, High, true, std::nullopt}; }
};

/// A float parameter on the grid Low, Low + Step, ..., High: suggest_float(name, Low, High, step=Step).
template <fixed_string Name, double Low, double High, double Step>
struct SteppedUniform {
  static_assert(Name.view().size() > 0, "normlab::search::SteppedUniform requires a non-empty name");
  static_assert(Low < High, "normlab::search::SteppedUniform requires Low < High");
  static_assert(Step > 0, "normlab::search::SteppedUniform requires Step > 0");
  static constexpr std::string_view name = Name.view();
  static constexpr double low = Low, high = High;
  static Distribution distribution() { return FloatDistribution{Low, High, false, Step}; }
};

/// An integer parameter: suggest_int(name, Low, High, step=Step).
template <fixed_string Name, long long Low, long long High, long long Step = 1>
struct IntUniform {
  static_assert(Name.view().size() > 0, "normlab::search::IntUniform requires a non-empty name");
  static_assert(Low < High, "normlab::search::IntUniform requires Low < High");
  static_assert(Step > 0, "normlab::search::IntUniform requires Step > 0");
  static constexpr std::string_view name = Name.view();
  static constexpr long long low = Low, high = High;
  static Distribution distribution() { return IntDistribution{Low, High, false, Step}; }
};

/// An integer parameter, log-uniform: suggest_int(name, Low, High, log=True).
template <fixed_string Name, long long Low, long long High>
struct IntLogUniform {
  static_assert(Name.view().size() > 0, "normlab::search::IntLogUniform requires a non-empty name");
  static_assert(Low < High, "normlab::search::IntLogUniform requires Low < High");
  static_assert(Low >= 1, "normlab::search::IntLogUniform requires Low >= 1");
  static constexpr std::string_view name = Name.view();
  static constexpr long long low = Low, high = High;
  static Distribution distribution() { return IntDistribution{Low, High, true, 1}; }
};

/// What a Space parameter provides: a name and Optuna's distribution.
template <class P>
concept SpaceParameter = requires {
  { P::name } -> std::convertible_to<std::string_view>;
  { P::distribution() } -> std::same_as<Distribution>;
};

namespace detail {
template <std::size_t N>
constexpr bool unique_names(const std::array<std::string_view, N>& names) {
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = i + 1; j < N; ++j)
      if (names[i] == names[j]) return false;
  return true;
}
}  // namespace detail

/**
 * A search space whose parameters, names and bounds are types, checked at compile time.
 * @tparam Params Uniform, LogUniform, SteppedUniform, IntUniform, IntLogUniform (or any type with
 *         a `name` and a `distribution()`), in the order the objective suggests them.
 */
template <class... Params>
struct Space {
  static_assert(sizeof...(Params) > 0, "normlab::search::Space requires at least one parameter");
  static_assert((SpaceParameter<Params> && ...),
                "normlab::search::Space: every parameter needs a `name` and a `distribution()` "
                "(Uniform, LogUniform, SteppedUniform, IntUniform, IntLogUniform; docs/search.md)");
  static constexpr std::size_t size = sizeof...(Params);
  static constexpr std::array<std::string_view, size> names{Params::name...};
  static_assert(detail::unique_names(names), "normlab::search::Space: parameter names must be unique");

  /// (name, distribution) in declaration order.
  static std::vector<std::pair<std::string, Distribution>> distributions() {
    return {{std::string(Params::name), Params::distribution()}...};
  }

  /// Asks `trial` (anything with `double suggest(name, Distribution)`, e.g. study::Trial) for every
  /// parameter, in declaration order; returns name -> value.
  template <class TrialT>
  static std::map<std::string, double> suggest(TrialT& trial) {
    std::map<std::string, double> values;
    ((values[std::string(Params::name)] = trial.suggest(std::string(Params::name), Params::distribution())), ...);
    return values;
  }
};

}  // namespace normlab::search
