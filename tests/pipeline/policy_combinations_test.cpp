// Pipelines over combinations of policies. At compile time, every combination of the library's
// Normalization, Compensation, Optimizer, Scheduler and Dataset policies (generated with
// Boost.Hana's cartesian product: 4 x 3 x 2 x 4 x 2 = 192 Pipelines) composes, in the order given
// and reversed, with the same slots. At run time, a pairwise covering set of them (every pair of
// two slots' choices appears in at least one row: 16 rows, checked at compile time) is compiled
// through Pipeline::run and trains one epoch on a few fixture images.
#include <boost/hana.hpp>
#include <catch2/catch.hpp>
#include <normlab/normlab.hpp>

#include <array>
#include <cmath>
#include <tuple>

#include "../golden.hpp"

using namespace normlab;
namespace hana = boost::hana;

namespace {

using Normalizations = std::tuple<Normalize<0.1307, 0.3081>, normalize::Runtime, normalize::PerImageStandardize,
                                  normalize::LearnedAffine>;
using Compensations = std::tuple<compensate::Notebook, compensate::Exact, compensate::None>;
using Optimizers = std::tuple<Adadelta<>, Sgd<>>;
using Schedulers = std::tuple<ReduceOnPlateau<>, StepLr<>, ConstantLr, ReduceOnTrainLoss<>>;
using Datasets = std::tuple<data::Mnist, data::FashionMnist>;
constexpr std::array<std::size_t, 5> kLevels = {std::tuple_size_v<Normalizations>, std::tuple_size_v<Compensations>,
                                                std::tuple_size_v<Optimizers>, std::tuple_size_v<Schedulers>,
                                                std::tuple_size_v<Datasets>};

template <class Tuple>
constexpr auto types_of = []<std::size_t... I>(std::index_sequence<I...>) {
  return hana::tuple_t<std::tuple_element_t<I, Tuple>...>;
}(std::make_index_sequence<std::tuple_size_v<Tuple>>{});

// --- every combination composes, in either order, into the same slots ---------------------------
constexpr bool every_combination_composes() {
  const auto all = hana::cartesian_product(hana::make_tuple(types_of<Normalizations>, types_of<Compensations>,
                                                            types_of<Optimizers>, types_of<Schedulers>,
                                                            types_of<Datasets>));
  static_assert(hana::length(all) == hana::size_c<192>);
  hana::for_each(all, [](auto combination) {
    using N = typename decltype(+hana::at_c<0>(combination))::type;
    using C = typename decltype(+hana::at_c<1>(combination))::type;
    using O = typename decltype(+hana::at_c<2>(combination))::type;
    using S = typename decltype(+hana::at_c<3>(combination))::type;
    using D = typename decltype(+hana::at_c<4>(combination))::type;
    if constexpr (compensation_applies<C, N>) {
      using Given = Pipeline<N, LeNet, C, O, S, device::Cpu, D>;
      using Reversed = Pipeline<D, device::Cpu, S, O, C, LeNet, N>;
      static_assert(std::is_same_v<typename Given::normalization_t, N> &&
                    std::is_same_v<typename Reversed::normalization_t, N>);
      static_assert(std::is_same_v<typename Given::compensation_t, C> &&
                    std::is_same_v<typename Reversed::compensation_t, C>);
      static_assert(std::is_same_v<typename Given::optimizer_t, O> && std::is_same_v<typename Reversed::optimizer_t, O>);
      static_assert(std::is_same_v<typename Given::scheduler_t, S> && std::is_same_v<typename Reversed::scheduler_t, S>);
      static_assert(std::is_same_v<typename Given::dataset_t, D> && std::is_same_v<typename Reversed::dataset_t, D>);
      static_assert(Given::takes_runtime_normalization == takes_runtime_values<N>);
      static_assert(std::is_same_v<typename Given::normalizer_t, typename N::normalizer>);
    }
  });
  return true;
}
static_assert(every_combination_composes());

// --- a pairwise covering set, checked to cover -------------------------------------------------
// Rows: indices into Normalizations, Compensations, Optimizers, Schedulers, Datasets.
constexpr std::array<std::array<std::size_t, 5>, 16> kPairwise = {{
    {0, 0, 0, 0, 1}, {0, 0, 0, 3, 1}, {0, 1, 1, 2, 1}, {0, 2, 0, 1, 0}, {1, 0, 1, 2, 0}, {1, 1, 0, 3, 1},
    {1, 1, 1, 1, 0}, {1, 2, 1, 0, 1}, {2, 0, 1, 3, 1}, {2, 1, 0, 1, 0}, {2, 1, 1, 0, 0}, {2, 2, 0, 2, 1},
    {3, 0, 0, 0, 1}, {3, 0, 1, 1, 1}, {3, 1, 0, 2, 1}, {3, 2, 1, 3, 0},
}};

constexpr bool covers_every_pair() {
  for (std::size_t a = 0; a < 5; ++a)
    for (std::size_t b = a + 1; b < 5; ++b)
      for (std::size_t x = 0; x < kLevels[a]; ++x)
        for (std::size_t y = 0; y < kLevels[b]; ++y) {
          bool found = false;
          for (const auto& row : kPairwise) found = found || (row[a] == x && row[b] == y);
          if (!found) return false;
        }
  return true;
}
static_assert(covers_every_pair(), "kPairwise must hold every pair of two slots' choices");

template <std::size_t Row>
using PairwisePipeline =
    Pipeline<std::tuple_element_t<kPairwise[Row][0], Normalizations>, LeNet,
             std::tuple_element_t<kPairwise[Row][1], Compensations>, std::tuple_element_t<kPairwise[Row][2], Optimizers>,
             std::tuple_element_t<kPairwise[Row][3], Schedulers>, device::Cpu,
             std::tuple_element_t<kPairwise[Row][4], Datasets>>;

}  // namespace

TEST_CASE("a pairwise covering set of policy combinations trains through Pipeline::run", "[pipeline][combinations]") {
  const auto data = data::Mnist::load(testing::test_data_dir());
  RunOptions o;
  o.epochs = 1;
  o.train_limit = 128;
  o.test_limit = 64;
  o.threads = 1;
  o.log = nullptr;
  [&]<std::size_t... Row>(std::index_sequence<Row...>) {
    (
        [&] {
          using P = PairwisePipeline<Row>;
          RunOptions run = o;
          if constexpr (P::takes_runtime_normalization) run.normalization = NormalizationValues::uniform(0.1307, 0.3081);
          INFO("row " << Row << ": " << P::normalization_t::name << ", " << P::compensation_t::name << ", "
                      << P::optimizer_t::name << ", " << P::scheduler_t::name);
          const auto result = P{}.run(run, data);
          CHECK(result.total == 64);
          CHECK(result.correct >= 0);
          CHECK(result.correct <= 64);
          CHECK(result.accuracy == static_cast<double>(result.correct) / 64.0);
          REQUIRE(result.history.size() == 1);
          CHECK(std::isfinite(result.history[0].train_loss));
          CHECK(std::isfinite(result.history[0].test_loss));
          CHECK(result.history[0].lr > 0);
        }(),
        ...);
  }(std::make_index_sequence<kPairwise.size()>{});
}
