// normlab/study/workers.hpp: worker numbers claimed in the study, and the sampler seeds from them.
#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "../temp_dir.hpp"
#include "normlab/search/samplers.hpp"
#include "normlab/study/workers.hpp"

using namespace normlab::study;

TEST_CASE("worker seeds: worker 0 keeps the seed, the others get distinct 32-bit seeds", "[study][workers]") {
  CHECK(worker_seed(1998, 0) == 1998);
  CHECK(worker_seed(7, 0) == 7);
  std::set<uint64_t> seen{1998};
  for (int64_t n = 1; n <= 1000; ++n) {
    const uint64_t s = worker_seed(1998, n);
    CHECK(s < (uint64_t{1} << 32));
    CHECK(seen.insert(s).second);
  }
  CHECK(worker_seed(1998, 1) != worker_seed(1999, 1));
  CHECK(worker_seed(1998, 1) == worker_seed(1998, 1));  // a function of (seed, worker) alone
}

TEST_CASE("join_study: processes sharing a study file claim numbers 0, 1, 2 and record them", "[study][workers]") {
  normlab::testing::TempDir dir("normlab_workers_test");
  StudyOptions options;
  options.name = "MNIST";
  options.storage_url = dir.url("workers.sqlite3");
  options.direction = StudyDirection::Maximize;
  // Three Study objects on one file, each with a storage of its own: three processes' view.
  auto a = Study::create(options, normlab::search::make_sampler("random", 1));
  auto b = Study::create(options, normlab::search::make_sampler("random", 1));
  auto c = Study::create(options, normlab::search::make_sampler("random", 1));
  const WorkerSlot first = join_study(a, 1998);
  const WorkerSlot second = join_study(b, 1998);
  const WorkerSlot third = join_study(c, 1998);
  CHECK(first.number == 0);
  CHECK(first.seed == 1998);
  CHECK(second.number == 1);
  CHECK(second.seed == worker_seed(1998, 1));
  CHECK(third.number == 2);
  const auto attrs = a.user_attrs();
  REQUIRE(attrs.count("normlab_worker_0"));
  REQUIRE(attrs.count("normlab_worker_2"));
  CHECK(attrs.at("normlab_worker_1").at("seed").as_int() == static_cast<int64_t>(second.seed));
  CHECK(attrs.at("normlab_worker_1").at("pid").as_int() == static_cast<int64_t>(::getpid()));
  CHECK_FALSE(attrs.at("normlab_worker_0").at("host").as_string().empty());
}

TEST_CASE("join_study: two workers of one study with the same flags propose different points", "[study][workers]") {
  StudyOptions options;
  options.name = "shared";
  auto s = Study::create(options, normlab::search::make_sampler("random", 1998));
  auto propose = [&](uint64_t seed) {
    s.set_sampler(normlab::search::make_sampler("random", seed));
    Trial t = s.ask();
    const double mean = t.suggest_float("mean", -3, 3);
    s.tell(t, 0.5);
    return mean;
  };
  const double one = propose(join_study(s, 1998).seed);
  const double two = propose(join_study(s, 1998).seed);
  CHECK(one != two);
  CHECK(one == 0.3566734601543682);  // worker 0 is the seed's own sampler (Optuna's first draw for 1998)
}
