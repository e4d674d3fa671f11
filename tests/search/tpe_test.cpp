// normlab::search::TpeSampler against optuna.samplers.TPESampler (Optuna 3.1, numpy 1.24):
// tests/golden/tpe_*.txt, written by scripts/golden/tpe_golden.py. Each golden is replayed trial by
// trial: the sampler is asked for every parameter in suggest order, its proposal must equal
// Optuna's bit for bit, and then Optuna's value (and state, intermediate values) is fed back.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../golden.hpp"
#include "normlab/search/tpe.hpp"

namespace search = normlab::search;

namespace {

double parse_double(const std::string& text) {
  if (text == "nan") return std::nan("");
  return std::strtod(text.c_str(), nullptr);
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, sep);) parts.push_back(part);
  return parts;
}

struct Event {
  bool ask = true;
  int64_t number = 0;
  bool fixed = false;
  std::vector<std::pair<std::string, double>> values;  // ask: proposals in suggest order
  search::TrialState state = search::TrialState::Complete;
  std::optional<double> value;
  std::map<int64_t, double> intermediate;
};

struct GoldenCase {
  std::string file;
  std::map<std::string, std::string> fields;
  search::NumpyMath math = search::NumpyMath::Avx512Skx;
  std::map<std::string, search::Distribution> params;
  std::vector<Event> events;
};

GoldenCase read_case(const std::string& file) {
  GoldenCase c;
  c.file = file;
  for (const auto& row : normlab::testing::golden_rows(file)) {
    if (row[0] == "math") {
      c.math = row[1] == "avx512_skx" ? search::NumpyMath::Avx512Skx : search::NumpyMath::Baseline;
    } else if (row[0] == "case") {
      c.fields = normlab::testing::case_fields(row);
    } else if (row[0] == "param") {
      const auto f = normlab::testing::case_fields(row);
      const bool log = f.at("log") == "1";
      if (row[2] == "float") {
        search::FloatDistribution d{parse_double(row[3]), parse_double(row[4]), log, std::nullopt};
        if (f.at("step") != "none") d.step = parse_double(f.at("step"));
        c.params[row[1]] = d;
      } else {
        c.params[row[1]] = search::IntDistribution{std::stoll(row[3]), std::stoll(row[4]), log, std::stoll(f.at("step"))};
      }
    } else if (row[0] == "ask") {
      Event e;
      e.number = std::stoll(row[1]);
      for (std::size_t i = 2; i < row.size(); ++i) {
        if (row[i] == "fixed") { e.fixed = true; continue; }
        const auto eq = row[i].find('=');
        e.values.emplace_back(row[i].substr(0, eq), parse_double(row[i].substr(eq + 1)));
      }
      c.events.push_back(e);
    } else if (row[0] == "tell") {
      Event e;
      e.ask = false;
      e.number = std::stoll(row[1]);
      e.state = search::trial_state_from_string(row[2]);
      const auto f = normlab::testing::case_fields(row);
      if (f.at("value") != "none") e.value = parse_double(f.at("value"));
      if (f.at("iv") != "none")
        for (const auto& item : split(f.at("iv"), ',')) {
          const auto colon = item.find(':');
          e.intermediate[std::stoll(item.substr(0, colon))] = parse_double(item.substr(colon + 1));
        }
      c.events.push_back(e);
    }
  }
  return c;
}

search::TpeOptions options_of(const GoldenCase& c, uint64_t seed) {
  const auto& f = c.fields;
  auto flag = [&](const char* key) { return f.at(key) == "1"; };
  search::TpeOptions o;
  o.consider_prior(flag("consider_prior"))
      .prior_weight(parse_double(f.at("prior_weight")))
      .consider_magic_clip(flag("consider_magic_clip"))
      .consider_endpoints(flag("consider_endpoints"))
      .n_startup_trials(std::stoi(f.at("n_startup_trials")))
      .n_ei_candidates(std::stoi(f.at("n_ei_candidates")))
      .constant_liar(flag("constant_liar"))
      .seed(seed)
      .numpy_math(c.math);
  if (f.at("gamma") == "hyperopt") o.gamma(search::hyperopt_default_gamma);
  return o;
}

struct ReplayStats {
  int asked = 0;      ///< proposals compared
  int identical = 0;  ///< bit-identical to Optuna's
  double max_abs_diff = 0;
};

/// Replays a golden study with `sampler`, comparing each proposal to Optuna's.
ReplayStats replay(const GoldenCase& c, search::Sampler& sampler) {
  std::vector<search::FrozenTrial> trials;
  const auto direction = c.fields.at("direction") == "minimize" ? search::StudyDirection::Minimize
                                                                 : search::StudyDirection::Maximize;
  auto index_of = [&](int64_t number) {
    for (std::size_t i = 0; i < trials.size(); ++i)
      if (trials[i].number == number) return i;
    FAIL("trial " << number << " was told before it was asked");
    return std::size_t{0};
  };
  ReplayStats stats;
  for (const auto& e : c.events) {
    if (e.ask) {
      search::FrozenTrial t;
      t.trial_id = e.number;
      t.number = e.number;
      t.state = search::TrialState::Running;
      trials.push_back(t);
      const std::size_t idx = trials.size() - 1;
      sampler.before_trial(search::StudyView{trials, direction}, trials[idx]);
      for (const auto& [name, expected] : e.values) {
        const auto& dist = c.params.at(name);
        if (!e.fixed) {
          const double got = sampler.sample_independent(search::StudyView{trials, direction}, trials[idx], name, dist);
          ++stats.asked;
          if (got == expected) {
            ++stats.identical;
          } else {
            stats.max_abs_diff = std::max(stats.max_abs_diff, std::fabs(got - expected));
            UNSCOPED_INFO(c.file << ": trial " << e.number << " " << name << ": got " << got << " expected "
                                 << expected);
          }
        }
        trials[idx].params[name] = expected;  // Optuna's value from here on, so errors cannot compound
        trials[idx].distributions[name] = dist;
      }
    } else {
      auto& t = trials[index_of(e.number)];
      t.state = e.state;
      t.value = e.value;
      t.intermediate_values = e.intermediate;
    }
  }
  return stats;
}

const std::vector<std::string> tpe_goldens = {
    "tpe_seed1998.txt",          "tpe_seed7.txt",           "tpe_options_seed5.txt",
    "tpe_noprior_seed9.txt",     "tpe_minimize_seed42.txt", "tpe_mixed_seed11.txt",
    "tpe_pruned_fail_seed3.txt", "tpe_liar_seed21.txt"};

}  // namespace

TEST_CASE("numpy's float64 exp, log, log1p and argsort are reproduced exactly", "[search][tpe]") {
  const auto rows = normlab::testing::golden_rows("tpe_numpy_math.txt");
  REQUIRE(rows.front()[0] == "math");
  const auto mode = rows.front()[1] == "avx512_skx" ? search::NumpyMath::Avx512Skx : search::NumpyMath::Baseline;
  const search::detail::numpy::Math m{mode};
  int checked = 0;
  for (const auto& row : rows) {
    if (row[0] == "argsort") {
      std::vector<double> v;
      for (const auto& x : split(row[1], ',')) v.push_back(parse_double(x));
      const auto got = search::detail::numpy::argsort(v);
      REQUIRE(got.size() == row.size() - 2);
      for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == std::stoul(row[2 + i]));
      ++checked;
      continue;
    }
    if (row[0] != "exp" && row[0] != "log" && row[0] != "log1p") continue;
    const double x = parse_double(row[1]), expected = parse_double(row[2]);
    const double got = row[0] == "exp" ? m.exp(x) : row[0] == "log" ? m.log(x) : m.log1p(x);
    INFO(row[0] << "(" << row[1] << ")");
    CHECK(got == expected);
    ++checked;
  }
  CHECK(checked > 5000);
}

TEST_CASE("TpeSampler proposes exactly Optuna 3.1's points", "[search][tpe]") {
  for (const auto& file : tpe_goldens) {
    SECTION(file) {
      const GoldenCase c = read_case(file);
      const uint64_t seed = std::stoull(c.fields.at("seed"));
      search::TpeSampler sampler(options_of(c, seed));
      const ReplayStats stats = replay(c, sampler);
      INFO(file << ": " << stats.identical << " of " << stats.asked << " identical, max |diff| " << stats.max_abs_diff);
      CHECK(stats.asked > 0);
      CHECK(stats.identical == stats.asked);
    }
  }
}

TEST_CASE("TpeSampler: the notebook's 200-trial study matches at every trial", "[search][tpe]") {
  const GoldenCase c = read_case("tpe_seed1998.txt");
  search::TpeSampler sampler(options_of(c, 1998));
  const ReplayStats stats = replay(c, sampler);
  CHECK(stats.asked == 400);
  CHECK(stats.identical == 400);
}

TEST_CASE("TpeSampler: reseed restarts both random streams", "[search][tpe]") {
  const GoldenCase c = read_case("tpe_seed7.txt");
  search::TpeSampler sampler(options_of(c, 12345));
  sampler.reseed(7);  // as if built with seed 7
  const ReplayStats stats = replay(c, sampler);
  CHECK(stats.identical == stats.asked);
}

TEST_CASE("TpeSampler: startup trials are the RandomSampler's draws", "[search][tpe]") {
  const GoldenCase c = read_case("tpe_seed1998.txt");
  search::RandomSampler random(1998);
  search::TpeSampler tpe(search::TpeOptions().seed(1998));
  std::vector<search::FrozenTrial> none;
  const search::StudyView view{none, search::StudyDirection::Maximize};
  search::FrozenTrial t;
  for (const auto& name : {"mean", "std"}) {
    const auto& d = c.params.at(name);
    CHECK(tpe.sample_independent(view, t, name, d) == random.sample_independent(view, t, name, d));
  }
  // The notebook note's first draw with seed 1998.
  search::RandomSampler again(1998);
  CHECK(again.sample_independent(view, t, "mean", c.params.at("mean")) == 0.3566734601543682);
  CHECK(again.sample_independent(view, t, "std", c.params.at("std")) == 0.9788675268797683);
}

TEST_CASE("TpeSampler: defaults, gamma and weights as Optuna's", "[search][tpe]") {
  const search::TpeOptions o;
  CHECK(o.consider_prior());
  CHECK(o.prior_weight() == 1.0);
  CHECK(o.consider_magic_clip());
  CHECK_FALSE(o.consider_endpoints());
  CHECK(o.n_startup_trials() == 10);
  CHECK(o.n_ei_candidates() == 24);
  CHECK_FALSE(o.constant_liar());
  CHECK_FALSE(o.seed().has_value());
  CHECK(search::TpeOptions::hyperopt().n_startup_trials() == 20);

  CHECK(search::default_gamma(0) == 0);
  CHECK(search::default_gamma(10) == 1);
  CHECK(search::default_gamma(11) == 2);
  CHECK(search::default_gamma(30) == 3);
  CHECK(search::default_gamma(31) == 4);
  CHECK(search::default_gamma(1000) == 25);
  CHECK(search::hyperopt_default_gamma(16) == 1);
  CHECK(search::hyperopt_default_gamma(17) == 2);

  CHECK(search::default_weights(0).empty());
  CHECK(search::default_weights(24) == std::vector<double>(24, 1.0));
  const auto w = search::default_weights(30);
  REQUIRE(w.size() == 30);
  CHECK(w.front() == 1.0 / 30);
  CHECK(w[4] == 1.0);
  CHECK(search::default_weights(26).front() == 1.0 / 26);
}

TEST_CASE("TpeSampler: a single-valued distribution is its value, and bad options are refused", "[search][tpe]") {
  search::TpeSampler sampler(search::TpeOptions().seed(1));
  std::vector<search::FrozenTrial> none;
  search::FrozenTrial t;
  CHECK(sampler.sample_independent({none, search::StudyDirection::Minimize}, t, "x",
                                   search::FloatDistribution{0.5, 0.5, false, std::nullopt}) == 0.5);
  CHECK_THROWS_AS(search::TpeSampler(search::TpeOptions().n_ei_candidates(0)), std::invalid_argument);
  CHECK(sampler.name() == "tpe");
}
