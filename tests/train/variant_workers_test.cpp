// normlab/train/variant_workers.hpp: run_variants' worker threads. Variant k runs on worker k % W,
// each worker on a thread of its own with a one-thread OpenMP team, and errors reach the caller.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include <normlab/train/variant_workers.hpp>

using normlab::detail::VariantWorkers;

namespace {
// Which thread ran each variant, and how often each ran.
struct Record {
  std::mutex mutex;
  std::map<int64_t, std::thread::id> thread_of;
  std::map<int64_t, int> runs;
  void operator()(int64_t k) {
    std::lock_guard<std::mutex> lock(mutex);
    thread_of[k] = std::this_thread::get_id();
    ++runs[k];
  }
};
}  // namespace

TEST_CASE("one worker runs the variants in order in the calling thread", "[train][variant_workers]") {
  VariantWorkers workers(1);
  REQUIRE(workers.count() == 1);
  std::vector<int64_t> order;
  std::set<std::thread::id> threads;
  workers.run(5, [&](int64_t k) {
    order.push_back(k);
    threads.insert(std::this_thread::get_id());
  });
  REQUIRE(order == std::vector<int64_t>{0, 1, 2, 3, 4});
  REQUIRE(threads == std::set<std::thread::id>{std::this_thread::get_id()});
  REQUIRE(VariantWorkers(0).count() == 1);  // fewer than one worker means one
  REQUIRE(VariantWorkers(-3).count() == 1);
}

TEST_CASE("W workers run variant k on worker k % W, each on its own thread, each variant once",
          "[train][variant_workers]") {
  VariantWorkers workers(3);
  REQUIRE(workers.count() == 3);
  // Twice with the same workers: a second run (a new generation) reaches every worker again; the
  // first has fewer variants than workers, so one worker has nothing to do.
  for (int64_t variants : {int64_t{2}, int64_t{7}}) {
    Record record;
    workers.run(variants, std::ref(record));
    INFO("variants=" << variants);
    REQUIRE(static_cast<int64_t>(record.runs.size()) == variants);
    for (const auto& [k, n] : record.runs) REQUIRE(n == 1);
    std::set<std::thread::id> threads;
    for (int64_t k = 0; k < variants; ++k) {
      REQUIRE(record.thread_of[k] != std::this_thread::get_id());
      if (k >= 3) REQUIRE(record.thread_of[k] == record.thread_of[k % 3]);
      threads.insert(record.thread_of[k]);
    }
    REQUIRE(threads.size() == static_cast<std::size_t>(std::min<int64_t>(variants, 3)));
  }
}

TEST_CASE("each worker computes with one intra-op thread and the caller keeps its thread count",
          "[train][variant_workers]") {
  const int before = at::get_num_threads();
  at::set_num_threads(2);
  {
    VariantWorkers workers(2);
    REQUIRE(at::get_num_threads() == 2);  // restored after the workers' set_num_threads(1)
    std::mutex mutex;
    std::vector<int> seen;
    workers.run(4, [&](int64_t) {
      const int n = at::get_num_threads();
      std::lock_guard<std::mutex> lock(mutex);
      seen.push_back(n);
    });
    REQUIRE(seen == std::vector<int>{1, 1, 1, 1});
    REQUIRE(at::get_num_threads() == 2);
  }
  at::set_num_threads(before);
}

TEST_CASE("a variant's exception reaches the caller and the workers go on with the next run",
          "[train][variant_workers]") {
  for (int w : {1, 2}) {
    VariantWorkers workers(w);
    INFO("workers=" << w);
    REQUIRE_THROWS_WITH(workers.run(4,
                                    [](int64_t k) {
                                      if (k == 2) throw std::runtime_error("variant 2 diverged");
                                    }),
                        "variant 2 diverged");
    Record record;
    workers.run(4, std::ref(record));
    REQUIRE(record.runs.size() == 4);
  }
}
