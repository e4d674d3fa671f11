// The C++ half of tests/study/optuna_interop_test.sh: writes a study database for Optuna 3.1 to
// read, and checks, after Optuna has continued it, that normlab sees every trial as Optuna does.
//
//   interop_tool write DB MANIFEST.json   a study "MNIST" (maximize; the notebook's mean/std space)
//                                         with COMPLETE, PRUNED (with intermediate values), FAIL
//                                         and one WAITING (enqueued) trial, and a study "ints";
//                                         MANIFEST.json: every trial as normlab wrote it
//   interop_tool write-v320 DB            a database stamped for Optuna >= 3.2 (v3.2.0.a)
//   interop_tool check DB EXPECTED.json   EXPECTED.json: every trial as Optuna reads it
//                                         (scripts/interop/optuna_dump.py); then runs 2 more
//                                         trials here and checks their numbers
//
// DB is an SQLite file path, or a PostgreSQL URL (postgresql://..., where normlab has libpq: the
// same round trip through a database server, tests/study/postgres_interop_test.sh).
// Exit status 0 when everything matched; otherwise the first mismatches on stderr and status 1.
// No LibTorch and no Catch2: plain C++, SQLite and libpq.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "normlab/study/study.hpp"

namespace search = normlab::search;
using namespace normlab::study;

namespace {

/// A deterministic sampler (an LCG): uniform in the (log-)range, snapped to the grid.
class LcgSampler final : public search::Sampler {
 public:
  explicit LcgSampler(uint64_t seed) : state_(seed) {}
  double sample_independent(const search::StudyView&, const FrozenTrial&, const std::string&,
                            const search::Distribution& d) override {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    const double u = static_cast<double>(state_ >> 11) * 0x1.0p-53;
    if (const auto* f = std::get_if<search::FloatDistribution>(&d)) {
      if (f->log) return std::exp(std::log(f->low) + u * (std::log(f->high) - std::log(f->low)));
      if (f->step) return f->low + std::floor(u * ((f->high - f->low) / *f->step + 1)) * *f->step;
      return f->low + u * (f->high - f->low);
    }
    const auto& i = std::get<search::IntDistribution>(d);
    if (i.log) return std::round(std::exp(std::log(i.low) + u * (std::log(i.high) - std::log(i.low))));
    return static_cast<double>(i.low + static_cast<long long>(u * static_cast<double>((i.high - i.low) / i.step + 1)) * i.step);
  }
  void reseed(uint64_t seed) override { state_ = seed; }
  std::string name() const override { return "lcg"; }

 private:
  uint64_t state_;
};

int failures = 0;
void expect(bool ok, const std::string& what) {
  if (ok) return;
  if (++failures <= 40) std::cerr << "interop_tool: MISMATCH: " << what << "\n";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// DB as a storage URL: a PostgreSQL URL as it is, a file path as sqlite:///path.
std::string url_of(const std::string& db) { return is_postgres_url(db) ? db : "sqlite:///" + db; }

StudyOptions options(const std::string& db, const std::string& name, StudyDirection direction) {
  StudyOptions o;
  o.name = name;
  o.direction = direction;
  o.storage_url = url_of(db);
  return o;
}

/// Every trial of every study, in the form of scripts/interop/optuna_dump.py.
Json dump(Storage& storage) {
  Json::Array studies;
  for (const std::string& name : storage.study_names()) {
    const int64_t id = *storage.find_study(name);
    Json::Array trials;
    for (const FrozenTrial& t : storage.get_all_trials(id)) {
      Json params = Json(Json::Object{}), distributions = Json(Json::Object{}), user = Json(Json::Object{}),
           system = Json(Json::Object{});
      for (const auto& [k, v] : t.params) params.set(k, v);
      for (const auto& [k, d] : t.distributions) distributions.set(k, search::to_json(d));
      for (const auto& [k, v] : t.user_attrs) user.set(k, v);
      for (const auto& [k, v] : t.system_attrs) system.set(k, v);
      Json::Array intermediate;
      for (const auto& [step, v] : t.intermediate_values) intermediate.push_back(Json::array({step, v}));
      trials.push_back(Json::object({{"trial_id", t.trial_id},
                                     {"number", t.number},
                                     {"state", to_string(t.state)},
                                     {"value", t.value ? Json(*t.value) : Json()},
                                     {"params", params},
                                     {"distributions", distributions},
                                     {"intermediate_values", Json(intermediate)},
                                     {"user_attrs", user},
                                     {"system_attrs", system},
                                     {"datetime_start", t.datetime_start},
                                     {"datetime_complete", t.datetime_complete}}));
    }
    studies.push_back(Json::object({{"name", name},
                                    {"direction", to_string(storage.study_direction(id))},
                                    {"trials", Json(trials)}}));
  }
  return Json::object({{"writer", "normlab"}, {"studies", Json(studies)}});
}

double notebook_objective(Trial& t) {
  const double mean = t.suggest_float("mean", -3, 3);
  const double std_value = t.suggest_float("std", 0.1, 2, true);
  return 0.99 - std::abs(mean - 0.13) / 10 - std::abs(std::log(std_value / 0.31)) / 10;
}

int write(const std::string& db, const std::string& manifest) {
  Study mnist = Study::create(options(db, "MNIST", StudyDirection::Maximize), std::make_unique<LcgSampler>(1998));
  {  // #0 COMPLETE, with a user attribute
    Trial t = mnist.ask();
    const double v = notebook_objective(t);
    t.set_user_attr("note", Json::object({{"epochs", 14}, {"tags", Json::array({"a", "caf\xc3\xa9"})}, {"ok", true}}));
    mnist.tell(t, v);
  }
  {  // #1 PRUNED after two reports: the last one becomes its value
    Trial t = mnist.ask();
    notebook_objective(t);
    t.report(0.5, 0);
    t.report(0.625, 1);
    mnist.tell(t, TrialState::Pruned);
  }
  // #2 FAIL: the objective throws; the study goes on
  mnist.optimize([](Trial& t) -> double { notebook_objective(t); throw std::runtime_error("boom"); }, 1);
  {  // #3 COMPLETE with +inf, NaN and finite intermediate values
    Trial t = mnist.ask();
    const double v = notebook_objective(t);
    t.report(HUGE_VAL, 0);
    t.report(std::nan(""), 1);
    t.report(-HUGE_VAL, 2);
    t.report(v, 3);
    mnist.tell(t, v);
  }
  {  // #4 FAIL: a NaN value
    Trial t = mnist.ask();
    notebook_objective(t);
    mnist.tell(t, std::nan(""));
  }
  // #5, #6: two more COMPLETE trials through optimize(), with pruning reports
  mnist.optimize(
      [](Trial& t) {
        const double v = notebook_objective(t);
        t.report(v - 0.01, 0);
        return v;
      },
      2);
  // #7 WAITING: enqueued, for Optuna to pop
  mnist.enqueue({{"mean", 0.5}, {"std", 1.0}});

  Study ints = Study::create(options(db, "ints", StudyDirection::Minimize), std::make_unique<LcgSampler>(7));
  ints.optimize(
      [](Trial& t) {
        const long long n = t.suggest_int("n", 1, 5);
        const long long k = t.suggest_int("k", 1, 64, 1, true);
        const double x = t.suggest_float("x", 0, 1, false, 0.25);
        return static_cast<double>(n + k) + x;
      },
      3);

  const std::unique_ptr<Storage> storage = open_storage(url_of(db));
  std::ofstream(manifest) << dump(*storage).dump() << "\n";
  std::cout << "interop_tool: wrote " << db << ": " << mnist.trials().size() << " MNIST trials, "
            << ints.trials().size() << " ints trials\n";
  return 0;
}

int write_v320(const std::string& db) {
  StudyOptions o = options(db, "MNIST", StudyDirection::Maximize);
  o.schema = SchemaVersion::v3_2_0_a;
  Study s = Study::create(o, std::make_unique<LcgSampler>(1));
  s.optimize(notebook_objective, 1);
  return 0;
}

void compare_trial(const FrozenTrial& t, const Json& w, const std::string& where) {
  expect(t.trial_id == w.at("trial_id").as_int(), where + ": trial_id");
  expect(t.number == w.at("number").as_int(), where + ": number");
  expect(to_string(t.state) == w.at("state").as_string(), where + ": state " + to_string(t.state));
  if (w.at("value").is_null()) expect(!t.value, where + ": value should be empty");
  else expect(t.value && *t.value == w.at("value").as_double(), where + ": value");
  expect(t.params.size() == w.at("params").as_object().size(), where + ": number of params");
  for (const auto& [name, v] : w.at("params").as_object()) {
    expect(t.params.count(name) && t.params.at(name) == v.as_double(), where + ": param " + name);
    expect(t.distributions.count(name) &&
               search::to_json(t.distributions.at(name)) == w.at("distributions").at(name).as_string(),
           where + ": distribution of " + name);
  }
  const auto& iv = w.at("intermediate_values").as_array();
  expect(t.intermediate_values.size() == iv.size(), where + ": number of intermediate values");
  for (const Json& pair : iv) {
    const int64_t step = pair.as_array()[0].as_int();
    const double v = pair.as_array()[1].as_double();
    const auto it = t.intermediate_values.find(step);
    expect(it != t.intermediate_values.end() && (std::isnan(v) ? std::isnan(it->second) : it->second == v),
           where + ": intermediate value at step " + std::to_string(step));
  }
  for (const char* kind : {"user_attrs", "system_attrs"}) {
    const auto& mine = std::string(kind) == "user_attrs" ? t.user_attrs : t.system_attrs;
    expect(mine.size() == w.at(kind).as_object().size(), where + ": number of " + kind);
    for (const auto& [k, v] : w.at(kind).as_object())
      expect(mine.count(k) && mine.at(k) == v.as_string(), where + ": " + kind + " " + k);
  }
  expect(t.datetime_start == w.at("datetime_start").as_string(), where + ": datetime_start");
  expect(t.datetime_complete == w.at("datetime_complete").as_string(), where + ": datetime_complete");
}

int check(const std::string& db, const std::string& expected_path) {
  const Json expected = Json::parse(read_file(expected_path));
  size_t total = 0, mnist_count = 0, mnist_waiting = 0;
  {
    const std::unique_ptr<Storage> opened = open_storage(url_of(db));
    Storage& storage = *opened;
    std::vector<std::string> names;
    for (const Json& s : expected.at("studies").as_array()) names.push_back(s.at("name").as_string());
    expect(storage.study_names() == names, "study names");
    for (const Json& s : expected.at("studies").as_array()) {
      const std::string name = s.at("name").as_string();
      const auto id = storage.find_study(name);
      expect(id.has_value(), "study " + name + " missing");
      if (!id) continue;
      expect(to_string(storage.study_direction(*id)) == s.at("direction").as_string(), name + ": direction");
      const auto trials = storage.get_all_trials(*id);
      const auto& want = s.at("trials").as_array();
      expect(trials.size() == want.size(), name + ": " + std::to_string(trials.size()) + " trials, Optuna sees " +
                                               std::to_string(want.size()));
      for (size_t i = 0; i < std::min(trials.size(), want.size()); ++i)
        compare_trial(trials[i], want[i], name + " #" + std::to_string(i));
      total += trials.size();
      if (name == "MNIST") {
        mnist_count = trials.size();
        for (const FrozenTrial& t : trials) mnist_waiting += t.state == TrialState::Waiting;
      }
    }
  }
  // Continue the study Optuna continued: numbering goes on, nothing is lost; an enqueued (WAITING)
  // trial is run first and is not a new one.
  StudyOptions o = options(db, "MNIST", StudyDirection::Maximize);
  o.require_existing = true;
  Study mnist = Study::create(o, std::make_unique<LcgSampler>(42));
  mnist.optimize(notebook_objective, 2);
  const auto after = mnist.trials();
  expect(after.size() == mnist_count + 2 - std::min<size_t>(2, mnist_waiting),
         "MNIST: " + std::to_string(after.size()) + " trials after 2 more");
  for (const FrozenTrial& t : after) expect(t.state != TrialState::Waiting, "MNIST: a WAITING trial is left");
  for (size_t i = 0; i < after.size(); ++i) expect(after[i].number == static_cast<int64_t>(i), "MNIST numbering");
  if (failures) {
    std::cerr << "interop_tool: " << failures << " mismatch(es)\n";
    return 1;
  }
  std::cout << "interop_tool: normlab reads all " << total << " trials as Optuna does, and continued MNIST to "
            << after.size() << " trials\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "write") return write(args[1], args[2]);
  if (args.size() == 2 && args[0] == "write-v320") return write_v320(args[1]);
  if (args.size() == 3 && args[0] == "check") return check(args[1], args[2]);
  std::cerr << "usage: interop_tool write DB MANIFEST.json | write-v320 DB | check DB EXPECTED.json\n";
  return 2;
} catch (const std::exception& e) {
  std::cerr << "interop_tool: error: " << e.what() << "\n";
  return 1;
}
