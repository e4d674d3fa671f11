#pragma once
// Run-time normalization constants, (x - mean) / std per input channel, and their validation.

#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "normlab/detail/format.hpp"
#include "normlab/search/normalization_space.hpp"

namespace normlab {

/// The (mean, std) of a `Normalize` transform, one entry per channel, or one entry for all channels.
struct NormalizationValues {
  std::vector<double> mean{0.0};
  std::vector<double> std{1.0};

  /// One (mean, std) for every channel, as in the notebook's `Normalize((mean,), (std,))`.
  static NormalizationValues uniform(double mean, double std) { return {{mean}, {std}}; }

  /// The (mean, std) a trial's parameters hold (search/normalization_space.hpp names them), for
  /// every channel.
  static NormalizationValues from_params(const std::map<std::string, double>& params) {
    const auto mean = params.find(search::kMeanParam), std = params.find(search::kStdParam);
    if (mean == params.end() || std == params.end())
      throw std::invalid_argument(std::string("normlab: a trial's parameters have no '") +
                                  (mean == params.end() ? search::kMeanParam : search::kStdParam) + "'");
    return uniform(mean->second, std->second);
  }

  std::size_t channels() const { return mean.size(); }

  /// True when every channel has the same mean and the same std.
  bool is_uniform() const {
    for (std::size_t c = 1; c < mean.size(); ++c)
      if (mean[c] != mean[0] || std[c] != std[0]) return false;
    return true;
  }

  /// True when both are the same transform: equal (mean, std) channel by channel, where one value
  /// given for all channels equals a list only when every entry of the list is that value. Exact
  /// comparison: 0.1307 and 0.13070000000000001 are the same double, 0.1307 and 0.1308 are not.
  bool same_as(const NormalizationValues& other) const {
    const auto covers = [](const std::vector<double>& one, const std::vector<double>& many) {
      for (double v : many)
        if (v != one[0]) return false;
      return true;
    };
    if (mean.size() == other.mean.size() && std.size() == other.std.size())
      return mean == other.mean && std == other.std;
    if (mean.size() == 1 && std.size() == 1) return covers(mean, other.mean) && covers(std, other.std);
    if (other.mean.size() == 1 && other.std.size() == 1) return covers(other.mean, mean) && covers(other.std, std);
    return false;
  }

  /// Throws std::invalid_argument naming the bad value: stds must be finite and > 0, means finite.
  void validate() const {
    if (mean.empty() || mean.size() != std.size()) {
      std::ostringstream msg;
      msg << "normlab: invalid normalization: " << mean.size() << " mean(s) but " << std.size()
          << " std(s); give one value, or one per channel, for both";
      throw std::invalid_argument(msg.str());
    }
    for (std::size_t c = 0; c < mean.size(); ++c) {
      if (!std::isfinite(std[c]) || !(std[c] > 0)) {
        std::ostringstream msg;
        msg << "normlab: invalid normalization: std" << index(c) << " = " << std[c]
            << " (it must be finite and > 0)";
        throw std::invalid_argument(msg.str());
      }
      if (!std::isfinite(mean[c])) {
        std::ostringstream msg;
        msg << "normlab: invalid normalization: mean" << index(c) << " = " << mean[c]
            << " (it must be finite)";
        throw std::invalid_argument(msg.str());
      }
    }
  }

  /// "mean=0.1307 std=0.3081" or "mean=[..] std=[..]", for logs and error messages.
  std::string to_string() const {
    std::ostringstream out;
    const auto shortest = detail::shortest_double;
    auto list = [&](const std::vector<double>& v) {
      if (v.size() == 1) { out << shortest(v[0]); return; }
      out << '[';
      for (std::size_t i = 0; i < v.size(); ++i) out << (i ? "," : "") << shortest(v[i]);
      out << ']';
    };
    out << "mean=";
    list(mean);
    out << " std=";
    list(std);
    return out.str();
  }

 private:
  std::string index(std::size_t c) const {
    return mean.size() > 1 ? "[" + std::to_string(c) + "]" : "";
  }
};

}  // namespace normlab
