#pragma once
// Every search strategy behind one name ("tpe", "random", "grid", "qmc"), and the same strategies
// as Pipeline policies (search::Tpe<>, search::Random, search::Grid<Space>, search::Qmc). No LibTorch.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "normlab/detail/compiled.hpp"
#include "normlab/policy.hpp"
#include "normlab/search/distribution.hpp"
#include "normlab/search/grid.hpp"
#include "normlab/search/qmc.hpp"
#include "normlab/search/random.hpp"
#include "normlab/search/sampler.hpp"
#include "normlab/search/space.hpp"
#include "normlab/search/tpe.hpp"

namespace normlab::search {

/// What make_sampler may need besides a name and a seed.
struct SamplerSettings {
  /// The search space in suggest order: the grid of "grid" (unless `grid` is given; without
  /// either, the grid's axes are discovered as the objective asks), and the Sobol dimension of
  /// each parameter for "qmc" (without it: first-asked order).
  std::vector<std::pair<std::string, Distribution>> space;
  /// "grid": explicit values per parameter (takes precedence over `space`).
  GridSampler::Grid grid;
  /// "grid": points per parameter when the grid is built from `space`.
  std::size_t grid_points = 5;
  /// "tpe": every TPESampler option; its seed is replaced by make_sampler's.
  TpeOptions tpe;
  /// "qmc": scramble the Sobol sequence.
  bool qmc_scramble = true;
};

/// The sampler called `name` ("tpe", "random", "grid", "qmc"), seeded with `seed`.
/// @throws std::invalid_argument for another name.
NORMLAB_INLINE std::unique_ptr<Sampler> make_sampler(const std::string& name, uint64_t seed,
                                             const SamplerSettings& settings = {});
#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE std::unique_ptr<Sampler> make_sampler(const std::string& name, uint64_t seed,
                                             const SamplerSettings& settings) {
  if (name == "tpe") return std::make_unique<TpeSampler>(TpeOptions(settings.tpe).seed(seed));
  if (name == "random") return std::make_unique<RandomSampler>(seed);
  if (name == "grid") {
    if (!settings.grid.empty()) return std::make_unique<GridSampler>(settings.grid);
    if (settings.space.empty()) return std::make_unique<GridSampler>(settings.grid_points);
    return std::make_unique<GridSampler>(GridSampler::grid_of(settings.space, settings.grid_points));
  }
  if (name == "qmc") {
    std::vector<std::string> names;
    for (const auto& entry : settings.space) names.push_back(entry.first);
    return std::make_unique<QmcSampler>(seed, settings.qmc_scramble, std::move(names));
  }
  throw std::invalid_argument("normlab::make_sampler: unknown sampler \"" + name +
                              "\" (expected \"tpe\", \"random\", \"grid\" or \"qmc\")");
}
#endif

// ---- Pipeline policies ---------------------------------------------------------------------------

/// TPE settings carried by a type; derive and override what differs:
/// `struct Quick : search::TpeDefaults { static constexpr int n_startup_trials = 5; };`
struct TpeDefaults {
  static constexpr bool consider_prior = true;
  static constexpr double prior_weight = 1.0;
  static constexpr bool consider_magic_clip = true;
  static constexpr bool consider_endpoints = false;
  static constexpr int n_startup_trials = 10;
  static constexpr int n_ei_candidates = 24;
  static constexpr bool constant_liar = false;
  static constexpr NumpyMath numpy_math = NumpyMath::Avx512Skx;
};

/// Search policy: Optuna 3.1's TPE (TpeSampler). @tparam Params TpeDefaults or a type derived from it.
template <class Params = TpeDefaults>
struct Tpe {
  using normlab_policy = policy::Search;
  static TpeOptions options(uint64_t seed) {
    return TpeOptions()
        .consider_prior(Params::consider_prior)
        .prior_weight(Params::prior_weight)
        .consider_magic_clip(Params::consider_magic_clip)
        .consider_endpoints(Params::consider_endpoints)
        .n_startup_trials(Params::n_startup_trials)
        .n_ei_candidates(Params::n_ei_candidates)
        .constant_liar(Params::constant_liar)
        .numpy_math(Params::numpy_math)
        .seed(seed);
  }
  static std::unique_ptr<Sampler> make(uint64_t seed) { return std::make_unique<TpeSampler>(options(seed)); }
};

/// Search policy: uniform random search (RandomSampler).
struct Random {
  using normlab_policy = policy::Search;
  static std::unique_ptr<Sampler> make(uint64_t seed) { return std::make_unique<RandomSampler>(seed); }
};

template <class T>
inline constexpr bool is_space_v = false;
template <class... Ps>
inline constexpr bool is_space_v<Space<Ps...>> = true;

/// Search policy: grid search over `SpaceT` with `Points` values per parameter (GridSampler).
template <class SpaceT, std::size_t Points = 5>
struct Grid {
  static_assert(is_space_v<SpaceT>, "normlab::search::Grid requires a normlab::search::Space<...> (docs/search.md)");
  static_assert(Points > 0, "normlab::search::Grid requires Points > 0");
  using normlab_policy = policy::Search;
  static std::unique_ptr<Sampler> make(uint64_t /*seed*/) {
    return std::make_unique<GridSampler>(GridSampler::grid_of(SpaceT::distributions(), Points));
  }
};

/// Search policy: scrambled Sobol points (QmcSampler); dimensions in suggest order.
struct Qmc {
  using normlab_policy = policy::Search;
  static std::unique_ptr<Sampler> make(uint64_t seed) { return std::make_unique<QmcSampler>(seed); }
};

/// The Search policy of a composition that may name one (a Pipeline's `named_search_t`: its
/// Search policy, or void), Tpe<> when it names none. A study resolves it here, above the
/// Pipeline, so that the Pipeline needs no sampler.
template <class Composition>
using search_policy_of_t = std::conditional_t<std::is_void_v<typename Composition::named_search_t>, Tpe<>,
                                              typename Composition::named_search_t>;

}  // namespace normlab::search
