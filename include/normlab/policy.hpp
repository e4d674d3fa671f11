#pragma once
// The kinds of policy a normlab::Pipeline is composed of, and the concept that recognises each.
//
// A policy says what it is with one member alias, `using normlab_policy = normlab::policy::Model;`,
// so a user's own class becomes a policy without inheriting from anything (as in limbo and
// ensmallen). The Pipeline finds each slot's policy by this kind, never by position.
//
// A vocabulary header, in the bottom layer (docs/layers.md): it includes only <concepts> and knows
// no policy, so every folder may include it to tag its own policies -- search/samplers.hpp tags its
// strategies as Search policies with it and stays free of the Pipeline and of LibTorch.

#include <concepts>

namespace normlab::policy {

struct Normalization {};  ///< what is done to the input batch (normalize::*)
struct Compensation {};   ///< how conv1 is adjusted to the normalization (compensate::*)
struct Model {};          ///< the network (models::*)
struct Optimizer {};      ///< the optimiser (Adadelta<>, Sgd<>)
struct Scheduler {};      ///< the learning-rate schedule (ReduceOnPlateau<>, StepLr<>)
struct Device {};         ///< where tensors live (device::*)
struct Dataset {};        ///< which data is read (data::*)
struct Search {};         ///< how a study proposes parameters (search::Tpe<>, Random, Grid<>, Qmc)

/// True when T declares itself a policy of the kind Kind.
template <class T, class Kind>
concept of_kind = requires { typename T::normlab_policy; } &&
                  std::same_as<typename T::normlab_policy, Kind>;

/// True when T declares itself a policy of any kind.
template <class T>
concept any = of_kind<T, Normalization> || of_kind<T, Compensation> || of_kind<T, Model> ||
              of_kind<T, Optimizer> || of_kind<T, Scheduler> || of_kind<T, Device> ||
              of_kind<T, Dataset> || of_kind<T, Search>;

}  // namespace normlab::policy
