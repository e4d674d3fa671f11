#pragma once
// Worker threads for run_variants' PerVariant kernels: K variants side by side, each worker with a
// one-thread OpenMP team of its own.

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <torch/torch.h>
#include <vector>

namespace normlab {
namespace detail {

/// Runs f(k) for k in [0, K): with one worker in the calling thread, one variant after the other;
/// with W > 1 workers on W threads of their own, each with one intra-op thread, variant k always on
/// worker k % W. Exceptions are rethrown in the caller.
class VariantWorkers {
 public:
  explicit VariantWorkers(int workers) : count_(std::max(1, workers)) {
    if (count_ == 1) return;
    const int threads = at::get_num_threads();
    for (int w = 0; w < count_; ++w) threads_.emplace_back([this, w] { loop(w); });
    std::unique_lock<std::mutex> lock(mutex_);
    ready_cv_.wait(lock, [&] { return ready_ == count_; });
    lock.unlock();
    at::set_num_threads(threads);  // the workers' set_num_threads(1) also set the process default
  }
  ~VariantWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  VariantWorkers(const VariantWorkers&) = delete;
  VariantWorkers& operator=(const VariantWorkers&) = delete;

  int count() const { return count_; }

  void run(int64_t variants, const std::function<void(int64_t)>& f) {
    if (count_ == 1) {
      for (int64_t k = 0; k < variants; ++k) f(k);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &f;
      variants_ = variants;
      pending_ = count_;
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void loop(int w) {
    uint64_t seen = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      // LibTorch initialises each thread's OpenMP team lazily, on its first parallel_for, from the
      // process-wide count (which the constructor restores): trigger that first, or every worker
      // would later run teams of that many threads, nested and oversubscribed.
      at::get_num_threads();
      at::set_num_threads(1);  // this thread's OpenMP team: one thread (oneDNN and OpenBLAS follow it)
      ++ready_;
    }
    ready_cv_.notify_all();
    for (;;) {
      const std::function<void(int64_t)>* task;
      int64_t variants;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        task = task_;
        variants = variants_;
      }
      std::exception_ptr error;
      try {
        for (int64_t k = w; k < variants; k += count_) (*task)(k);
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (error && !error_) error_ = error;
        --pending_;
      }
      done_cv_.notify_all();
    }
  }

  int count_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable cv_, done_cv_, ready_cv_;
  const std::function<void(int64_t)>* task_ = nullptr;
  int64_t variants_ = 0;
  int pending_ = 0, ready_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};


}  // namespace detail
}  // namespace normlab
