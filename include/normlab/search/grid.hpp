#pragma once
// normlab::search::GridSampler: exhaustive search over the cartesian product of per-parameter
// values. No LibTorch.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <range/v3/range/conversion.hpp>
#include <range/v3/view/cartesian_product.hpp>
#include <range/v3/view/transform.hpp>

#include "normlab/search/distribution.hpp"
#include "normlab/search/sampler.hpp"
#include "normlab/search/trial.hpp"

namespace normlab::search {

/**
 * Grid search. The grid is the cartesian product of each parameter's values, enumerated with the
 * first parameter varying slowest (itertools.product order; Optuna sorts the names first, normlab
 * keeps the given order).
 *
 * Each new trial takes the first grid point that no other trial of the study uses. A trial uses a
 * point when its stored parameters equal the point's values, so the choice is made from the study
 * itself and works across processes sharing a storage and after a resume (two processes that start
 * a trial at the same instant can still pick the same point: there is no lock). A trial that
 * already holds some grid parameters (enqueued, resumed) gets a point consistent with them.
 * When every point is used, the sampler wraps around: first to points used only by unfinished
 * trials, then to the point that finished trials used least often (earliest on ties), so a study
 * with more trials than points visits the grid again in order.
 *
 * Built with a number of points per parameter instead of a grid, the sampler discovers the axes
 * from the objective: a parameter becomes an axis when first asked for (so, in a fresh study, in
 * suggest order); a process that joins or resumes a study also adds, at its first question, the
 * axes of the parameters other trials hold, in name order.
 *
 * Optuna's GridSampler instead picks a random unvisited point with its own RandomState and stores
 * "grid_id" in the trial's system attributes; the two do not visit points in the same order.
 */
class GridSampler final : public Sampler {
 public:
  /// (parameter name, its values), in enumeration order.
  using Grid = std::vector<std::pair<std::string, std::vector<double>>>;

  /// @param grid explicit values per parameter (each non-empty, names unique).
  explicit GridSampler(Grid grid) : grid_(std::move(grid)) {
    if (grid_.empty()) throw std::invalid_argument("normlab::GridSampler: the grid has no parameter");
    for (std::size_t i = 0; i < grid_.size(); ++i) {
      if (grid_[i].second.empty())
        throw std::invalid_argument("normlab::GridSampler: parameter '" + grid_[i].first + "' has no value");
      for (std::size_t j = 0; j < i; ++j)
        if (grid_[j].first == grid_[i].first)
          throw std::invalid_argument("normlab::GridSampler: parameter '" + grid_[i].first + "' given twice");
    }
    build_points();
  }

  /// A grid discovered from the objective: each parameter, when first asked for, becomes an axis
  /// of `points_per_parameter` values (as grid_of builds them), appended after the known ones.
  explicit GridSampler(std::size_t points_per_parameter) : lazy_points_(points_per_parameter) {
    if (points_per_parameter == 0)
      throw std::invalid_argument("normlab::GridSampler: points per parameter must be >= 1");
  }

  /**
   * A grid over a search space: `points` evenly spaced values per float parameter (log-spaced for
   * log distributions, both ends included; a stepped float or an int takes every value of its
   * step when there are at most `points` of them, else `points` evenly spaced ones rounded to it).
   */
  static Grid grid_of(const std::vector<std::pair<std::string, Distribution>>& space, std::size_t points) {
    if (points == 0) throw std::invalid_argument("normlab::GridSampler: points per parameter must be >= 1");
    Grid grid;
    for (const auto& [name, distribution] : space) grid.emplace_back(name, axis(distribution, points));
    return grid;
  }

  /// Assigns the trial its grid point (also done on the first sample_independent if not called).
  void before_trial(const StudyView& study, const FrozenTrial& trial) override {
    if (!grid_.empty()) point_of(study, trial);
  }

  double sample_independent(const StudyView& study, const FrozenTrial& trial, const std::string& name,
                            const Distribution& distribution) override {
    if (lazy_points_ > 0) discover_axes(study, name, distribution);
    const std::size_t column = column_of(name);
    return points_[point_of(study, trial)][column];
  }

  void reseed(uint64_t) override {}  // deterministic: nothing to seed
  std::string name() const override { return "grid"; }

  /// Number of grid points.
  std::size_t size() const { return points_.size(); }
  /// The grid points, in enumeration order; each holds one value per grid parameter.
  const std::vector<std::vector<double>>& points() const { return points_; }
  const Grid& grid() const { return grid_; }

 private:
  static std::vector<double> axis(const Distribution& distribution, std::size_t n) {
    return std::visit(
        [&](const auto& d) -> std::vector<double> {
          using D = std::decay_t<decltype(d)>;
          const double low = static_cast<double>(d.low), high = static_cast<double>(d.high);
          auto spaced = [&](bool log) {
            std::vector<double> v(n);
            const double a = log ? std::log(low) : low, b = log ? std::log(high) : high;
            for (std::size_t i = 0; i < n; ++i) {
              const double t = n == 1 ? 0.0 : static_cast<double>(i) / static_cast<double>(n - 1);
              v[i] = log ? std::exp(a + (b - a) * t) : a + (b - a) * t;
            }
            v.front() = low;
            if (n > 1) v.back() = high;
            return v;
          };
          std::optional<double> step;
          if constexpr (std::is_same_v<D, IntDistribution>) {
            step = static_cast<double>(d.step);
          } else {
            step = d.step;
          }
          if (!step) return spaced(d.log);
          // Discrete: every value of the step grid if few enough, else rounded spaced values.
          const double count = std::floor((high - low) / *step + 1e-9) + 1;
          std::vector<double> v;
          if (count <= static_cast<double>(n)) {
            for (double k = 0; k < count; ++k) v.push_back(low + k * *step);
            return v;
          }
          for (double x : spaced(d.log)) {
            const double snapped = std::min(high, low + std::round((x - low) / *step) * *step);
            if (v.empty() || snapped != v.back()) v.push_back(snapped);
          }
          return v;
        },
        distribution);
  }

  /// The cartesian product, one axis at a time (range-v3's cartesian_product takes a fixed number
  /// of ranges; folding it over the axes allows a grid of any dimension).
  void build_points() {
    std::vector<std::vector<double>> points{{}};
    for (const auto& axis : grid_) {
      points = ranges::views::cartesian_product(points, axis.second) |
               ranges::views::transform([](const auto& pair) {
                 std::vector<double> point = std::get<0>(pair);
                 point.push_back(std::get<1>(pair));
                 return point;
               }) |
               ranges::to<std::vector>();
    }
    points_ = std::move(points);
  }

  /// Lazy grid: adds `name`'s axis, then the axes of any parameter other trials hold (by name), so
  /// that a resumed process knows every axis before it chooses a point. Each new axis varies
  /// fastest, so the points already assigned keep their values.
  void discover_axes(const StudyView& study, const std::string& name, const Distribution& distribution) {
    auto known = [&](const std::string& n) {
      for (const auto& a : grid_)
        if (a.first == n) return true;
      return false;
    };
    if (known(name)) return;
    std::size_t factor = 1;
    auto add = [&](const std::string& n, const Distribution& d) {
      grid_.emplace_back(n, axis(d, lazy_points_));
      factor *= grid_.back().second.size();
    };
    add(name, distribution);
    std::map<std::string, Distribution> others;  // by name
    for (const auto& t : study.trials)
      for (const auto& [n, d] : t.distributions)
        if (!known(n)) others.emplace(n, d);
    for (const auto& [n, d] : others) add(n, d);
    build_points();
    for (auto& entry : assigned_) entry.second *= factor;
  }

  std::size_t column_of(const std::string& name) const {
    for (std::size_t i = 0; i < grid_.size(); ++i)
      if (grid_[i].first == name) return i;
    std::string names;
    for (const auto& axis : grid_) names += (names.empty() ? "" : ", ") + axis.first;
    throw std::invalid_argument("normlab::GridSampler: parameter '" + name + "' is not in the grid (grid: " +
                                names + ")");
  }

  /// The point a trial with these params uses, if any (all grid parameters present and equal).
  std::optional<std::size_t> used_point(const std::map<std::string, double>& params) const {
    std::vector<double> values;
    for (const auto& axis : grid_) {
      const auto it = params.find(axis.first);
      if (it == params.end()) return std::nullopt;
      values.push_back(it->second);
    }
    for (std::size_t p = 0; p < points_.size(); ++p)
      if (points_[p] == values) return p;
    return std::nullopt;
  }

  bool consistent(std::size_t p, const std::map<std::string, double>& params) const {
    for (std::size_t c = 0; c < grid_.size(); ++c) {
      const auto it = params.find(grid_[c].first);
      if (it != params.end() && it->second != points_[p][c]) return false;
    }
    return true;
  }

  std::size_t point_of(const StudyView& study, const FrozenTrial& trial) {
    if (const auto it = assigned_.find(trial.number); it != assigned_.end() && consistent(it->second, trial.params))
      return it->second;
    std::vector<int> finished_uses(points_.size(), 0);
    std::vector<char> taken(points_.size(), 0);
    for (const auto& t : study.trials) {
      if (t.number == trial.number) continue;
      std::optional<std::size_t> p = used_point(t.params);
      if (!p && !is_finished(t.state))
        if (const auto it = assigned_.find(t.number); it != assigned_.end()) p = it->second;  // in-flight here
      if (!p) continue;
      taken[*p] = 1;
      if (is_finished(t.state)) ++finished_uses[*p];
    }
    std::optional<std::size_t> chosen;
    for (std::size_t p = 0; p < points_.size() && !chosen; ++p)  // 1. a point nobody uses
      if (!taken[p] && consistent(p, trial.params)) chosen = p;
    for (std::size_t p = 0; p < points_.size() && !chosen; ++p)  // 2. one only unfinished trials use
      if (finished_uses[p] == 0 && consistent(p, trial.params)) chosen = p;
    if (!chosen) {  // 3. wrap around: the least visited point, earliest first
      int fewest = std::numeric_limits<int>::max();
      for (std::size_t p = 0; p < points_.size(); ++p)
        if (consistent(p, trial.params) && finished_uses[p] < fewest) {
          fewest = finished_uses[p];
          chosen = p;
        }
    }
    if (!chosen)
      throw std::invalid_argument("normlab::GridSampler: trial " + std::to_string(trial.number) +
                                  " holds parameter values that are on no grid point");
    assigned_[trial.number] = *chosen;
    return *chosen;
  }

  Grid grid_;
  std::vector<std::vector<double>> points_;
  std::map<int64_t, std::size_t> assigned_;  // trial number -> grid point, for this process
  std::size_t lazy_points_ = 0;              // > 0: axes are added as parameters are first asked for
};

}  // namespace normlab::search
