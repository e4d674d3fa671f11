#pragma once
// A running trial's heartbeat: a thread that tells the storage "this trial is alive" every
// `interval` seconds until the trial ends (Optuna's RDBStorage(heartbeat_interval=...) and its
// trial_heartbeats table). Study::optimize (study.hpp) runs one per trial; a later ask() FAILs
// RUNNING trials whose heartbeat is older than the grace period. Its own header because it is a
// thread with its own lifetime, testable with any Storage. No LibTorch.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include "normlab/study/storage.hpp"

namespace normlab::study::detail {

/// Records heartbeats for one trial on a thread of its own until destroyed. Without an interval
/// it does nothing. The first heartbeat is recorded in the constructor, so a storage that refuses
/// it throws there; a later one that fails is skipped (it only risks the trial being failed as
/// stale). The destructor wakes the thread at once: it does not wait for the interval to end.
class Heartbeat {
 public:
  Heartbeat(Storage& storage, int64_t trial_id, std::optional<double> interval) {
    if (!interval) return;
    storage.record_heartbeat(trial_id);
    thread_ = std::thread([this, &storage, trial_id, period = *interval] {
      std::unique_lock lock(mutex_);
      while (!cv_.wait_for(lock, std::chrono::duration<double>(period), [this] { return done_; })) {
        lock.unlock();
        try {
          storage.record_heartbeat(trial_id);
        } catch (...) {  // a missed heartbeat only risks the trial being failed as stale
        }
        lock.lock();
      }
    });
  }
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;
  ~Heartbeat() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace normlab::study::detail
