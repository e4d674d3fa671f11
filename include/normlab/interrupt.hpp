#pragma once
// Ctrl-C that loses nothing. While an InterruptGuard is alive, SIGINT and SIGTERM do not kill the
// process: they set a flag that the training loops check between batches (throwing Interrupted),
// and that Study::optimize checks between trials, so the trial in flight is recorded, and queued
// again for the next run, before the program exits. A second signal ends the process at once, as
// if no guard were there.

#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace normlab {

/// Thrown where work stops because SIGINT or SIGTERM arrived under an InterruptGuard.
struct Interrupted : std::runtime_error {
  explicit Interrupted(int signal)
      : std::runtime_error(std::string("interrupted by ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT")),
        signal(signal) {}
  int signal;
  /// The exit status a shell expects of a program its signal ended: 128 + the signal's number.
  int exit_code() const { return 128 + signal; }
};

namespace interrupt {

namespace detail {
// volatile sig_atomic_t: the one type a signal handler may portably write.
inline volatile std::sig_atomic_t pending = 0;
inline volatile std::sig_atomic_t guards = 0;

extern "C" inline void on_signal(int signal) {
  pending = signal;
  std::signal(signal, SIG_DFL);  // the next one ends the process
  static const char note[] =
      "\nnormlab: interrupted: the running trial stops after this batch and is recorded "
      "(press Ctrl-C again to quit at once)\n";
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, note, sizeof note - 1);
}
}  // namespace detail

/// The signal that asked to stop (SIGINT, SIGTERM), or 0.
inline int requested() { return detail::pending; }

/// Throws Interrupted when a signal asked to stop: called between batches and between trials.
inline void check() {
  if (const int s = detail::pending) throw Interrupted(s);
}

/// Forgets a request (after it was handled, before new work starts).
inline void clear() { detail::pending = 0; }

}  // namespace interrupt

/// Catches SIGINT and SIGTERM for its lifetime (see the top of this file); nests, and restores the
/// previous handlers when the outermost guard ends. One thread installs it (the one running the
/// study); the flag it sets is read by every thread.
class InterruptGuard {
 public:
  InterruptGuard() {
    const int before = interrupt::detail::guards;  // volatile: one read, one write (C++20 deprecates ++ on it)
    interrupt::detail::guards = before + 1;
    if (before == 0) {
      previous_int_ = std::signal(SIGINT, interrupt::detail::on_signal);
      previous_term_ = std::signal(SIGTERM, interrupt::detail::on_signal);
    }
  }
  ~InterruptGuard() {
    const int after = interrupt::detail::guards - 1;
    interrupt::detail::guards = after;
    if (after == 0) {
      std::signal(SIGINT, previous_int_ == SIG_ERR ? SIG_DFL : previous_int_);
      std::signal(SIGTERM, previous_term_ == SIG_ERR ? SIG_DFL : previous_term_);
    }
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;

 private:
  using Handler = void (*)(int);
  Handler previous_int_ = SIG_DFL;
  Handler previous_term_ = SIG_DFL;
};

}  // namespace normlab
