// The fast paths of normlab::search::TpeSampler against the literal computation they replace:
// the shortened bisection (ndtri_exp) against Optuna's 100 steps, the AVX2/AVX-512 kernels
// against the scalar SVML emulation, the bounded kernels against their error bounds, and whole
// proposals (which take the approximate-candidates shortcut) against the reference mode, bit for
// bit, on random studies of every distribution kind. tpe_test.cpp checks the result against
// Optuna's own goldens.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "normlab/search/tpe.hpp"

namespace search = normlab::search;
namespace tpe = normlab::search::detail;

namespace {

bool same_bits(double a, double b) { return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b); }
/// The same bits, or both NaN (a NaN's sign and payload depend on which operand the compiler puts
/// first, in the reference code too, and nothing reads them: a NaN score just wins the argmax).
bool same_value(double a, double b) { return same_bits(a, b) || (std::isnan(a) && std::isnan(b)); }

/// Sets the kernel mode for its lifetime.
struct Mode {
  Mode(bool generic, bool reference) {
    tpe::simd::force_generic() = generic;
    tpe::simd::force_reference() = reference;
  }
  ~Mode() {
    tpe::simd::force_generic() = false;
    tpe::simd::force_reference() = false;
  }
};

std::vector<double> special_values() {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  return {0.0, -0.0, 1.0, -1.0, inf, -inf, nan, 0x1p-1074, 0x1p-1022, 0x1.fffffffffffffp-1023, -0x1p-1074,
          std::numeric_limits<double>::max(), -std::numeric_limits<double>::max(), 0x1p999, 0x1p1000,
          -0x1.fffffffffffffp-1, -0.5, 1e-300, 707.7, -707.7, 709.0, -745.0, -746.0, 0x1.61da04cbafe44p+9,
          -0x1.61da04cbafe44p+9, 1e-20, -1e-20, 0.75, 1.5, 2.0, 1e308};
}

}  // namespace

TEST_CASE("ndtri_exp: the shortened bisection returns the 100-step bisection's bits", "[search][tpe]") {
  std::mt19937_64 gen(20240501);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<double> ys = {0.0, -0.0, -1e-300, -0x1p-1074, -1e-17, -1e-10, -0.6931471805599453, -1.0, -700.0,
                            -699.9, -5004.0, -5006.0, -1e6, -std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::quiet_NaN(), 1e-3};
  for (int i = 0; i < 4000; ++i) {
    ys.push_back(std::log(u(gen)));
    ys.push_back(-std::exp(-40 * u(gen)));
    ys.push_back(-800 * u(gen));
    ys.push_back(tpe::truncnorm::log_ndtr_single(-40 + 80 * u(gen)));
    ys.push_back(tpe::truncnorm::log_ndtr_single(-3 + 6 * u(gen)));
  }
  int mismatches = 0;
  for (double y : ys) {
    const double fast = tpe::truncnorm::ndtri_exp(y), reference = tpe::truncnorm::ndtri_exp_bisect(y);
    if (!same_bits(fast, reference)) {
      ++mismatches;
      UNSCOPED_INFO("y = " << y << ": " << fast << " vs " << reference);
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("ppf_approx: the exact ppf lies within the returned radius", "[search][tpe]") {
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> u(0, 1);
  const tpe::numpy::Math m{search::NumpyMath::Avx512Skx};
  std::vector<double> q, a, b, lm;
  for (int i = 0; i < 3000; ++i) {
    double lo = -100 * u(gen), hi = 100 * u(gen);
    if (i % 5 == 1) lo = hi * u(gen);   // both positive
    if (i % 5 == 2) hi = lo * u(gen);   // both negative
    if (i % 7 == 3) hi = lo;            // degenerate
    q.push_back(i % 11 == 0 ? 0.0 : i % 13 == 0 ? 1.0 : u(gen));
    a.push_back(std::min(lo, hi));
    b.push_back(std::max(lo, hi));
    lm.push_back(tpe::truncnorm::log_gauss_mass(a.back(), b.back(), m));
  }
  std::vector<double> value(q.size()), radius(q.size()), scratch(4 * q.size());
  tpe::truncnorm::ppf_approx_batch(q.size(), q.data(), a.data(), b.data(), lm.data(), value.data(), radius.data(),
                                      scratch.data(), m);
  int outside = 0, batch_differs = 0, windows = 0;
  for (std::size_t i = 0; i < q.size(); ++i) {
    const double exact = tpe::truncnorm::ppf(q[i], a[i], b[i], lm[i], m);
    const auto single = tpe::truncnorm::ppf_approx(q[i], a[i], b[i], lm[i], m);
    if (!same_bits(single.value, value[i]) || !same_bits(single.radius, radius[i])) ++batch_differs;
    if (radius[i] > 0) ++windows;
    const bool ok = radius[i] == 0 ? same_bits(exact, value[i]) : std::fabs(exact - value[i]) <= radius[i];
    if (!ok) {
      ++outside;
      UNSCOPED_INFO("q=" << q[i] << " a=" << a[i] << " b=" << b[i] << ": exact " << exact << ", approx " << value[i]
                         << " +- " << radius[i]);
    }
  }
  CHECK(outside == 0);
  CHECK(batch_differs == 0);
  CHECK(windows > 1500);  // the shortcut is the usual case
}

#if NORMLAB_TPE_X86_SIMD
TEST_CASE("TPE SIMD kernels compute the scalar code's bits", "[search][tpe]") {
  if (tpe::simd::active_isa() == tpe::simd::Isa::Generic) {
    WARN("no AVX2/FMA on this CPU: the vector kernels are not used here");
    return;
  }
  std::mt19937_64 gen(99);
  std::uniform_real_distribution<double> u(-1, 1);
  const tpe::numpy::Math m{search::NumpyMath::Avx512Skx};

  SECTION("exp, log, log1p") {
    std::vector<double> xs = special_values();
    for (int i = 0; i < 20000; ++i) {
      xs.push_back(800 * u(gen));
      xs.push_back(std::ldexp(u(gen), static_cast<int>(60 * u(gen))));
      xs.push_back(std::ldexp(1 + u(gen), static_cast<int>(1000 * u(gen))));
      xs.push_back(-1 + std::ldexp(std::fabs(u(gen)), -static_cast<int>(60 * std::fabs(u(gen)))));
    }
    std::vector<double> got(xs.size());
    int bad = 0;
    tpe::simd::exp_shifted_avx2(xs.data(), 0.25, got.data(), xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) bad += !same_value(got[i], tpe::numpy::exp_svml(xs[i] - 0.25));
    CHECK(bad == 0);
    bad = 0;
    tpe::simd::log_svml_array_avx2(xs.data(), got.data(), xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) bad += !same_value(got[i], tpe::numpy::log_svml(xs[i]));
    CHECK(bad == 0);
    bad = 0;
    tpe::simd::log1p_svml_array_avx2(xs.data(), got.data(), xs.size());
    for (std::size_t i = 0; i < xs.size(); ++i) bad += !same_value(got[i], tpe::numpy::log1p_svml(xs[i]));
    CHECK(bad == 0);
  }

  SECTION("pairwise sum") {
    for (std::size_t n = 0; n < 700; n += (n < 40 ? 1 : 13)) {
      std::vector<double> v(n);
      for (auto& x : v) x = std::ldexp(u(gen), static_cast<int>(40 * u(gen)));
      INFO("n = " << n);
      CHECK(same_bits(tpe::simd::pairwise_sum_avx2(v.data(), n), tpe::numpy::pairwise_sum(v.data(), n)));
    }
  }

  SECTION("mixture log-density and the truncated-normal masses") {
    for (int trial = 0; trial < 200; ++trial) {
      const std::size_t n = 1 + static_cast<std::size_t>(trial % 61) * 3;
      const double low = -3, high = 3;
      std::vector<double> mu(n), sigma(n), a(n), b(n), log_mass(n), log_weight(n), arg(n), w(n);
      for (std::size_t k = 0; k < n; ++k) {
        mu[k] = 3 * u(gen);
        sigma[k] = std::ldexp(1 + u(gen), -static_cast<int>(8 * std::fabs(u(gen))));
        log_weight[k] = -std::log(static_cast<double>(n)) + 0.1 * u(gen);
      }
      tpe::simd::mass_arguments_avx2(low, high, mu.data(), sigma.data(), n, a.data(), b.data(), arg.data(), m);
      for (std::size_t k = 0; k < n; ++k) {
        const double ak = (low - mu[k]) / sigma[k], bk = (high - mu[k]) / sigma[k];
        REQUIRE(same_bits(a[k], ak));
        REQUIRE(same_bits(b[k], bk));
        REQUIRE(same_bits(arg[k], -tpe::truncnorm::ndtr(ak, m) - tpe::truncnorm::ndtr(-bk, m)));
        log_mass[k] = tpe::truncnorm::log_gauss_mass(ak, bk, m);
      }
      const tpe::simd::MixtureView view{mu.data(), sigma.data(), a.data(), b.data(), log_mass.data(),
                                           log_weight.data(), n};
      std::vector<double> xs;
      for (int i = 0; i < 24; ++i) xs.push_back(3.3 * u(gen));  // some outside [low, high]: truncated
      xs.push_back(std::numeric_limits<double>::quiet_NaN());
      std::vector<double> got(xs.size());
      const double norm_c = std::log(std::sqrt(2 * 3.141592653589793));
      tpe::simd::log_mixture_avx2(view, norm_c, xs.data(), xs.size(), got.data(), w.data(), m);
      for (std::size_t i = 0; i < xs.size(); ++i) {
        const double expected = tpe::simd::log_mixture_scalar(view, norm_c, xs[i], w.data(), m);
        INFO("n = " << n << ", x = " << xs[i]);
        REQUIRE(same_value(got[i], expected));
      }
    }
  }
}

TEST_CASE("TPE bounded mixture kernels stay within their error bound", "[search][tpe]") {
  if (tpe::simd::active_isa() == tpe::simd::Isa::Generic) {
    SUCCEED("this CPU runs the generic kernels only: no SIMD mixture kernel to bound");
    return;
  }
  std::mt19937_64 gen(5);
  std::uniform_real_distribution<double> u(-1, 1);
  const tpe::numpy::Math m{search::NumpyMath::Avx512Skx};
  const double norm_c = std::log(std::sqrt(2 * 3.141592653589793)), unit = 0x1p-53;
  double worst = 0;  // largest error / bound
  for (int trial = 0; trial < 300; ++trial) {
    const std::size_t n = 1 + static_cast<std::size_t>(trial % 97) * 2;
    const double low = -3, high = 3;
    std::vector<double> mu(n), sigma(n), a(n), b(n), log_mass(n), log_weight(n), w(n);
    double z_max = 0, terms_max = 0;
    for (std::size_t k = 0; k < n; ++k) {
      mu[k] = 3 * u(gen);
      sigma[k] = k + 1 == n ? 6.0 : 0.06 + 2 * std::fabs(u(gen)) * std::fabs(u(gen));
      a[k] = (low - mu[k]) / sigma[k];
      b[k] = (high - mu[k]) / sigma[k];
      log_mass[k] = tpe::truncnorm::log_gauss_mass(a[k], b[k], m);
      log_weight[k] = -std::log(static_cast<double>(n)) + 0.5 * u(gen);
      z_max = std::max({z_max, std::fabs(a[k]), std::fabs(b[k])});
      terms_max = std::max(terms_max, std::fabs(log_mass[k]) + std::fabs(log_weight[k]));
    }
    // As TpeSampler::fit prepares them: sorted by mean.
    std::vector<std::size_t> order;
    tpe::numpy::argsort_into(mu.data(), n, order);
    std::vector<double> bmu(n), binv(n), bc(n);
    double shift = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < n; ++i) {
      bmu[i] = mu[order[i]];
      binv[i] = 1.0 / sigma[order[i]];
      bc[i] = (log_weight[order[i]] - log_mass[order[i]]) - norm_c;
      shift = std::max(shift, bc[i]);
    }
    for (double& c : bc) c -= shift;
    const tpe::simd::BoundMixture bounded{bmu.data(), binv.data(), bc.data(), shift, n, n};
    const tpe::simd::MixtureView view{mu.data(), sigma.data(), a.data(), b.data(), log_mass.data(), log_weight.data(), n};
    std::vector<double> xs;
    for (int i = 0; i < 24; ++i) xs.push_back(3 * u(gen));
    std::vector<double> got2(xs.size()), got512(xs.size()), dropped2(xs.size()), dropped512(xs.size());
    tpe::simd::log_mixture_bound_avx2(bounded, xs.data(), xs.size(), got2.data(), dropped2.data());
    if (tpe::simd::active_isa() == tpe::simd::Isa::Avx512)
      tpe::simd::log_mixture_bound_avx512(bounded, xs.data(), xs.size(), got512.data(), dropped512.data());
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double exact = tpe::simd::log_mixture_scalar(view, norm_c, xs[i], w.data(), m);
      const double error_scale = 0.5 * z_max * z_max + terms_max + 8;
      const double bound = 64 * unit * (error_scale + std::fabs(exact)) + 8 * unit * static_cast<double>(n);
      REQUIRE(std::isfinite(got2[i]));
      worst = std::max(worst, std::fabs(got2[i] - exact) / (bound + dropped2[i]));
      if (tpe::simd::active_isa() == tpe::simd::Isa::Avx512)
        worst = std::max(worst, std::fabs(got512[i] - exact) / (bound + dropped512[i]));
    }
  }
  INFO("largest error / bound: " << worst);
  CHECK(worst < 1);
}
#endif

TEST_CASE("TpeSampler: every fast path proposes the reference computation's bits", "[search][tpe]") {
  struct Case {
    std::string name;
    search::Distribution a, b;
    search::TpeOptions options;
    search::StudyDirection direction;
  };
  const search::FloatDistribution uniform{-3.0, 3.0, false, std::nullopt}, log_uniform{0.1, 2.0, true, std::nullopt};
  const search::FloatDistribution stepped{-1.0, 2.0, false, 0.25};
  const search::IntDistribution ints{1, 40, false, 1}, log_ints{1, 1000, true, 1};
  std::vector<Case> cases = {
      {"notebook", uniform, log_uniform, search::TpeOptions().seed(1), search::StudyDirection::Maximize},
      {"minimize", log_uniform, uniform, search::TpeOptions().seed(2), search::StudyDirection::Minimize},
      {"discrete", stepped, ints, search::TpeOptions().seed(3), search::StudyDirection::Maximize},
      {"log ints", log_ints, uniform, search::TpeOptions().seed(4).n_startup_trials(3), search::StudyDirection::Minimize},
      {"no prior, endpoints", uniform, log_uniform,
       search::TpeOptions().seed(5).consider_prior(false).consider_endpoints(true), search::StudyDirection::Maximize},
      {"no magic clip", uniform, log_uniform, search::TpeOptions().seed(6).consider_magic_clip(false),
       search::StudyDirection::Maximize},
      {"hyperopt, 64 candidates", log_uniform, uniform, search::TpeOptions::hyperopt().seed(7).n_ei_candidates(64),
       search::StudyDirection::Maximize},
      {"constant liar", uniform, log_uniform, search::TpeOptions().seed(8).constant_liar(true),
       search::StudyDirection::Minimize},
      {"libm (NumpyMath::Baseline)", uniform, log_uniform,
       search::TpeOptions().seed(9).numpy_math(search::NumpyMath::Baseline), search::StudyDirection::Maximize},
      {"one candidate", log_uniform, uniform, search::TpeOptions().seed(10).n_ei_candidates(1),
       search::StudyDirection::Maximize},
  };
  for (const Case& c : cases) {
    for (bool generic : {false, true}) {
      search::TpeSampler fast(c.options), reference(c.options);
      std::vector<search::FrozenTrial> trials;
      std::mt19937_64 noise(17);
      std::uniform_real_distribution<double> u(0, 1);
      int compared = 0, mismatches = 0;
      for (int t = 0; t < 120; ++t) {
        search::FrozenTrial trial;
        trial.number = trial.trial_id = t;
        trials.push_back(trial);
        for (const auto& [name, dist] : {std::pair{std::string("a"), c.a}, std::pair{std::string("b"), c.b}}) {
          double x, y;
          {
            Mode mode(generic, false);
            x = fast.sample_independent({trials, c.direction}, trials.back(), name, dist);
          }
          {
            Mode mode(true, true);
            y = reference.sample_independent({trials, c.direction}, trials.back(), name, dist);
          }
          ++compared;
          if (!same_bits(x, y)) {
            ++mismatches;
            UNSCOPED_INFO(c.name << (generic ? " (generic)" : "") << ": trial " << t << " " << name << ": " << x
                                 << " vs " << y);
          }
          trials.back().params[name] = y;
          trials.back().distributions[name] = dist;
        }
        const double a = trials.back().params["a"], b = trials.back().params["b"];
        const double value = -std::pow(a - 0.3, 2) - std::pow(std::log(std::fabs(b) + 0.5), 2) + 0.01 * u(noise);
        if (t % 17 == 5) {
          trials.back().state = search::TrialState::Pruned;
          trials.back().intermediate_values = {{0, value}, {1, value + 0.1}};
        } else if (t % 23 == 7) {
          trials.back().state = search::TrialState::Fail;
        } else if (t % 29 == 11) {
          trials.back().state = search::TrialState::Running;  // left running (constant_liar sees it)
        } else {
          trials.back().state = search::TrialState::Complete;
          trials.back().value = value;
        }
      }
      INFO(c.name << (generic ? " (generic)" : "") << ": " << mismatches << " of " << compared << " differ");
      CHECK(mismatches == 0);
    }
  }
}
