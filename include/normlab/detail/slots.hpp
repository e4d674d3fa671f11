#pragma once
// Compile-time composition of a Pipeline (Boost.Hana): find the policy of each kind among the
// template arguments, whatever their order, and fall back to the slot's default. Diagnostics are
// static_asserts with one sentence each (tests/compile_fail/ checks their wording).

#include <boost/hana/concat.hpp>
#include <boost/hana/filter.hpp>
#include <boost/hana/front.hpp>
#include <boost/hana/length.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>
#include <cstddef>

#include "normlab/policy.hpp"

namespace normlab::detail {

namespace hana = boost::hana;

/// The policies among Ps that are of kind Kind, as a hana tuple of types.
template <class Kind, class... Ps>
constexpr auto policies_of_kind() {
  return hana::filter(hana::tuple_t<Ps...>, [](auto t) {
    return hana::bool_c<policy::of_kind<typename decltype(t)::type, Kind>>;
  });
}

template <class Kind, class... Ps>
inline constexpr std::size_t count_of_kind = decltype(hana::length(policies_of_kind<Kind, Ps...>()))::value;

/// The policy of kind Kind among Ps, or Default when there is none.
template <class Kind, class Default, class... Ps>
using slot_t = typename decltype(+hana::front(
    hana::concat(policies_of_kind<Kind, Ps...>(), hana::tuple_t<Default>)))::type;

/// One static_assert per argument, so the compiler's note names the offending type.
template <class T>
constexpr bool check_is_policy() {
  static_assert(policy::any<T>,
                "normlab::Pipeline: every template argument must be a policy (a Normalization, "
                "Compensation, Model, Optimizer, Scheduler, Device, Dataset or Search; see docs/pipeline.md)");
  return true;
}

template <std::size_t Models>
constexpr bool check_model_count() {
  static_assert(Models != 0, "normlab::Pipeline requires exactly one Model policy (got 0)");
  static_assert(Models != 2, "normlab::Pipeline requires exactly one Model policy (got 2)");
  static_assert(Models <= 2, "normlab::Pipeline requires exactly one Model policy (got more than 2)");
  return true;
}

template <std::size_t Count>
constexpr bool check_at_most_one() {
  static_assert(Count <= 1,
                "normlab::Pipeline accepts at most one policy of each kind (two arguments are "
                "Normalizations, or Optimizers, ...: see the instantiation note for which)");
  return true;
}

}  // namespace normlab::detail
