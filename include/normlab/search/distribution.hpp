#pragma once
// Search-space distributions with Optuna 3.1's meaning and storage form. No LibTorch: the search
// and study headers are plain C++ so they can tune any C++ objective and compile fast.
//
// Values have two forms, as in Optuna: the external one the objective sees, and the internal one
// that is stored (`trial_params.param_value`): a float's own value (linear even when log=true),
// an int's value as a double.

#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

#include "normlab/detail/format.hpp"

namespace normlab::search {

/// optuna.distributions.FloatDistribution(low, high, log=False, step=None).
struct FloatDistribution {
  double low = 0;
  double high = 1;
  bool log = false;
  std::optional<double> step;

  void validate(const std::string& name) const {
    auto fail = [&](const std::string& why) {
      throw std::invalid_argument("normlab: parameter '" + name + "': " + why);
    };
    if (!(low <= high)) fail("low " + detail::shortest_double(low) + " > high " + detail::shortest_double(high));
    if (log && !(low > 0)) fail("a log distribution needs low > 0 (got " + detail::shortest_double(low) + ")");
    if (log && step) fail("log and step cannot be combined");
    if (step && !(*step > 0)) fail("step must be > 0");
  }
  bool contains(double v) const { return v >= low && v <= high; }
  /// Optuna's exact `distribution_json`: key order and separators as json.dumps writes them.
  std::string to_json() const {
    return std::string("{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": ") +
           (step ? detail::python_float_repr(*step) : "null") +
           ", \"low\": " + detail::python_float_repr(low) + ", \"high\": " +
           detail::python_float_repr(high) + ", \"log\": " + (log ? "true" : "false") + "}}";
  }
  friend bool operator==(const FloatDistribution&, const FloatDistribution&) = default;
};

/// optuna.distributions.IntDistribution(low, high, log=False, step=1).
struct IntDistribution {
  long long low = 0;
  long long high = 1;
  bool log = false;
  long long step = 1;

  void validate(const std::string& name) const {
    if (low > high || step <= 0 || (log && (low < 1 || step != 1)))
      throw std::invalid_argument("normlab: parameter '" + name + "': invalid IntDistribution");
  }
  bool contains(double v) const { return v >= low && v <= high; }
  std::string to_json() const {
    return "{\"name\": \"IntDistribution\", \"attributes\": {\"log\": " +
           std::string(log ? "true" : "false") + ", \"step\": " + std::to_string(step) +
           ", \"low\": " + std::to_string(low) + ", \"high\": " + std::to_string(high) + "}}";
  }
  friend bool operator==(const IntDistribution&, const IntDistribution&) = default;
};

using Distribution = std::variant<FloatDistribution, IntDistribution>;

inline std::string to_json(const Distribution& d) {
  return std::visit([](const auto& x) { return x.to_json(); }, d);
}
inline bool is_log(const Distribution& d) {
  return std::visit([](const auto& x) { return x.log; }, d);
}

}  // namespace normlab::search
