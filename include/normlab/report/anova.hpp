#pragma once
// Two-way analysis of variance with replication (a balanced design): does factor A (e.g. the mean
// of Normalize), factor B (its std), or their interaction move the response (accuracy) by more
// than the replicates (seeds) of one cell vary? The fixed-effects model of any statistics
// textbook (Montgomery, Design and Analysis of Experiments, ch. 5): sums of squares, F against the
// within-cell mean square, p from the F distribution, and eta^2 = SS / SS_total.

#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace normlab::report {

namespace detail {

/// The continued fraction of the regularized incomplete beta function (modified Lentz).
inline double beta_continued_fraction(double a, double b, double x) {
  constexpr double tiny = 1e-300, eps = 1e-16;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    const double step = d * c;
    h *= step;
    if (std::fabs(step - 1) < eps) break;
  }
  return h;
}

}  // namespace detail

/// The regularized incomplete beta function I_x(a, b), a, b > 0, x in [0, 1].
inline double incomplete_beta(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || !(x >= 0 && x <= 1))
    throw std::invalid_argument("normlab::report::incomplete_beta needs a, b > 0 and x in [0, 1]");
  if (x == 0 || x == 1) return x;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry beyond.
  if (x < (a + 1) / (a + b + 2)) return front * detail::beta_continued_fraction(a, b, x) / a;
  return 1 - front * detail::beta_continued_fraction(b, a, 1 - x) / b;
}

/// P(F > f) for F with (d1, d2) degrees of freedom: the p-value of an F test.
inline double f_survival(double f, double d1, double d2) {
  if (std::isnan(f)) return std::numeric_limits<double>::quiet_NaN();
  if (f <= 0) return 1;
  if (std::isinf(f)) return 0;
  return incomplete_beta(d2 / 2, d1 / 2, d2 / (d2 + d1 * f));
}

/// One row of an ANOVA table.
struct AnovaRow {
  std::string source;
  double sum_sq = 0;
  double df = 0;
  double mean_sq = 0;
  double f = std::numeric_limits<double>::quiet_NaN();  ///< NaN for the residual and total rows
  double p = std::numeric_limits<double>::quiet_NaN();
  double eta_sq = 0;  ///< sum_sq / total sum_sq: the share of the variance this source explains
};

/// The table: A, B, A x B, residual (within cells), total.
struct AnovaTable {
  AnovaRow a, b, interaction, residual, total;
};

/**
 * Two-way ANOVA with replication of y[i][j][k]: level i of A, level j of B, replicate k. Every
 * cell must hold the same number n >= 2 of finite values (a balanced design), with at least two
 * levels of each factor. When the replicates agree exactly (within-cell mean square 0), F is
 * +inf for a source that varies (p = 0) and NaN for one that does not.
 *
 * @param a_name, b_name how the table names the two factors (e.g. "mean", "std")
 */
inline AnovaTable two_way_anova(const std::vector<std::vector<std::vector<double>>>& y, const std::string& a_name = "A",
                                const std::string& b_name = "B") {
  const std::size_t levels_a = y.size();
  if (levels_a < 2) throw std::invalid_argument("two_way_anova: factor A needs at least 2 levels");
  const std::size_t levels_b = y[0].size();
  if (levels_b < 2) throw std::invalid_argument("two_way_anova: factor B needs at least 2 levels");
  const std::size_t n = y[0][0].size();
  if (n < 2) throw std::invalid_argument("two_way_anova: each cell needs at least 2 replicates");
  for (std::size_t i = 0; i < levels_a; ++i) {
    if (y[i].size() != levels_b)
      throw std::invalid_argument("two_way_anova: level " + std::to_string(i) + " of A has " +
                                  std::to_string(y[i].size()) + " levels of B, not " + std::to_string(levels_b));
    for (std::size_t j = 0; j < levels_b; ++j) {
      if (y[i][j].size() != n)
        throw std::invalid_argument("two_way_anova: cell (" + std::to_string(i) + ", " + std::to_string(j) + ") has " +
                                    std::to_string(y[i][j].size()) + " replicates, not " + std::to_string(n) +
                                    " (the design must be balanced)");
      for (double v : y[i][j])
        if (!std::isfinite(v))
          throw std::invalid_argument("two_way_anova: cell (" + std::to_string(i) + ", " + std::to_string(j) +
                                      ") holds a value that is not finite");
    }
  }
  const double a = static_cast<double>(levels_a), b = static_cast<double>(levels_b), r = static_cast<double>(n);
  std::vector<std::vector<double>> cell(levels_a, std::vector<double>(levels_b, 0.0));
  std::vector<double> row(levels_a, 0.0), col(levels_b, 0.0);
  double grand = 0;
  for (std::size_t i = 0; i < levels_a; ++i)
    for (std::size_t j = 0; j < levels_b; ++j) {
      double sum = 0;
      for (double v : y[i][j]) sum += v;
      cell[i][j] = sum / r;
      row[i] += cell[i][j] / b;
      col[j] += cell[i][j] / a;
      grand += cell[i][j] / (a * b);
    }
  AnovaTable t;
  t.a.source = a_name;
  t.b.source = b_name;
  t.interaction.source = a_name + " x " + b_name;
  t.residual.source = "residual";
  t.total.source = "total";
  for (std::size_t i = 0; i < levels_a; ++i) t.a.sum_sq += b * r * (row[i] - grand) * (row[i] - grand);
  for (std::size_t j = 0; j < levels_b; ++j) t.b.sum_sq += a * r * (col[j] - grand) * (col[j] - grand);
  for (std::size_t i = 0; i < levels_a; ++i)
    for (std::size_t j = 0; j < levels_b; ++j) {
      const double d = cell[i][j] - row[i] - col[j] + grand;
      t.interaction.sum_sq += r * d * d;
      for (double v : y[i][j]) {
        t.residual.sum_sq += (v - cell[i][j]) * (v - cell[i][j]);
        t.total.sum_sq += (v - grand) * (v - grand);
      }
    }
  t.a.df = a - 1;
  t.b.df = b - 1;
  t.interaction.df = (a - 1) * (b - 1);
  t.residual.df = a * b * (r - 1);
  t.total.df = a * b * r - 1;
  t.residual.mean_sq = t.residual.sum_sq / t.residual.df;
  t.total.mean_sq = t.total.sum_sq / t.total.df;
  for (AnovaRow* s : {&t.a, &t.b, &t.interaction}) {
    s->mean_sq = s->sum_sq / s->df;
    if (t.residual.mean_sq > 0) {
      s->f = s->mean_sq / t.residual.mean_sq;
    } else {
      s->f = s->mean_sq > 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
    }
    s->p = f_survival(s->f, s->df, t.residual.df);
  }
  for (AnovaRow* s : {&t.a, &t.b, &t.interaction, &t.residual, &t.total})
    s->eta_sq = t.total.sum_sq > 0 ? s->sum_sq / t.total.sum_sq : 0.0;
  return t;
}

}  // namespace normlab::report
