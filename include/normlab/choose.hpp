#pragma once
// normlab::choose: a run-time name (a command-line flag, a config entry) to a compile-time policy,
// through the policies' own `name` constants, so programs need no hand-written string-to-type
// dispatch:
//
//   choose<compensate::Notebook, compensate::Exact, compensate::None>(flag, [&]<class C>(std::type_identity<C>) {
//     run<Pipeline<normalize::Runtime, LeNet, C>>(...);
//   });
//
// Every alternative is instantiated (they are compile-time types), and an unknown name is a
// std::invalid_argument that lists the names there are. A vocabulary header (docs/layers.md): it
// knows no policy, only that each has a `name`.

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace normlab {

/// A policy with a name a person can type.
template <class P>
concept named_policy = requires { std::string_view(P::name); };

/// The names of Ps, joined by `separator` ("notebook | exact | none"), for help texts and errors.
template <named_policy... Ps>
std::string policy_names(std::string_view separator = " | ") {
  std::string out;
  ((out += (out.empty() ? "" : std::string(separator)) + std::string(Ps::name)), ...);
  return out;
}

/// The names of Ps as a list, e.g. for a command-line parser's set of allowed values
/// (CLI11: `->check(CLI::IsMember(policy_name_list<...>()))`, refused before any work).
template <named_policy... Ps>
std::vector<std::string> policy_name_list() {
  return {std::string(Ps::name)...};
}

/**
 * Calls f(std::type_identity<P>{}) for the P among Ps whose `name` equals `name`, and returns what
 * it returns (the same type for every P). An unknown name throws std::invalid_argument:
 * "<what> expects notebook, exact, none (got 'x')".
 *
 * @tparam Ps the alternatives, each with a `static constexpr ... name`; their names must differ
 * @param what what is being chosen, as the user sees it (a flag such as "--compensation")
 */
template <named_policy... Ps, class F>
decltype(auto) choose(std::string_view name, F&& f, std::string_view what = "normlab::choose") {
  static_assert(sizeof...(Ps) > 0, "normlab::choose needs at least one policy to choose from");
  using Result = std::remove_cvref_t<decltype(f(std::type_identity<std::tuple_element_t<0, std::tuple<Ps...>>>{}))>;
  static_assert((std::is_same_v<Result, std::remove_cvref_t<decltype(f(std::type_identity<Ps>{}))>> && ...),
                "normlab::choose: the function must return the same type for every policy");
  if constexpr (std::is_void_v<Result>) {
    const bool found = ((std::string_view(Ps::name) == name ? (f(std::type_identity<Ps>{}), true) : false) || ...);
    if (!found)
      throw std::invalid_argument(std::string(what) + " expects " + policy_names<Ps...>(", ") + " (got '" +
                                  std::string(name) + "')");
  } else {
    std::optional<Result> result;
    ((std::string_view(Ps::name) == name ? (result.emplace(f(std::type_identity<Ps>{})), true) : false) || ...);
    if (!result)
      throw std::invalid_argument(std::string(what) + " expects " + policy_names<Ps...>(", ") + " (got '" +
                                  std::string(name) + "')");
    return Result(std::move(*result));
  }
}

}  // namespace normlab
