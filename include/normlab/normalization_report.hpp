#pragma once
// The answer to the notebook's question, as an experiment: does the (mean, std) of Normalize move
// LeNet's accuracy by more than the seed noise does? run_normalization_report trains
//   1. the noise floor: the notebook's point (0.1307, 0.3081) and (0, 1) with N seeds;
//   2. a designed experiment: a G x G grid over the notebook's space with R seeds per cell, for each
//      compensation asked for, the same seeds everywhere (report/grid_design.hpp);
//   3. the notebook's study beside the grid: a TPE search over the same space, one per compensation,
//      every trial with the first seed (as the notebook);
// then a two-way ANOVA per compensation (report/anova.hpp) and a verdict (report/verdict.hpp).
// Every run is a trial of a study in `out/report.sqlite3` (grid and noise: params mean, std, seed;
// TPE: mean, std), so a killed report continues where it stopped and Optuna reads what it ran. Each run is the Pipeline that
// seed_mnist runs, so any row can be reproduced with seed_mnist and the same flags.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include <torch/torch.h>

#include "normlab/choose.hpp"
#include "normlab/compensate/compensate.hpp"
#include "normlab/data/dataset.hpp"
#include "normlab/interrupt.hpp"
#include "normlab/normalization_study.hpp"
#include "normlab/pipeline.hpp"
#include "normlab/report/grid_design.hpp"
#include "normlab/report/report_files.hpp"
#include "normlab/report/trial_progress.hpp"
#include "normlab/report/verdict.hpp"
#include "normlab/search/normalization_space.hpp"
#include "normlab/search/random.hpp"
#include "normlab/study/heartbeat.hpp"
#include "normlab/study/study.hpp"

namespace normlab {

/// How a report runs; its defaults are the `quick` profile's design.
struct ReportOptions {
  RunOptions base;              ///< data root, epochs, subsets, threads (its seed and normalization are the design's)
  int grid = 5;                 ///< G: levels of mean and of std
  int seeds = 3;                ///< R: seeds per grid cell
  int noise_seeds = 8;          ///< N: seeds of each noise-floor point
  int tpe_trials = 16;          ///< complete trials of each compensation's TPE study (0: none)
  uint64_t first_seed = 1;      ///< seeds are first_seed, first_seed + 1, ...
  std::vector<std::string> compensations = {"notebook", "exact", "none"};
  std::filesystem::path out;    ///< the report's files; report.sqlite3 too unless storage_url says otherwise
  /// Where the runs are stored: empty, sqlite:///OUT/report.sqlite3; or postgresql://... for
  /// workers on many machines. Every process given the same storage shares the work: each run is
  /// trained by exactly one of them (docs/distributed.md).
  std::string storage_url;
  double heartbeat = 5;         ///< seconds between heartbeats of a run; a silent one's worker died
  std::ostream* log = &std::cerr;  ///< one line per run; nullptr: silent
};

/// The notebook's study for one compensation, as the report ran it.
using ReportStudy = report::TpeStudy;

/// What a report found.
struct ReportResult {
  report::GridDesign design;
  std::vector<report::GridRun> grid;   ///< compensation x mean x std x seed, in that order
  std::vector<report::GridRun> noise;  ///< compensation x point x seed
  std::vector<report::Finding> findings;
  std::vector<ReportStudy> studies;    ///< per compensation, when ReportOptions::tpe_trials > 0
  std::string verdict;                 ///< one sentence per compensation, joined by "; "
};

namespace detail {

/// What a report's runs depend on besides (mean, std, seed) and the compensation: the training
/// settings and the data (its sizes and a hash of the labels used). A report folder holds runs of
/// one such protocol; continuing it with another would mix them.
inline std::string report_protocol(const RunOptions& base, const data::TrainTest& data) {
  const auto train = data.train.first(base.train_limit), test = data.test.first(base.test_limit);
  uint64_t hash = 14695981039346656037ull;  // FNV-1a of the labels, train then test
  for (const auto* part : {&train, &test}) {
    const auto labels = part->labels.to(torch::kCPU).to(torch::kInt64).contiguous();
    const auto* p = labels.data_ptr<int64_t>();
    for (int64_t i = 0; i < labels.numel(); ++i) hash = (hash ^ static_cast<uint64_t>(p[i])) * 1099511628211ull;
  }
  char text[320];
  std::snprintf(text, sizeof text,
                "epochs=%d train_batch=%lld fast=%d train_images=%lld test_images=%lld classes=%lld labels_fnv1a=%016llx",
                base.epochs, static_cast<long long>(base.train_batch), base.fast ? 1 : 0, static_cast<long long>(train.size()),
                static_cast<long long>(test.size()), static_cast<long long>(data.classes),
                static_cast<unsigned long long>(hash));
  return text;
}

/// Records `protocol` in a new report study; refuses one that recorded another.
inline void check_report_protocol(study::Study& s, const std::string& protocol, const std::filesystem::path& out) {
  constexpr const char* key = "normlab_report_protocol";
  const auto attrs = s.user_attrs();
  const auto it = attrs.find(key);
  if (it == attrs.end()) {
    s.set_user_attr(key, protocol);
    return;
  }
  const std::string recorded = it->second.is_string() ? it->second.as_string() : it->second.dump();
  if (recorded != protocol)
    throw std::invalid_argument("normlab: the report in '" + out.string() + "' (study '" + s.name() +
                                "') was trained with " + recorded + "; this run asks for " + protocol +
                                ": continuing it would mix two protocols. Give another --out, or the flags it was "
                                "made with (its report.md names the command)");
}

/// The finished runs of a report study, by (mean, std, seed).
inline std::map<std::tuple<double, double, uint64_t>, report::GridRun> finished_runs(const study::Study& s,
                                                                                    const std::string& compensation) {
  std::map<std::tuple<double, double, uint64_t>, report::GridRun> out;
  for (const auto& t : s.trials({study::TrialState::Complete})) {
    if (!t.value || !t.params.count(search::kMeanParam) || !t.params.count("seed")) continue;
    report::GridRun r;
    r.compensation = compensation;
    r.mean = t.params.at(search::kMeanParam);
    r.std = t.params.at(search::kStdParam);
    r.seed = static_cast<uint64_t>(t.params.at("seed"));
    r.accuracy = *t.value;
    if (auto it = t.user_attrs.find("correct"); it != t.user_attrs.end()) r.correct = std::stoll(it->second);
    if (auto it = t.user_attrs.find("total"); it != t.user_attrs.end()) r.total = std::stoll(it->second);
    if (auto it = t.user_attrs.find("diverged"); it != t.user_attrs.end()) r.diverged = it->second == "true";
    out[{r.mean, r.std, r.seed}] = r;
  }
  return out;
}

using RunPoint = std::tuple<double, double, uint64_t>;  ///< (mean, std, seed)

/// The (mean, std, seed) of a report trial: its parameters, or, while it waits, the ones enqueued.
inline std::optional<RunPoint> run_point(const study::FrozenTrial& t) {
  auto from = [](const std::map<std::string, double>& p) -> std::optional<RunPoint> {
    if (!p.count(search::kMeanParam) || !p.count(search::kStdParam) || !p.count("seed")) return std::nullopt;
    return RunPoint{p.at(search::kMeanParam), p.at(search::kStdParam), static_cast<uint64_t>(p.at("seed"))};
  };
  if (auto p = from(t.params)) return p;
  const auto fixed = t.system_attrs.find("fixed_params");
  if (fixed == t.system_attrs.end()) return std::nullopt;
  const auto json = study::Json::parse(fixed->second);
  if (!json.is_object()) return std::nullopt;
  std::map<std::string, double> values;
  for (const auto& [k, v] : json.as_object())
    if (v.is_number()) values[k] = v.as_double();
  return from(values);
}

/// One run of seed_mnist's protocol with compensation C: the point enqueued in `trial` (popped by
/// this worker), trained while a heartbeat says this worker lives, and told to `s`.
template <class C, class Device>
report::GridRun report_run(study::Study& s, study::Trial& trial, const RunOptions& base, const data::TrainTest& data,
                           const std::string& compensation, double heartbeat) {
  const auto p = search::NotebookSpace::suggest(trial);
  const auto seed = static_cast<uint64_t>(trial.suggest_int("seed", 0, 1 << 30));
  const double mean = p.at(search::kMeanParam), std = p.at(search::kStdParam);
  RunOptions o = base;
  o.seed = seed;
  o.normalization = NormalizationValues::uniform(mean, std);
  o.log = nullptr;
  report::GridRun r{compensation, seed, mean, std};
  {
    study::detail::Heartbeat alive(s.storage(), trial.id(), heartbeat);
    try {
      const auto result = Pipeline<normalize::Runtime, LeNet, C, Device>{}.run(o, data);
      r.accuracy = result.accuracy;
      r.correct = result.correct;
      r.total = result.total;
    } catch (const TrainingDiverged&) {
      // A NaN loss: the network predicts nothing; it scores chance, and the row says it diverged.
      r.diverged = true;
      r.total = data.test.first(base.test_limit).size();
      r.accuracy = 1.0 / static_cast<double>(data.classes);
    } catch (const Interrupted&) {
      s.tell(trial, study::TrialState::Fail, "interrupted (Ctrl-C): run again to continue the report");
      throw;
    }
  }
  trial.set_user_attr("correct", r.correct);
  trial.set_user_attr("total", r.total);
  trial.set_user_attr("diverged", r.diverged);
  s.tell(trial, r.accuracy);
  return r;
}

/// Trains every point of `design` that `s` has not finished, sharing them with every other
/// process on the same study: each pass enqueues the points that no trial holds (neither
/// finished, running nor waiting), then takes the oldest waiting one. A trial whose point an
/// older trial already holds (two workers enqueued it at once) is FAILed as a duplicate, not
/// trained; a worker that died leaves its trial RUNNING until its heartbeat lapses, then the point
/// is enqueued again. Returns when every point is COMPLETE; `on_run` is called after each run.
template <class C, class Device, class OnRun>
void run_design(study::Study& s, const std::vector<RunPoint>& design, const ReportOptions& o,
                const data::TrainTest& data, const std::string& compensation, OnRun&& on_run) {
  const std::set<RunPoint> wanted(design.begin(), design.end());
  bool said_waiting = false;
  for (;;) {
    s.fail_stale_trials(o.heartbeat);
    std::set<RunPoint> complete, held;
    std::size_t running = 0;
    for (const auto& t : s.trials()) {
      const auto point = run_point(t);
      if (!point) continue;
      if (t.state == study::TrialState::Complete) complete.insert(*point);
      if (t.state == study::TrialState::Running || t.state == study::TrialState::Waiting) held.insert(*point);
      running += t.state == study::TrialState::Running && wanted.count(*point);
    }
    for (const auto& [mean, std, seed] : design)
      if (!complete.count({mean, std, seed}) && !held.count({mean, std, seed}))
        s.enqueue({{search::kMeanParam, mean}, {search::kStdParam, std}, {"seed", static_cast<double>(seed)}});
    std::optional<study::Trial> trial = s.ask_enqueued();
    if (!trial) {
      // Nothing waits: done once every point is COMPLETE (another worker may have taken the last
      // ones since the trials were read); else some still run elsewhere.
      std::set<RunPoint> finished;
      for (const auto& t : s.trials({study::TrialState::Complete}))
        if (const auto point = run_point(t); point && wanted.count(*point)) finished.insert(*point);
      if (finished.size() == wanted.size()) return;
      if (o.log && !said_waiting)
        *o.log << "normalization_report: " << compensation << ": waiting for " << running
               << " run(s) in other workers" << std::endl;
      said_waiting = true;
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(o.heartbeat, 1.0)));
      continue;
    }
    const auto point = run_point(trial->frozen());
    bool duplicate = !point;
    if (point)
      for (const auto& t : s.trials())
        if (t.number < trial->number() && t.state != study::TrialState::Fail && run_point(t) == point) {
          duplicate = true;
          break;
        }
    if (duplicate) {
      s.tell(*trial, study::TrialState::Fail, "its point is another trial's (two workers enqueued it at once)");
      continue;
    }
    on_run(report_run<C, Device>(s, *trial, o.base, data, compensation, o.heartbeat));
  }
}

/// The notebook's TPE study with compensation C (its sampler seeded with, and every trial trained
/// with, the report's first seed; another worker's sampler with its own seed, study::join_study),
/// run until it holds `o.tpe_trials` COMPLETE trials, counted with the running ones of every worker.
template <class C, class Device>
ReportStudy report_study(const ReportOptions& o, const data::TrainTest& data, const std::string& url,
                         const std::string& compensation, std::size_t done, std::size_t all) {
  study::StudyOptions so;
  so.name = "report-tpe-" + compensation;
  so.storage_url = url;
  so.direction = study::StudyDirection::Maximize;
  RunOptions base = o.base;
  base.seed = o.first_seed;
  base.log = nullptr;
  using Protocol = Pipeline<normalize::Runtime, LeNet, C, Device>;
  auto opened = open_study_worker(so, "tpe", o.first_seed, nullptr, Device::select().str(), false);
  auto& s = *opened.study;
  check_report_protocol(s, report_protocol(o.base, data), o.out);  // the grid's protocol, before any TPE trial
  study::OptimizeOptions run;
  run.max_trials = o.tpe_trials;  // a rerun of a finished study trains nothing
  run.max_trials_states = {study::TrialState::Complete, study::TrialState::Running};
  run.heartbeat_interval = o.heartbeat;
  if (o.log)
    run.callbacks.push_back([&, log = o.log](study::Study& s, const study::FrozenTrial& t) {
      const auto complete = static_cast<int>(s.trials({study::TrialState::Complete}).size());
      *log << "[" << std::min(all, done + complete) << "/" << all << "] " << compensation << " TPE "
           << report::trial_line(s, t, complete, o.tpe_trials) << std::endl;
    });
  // Data is borrowed for the study's duration (the objective wants shared ownership).
  std::shared_ptr<const data::TrainTest> borrowed(&data, [](const data::TrainTest*) {});
  device::set_threads(base.threads);
  s.optimize(normalization_objective<Protocol>(base, borrowed), 2 * o.tpe_trials + 10, run);
  return {compensation, so.name, s.trials()};
}

}  // namespace detail

/**
 * Runs (or continues) the report's noise floor and grid for every compensation in `o` on `data`,
 * and reads them: ANOVA and finding per compensation, and the verdict. Runs already in
 * `o.out/report.sqlite3` are not trained again.
 * @tparam Device where the runs train (device::Named: where device::Named::use() says)
 */
template <class Device = device::Auto>
ReportResult run_normalization_report(const ReportOptions& o, const data::TrainTest& data) {
  ReportResult result;
  result.design = report::notebook_grid(o.grid, o.seeds, o.first_seed);
  if (o.noise_seeds < 2) throw std::invalid_argument("the report's noise floor needs at least 2 seeds");
  if (o.compensations.empty()) throw std::invalid_argument("the report needs at least one compensation");
  for (const auto& c : o.compensations)  // every name checked before any run
    choose<compensate::Notebook, compensate::Exact, compensate::None>(c, []<class C>(std::type_identity<C>) {},
                                                                      "--compensations");
  if (!(o.heartbeat > 0 && o.heartbeat <= 1e8))
    throw std::invalid_argument("the report's heartbeat must be a positive number of seconds");
  std::filesystem::create_directories(o.out);
  const std::string protocol = detail::report_protocol(o.base, data);
  const std::string url = o.storage_url.empty() ? "sqlite:///" + (o.out / "report.sqlite3").string() : o.storage_url;
  const auto& d = result.design;
  const std::size_t per_compensation =
      d.means.size() * d.stds.size() * d.seeds.size() + 2 * o.noise_seeds + static_cast<std::size_t>(o.tpe_trials);
  const std::size_t all = per_compensation * o.compensations.size();
  std::size_t done = 0;
  InterruptGuard ctrl_c;  // Ctrl-C stops between batches; the run in progress is recorded as FAIL

  for (const auto& compensation : o.compensations) {
    choose<compensate::Notebook, compensate::Exact, compensate::None>(compensation, [&]<class C>(std::type_identity<C>) {
      auto open = [&](const std::string& kind) {
        study::StudyOptions so;
        so.name = "report-" + kind + "-" + compensation;
        so.storage_url = url;
        so.direction = study::StudyDirection::Maximize;
        auto s = std::make_unique<study::Study>(so, std::make_unique<search::RandomSampler>(o.first_seed));
        detail::check_report_protocol(*s, protocol, o.out);
        return s;
      };
      auto run_all = [&](study::Study& s, const std::vector<std::pair<double, double>>& points,
                         const std::vector<uint64_t>& seeds, std::vector<report::GridRun>& into) {
        std::vector<detail::RunPoint> design;
        for (const auto& [mean, std] : points)
          for (uint64_t seed : seeds) design.emplace_back(mean, std, seed);
        const std::size_t before = done;
        auto finished = detail::finished_runs(s, compensation);
        detail::run_design<C, Device>(s, design, o, data, compensation, [&](const report::GridRun& r) {
          if (o.log)
            *o.log << "[" << std::min(all, before + (finished.size() + 1)) << "/" << all << "] " << compensation
                   << " mean=" << r.mean << " std=" << r.std << " seed=" << r.seed << "  accuracy " << r.accuracy
                   << (r.diverged ? " (diverged)" : "") << std::endl;
          finished[{r.mean, r.std, r.seed}] = r;
        });
        finished = detail::finished_runs(s, compensation);  // with the other workers' runs
        for (const auto& point : design) into.push_back(finished.at(point));
        done += design.size();
      };
      std::vector<uint64_t> noise_seeds;
      for (int k = 0; k < o.noise_seeds; ++k) noise_seeds.push_back(o.first_seed + static_cast<uint64_t>(k));
      auto noise = open("noise");
      run_all(*noise, {report::kNoiseFloorPoints.begin(), report::kNoiseFloorPoints.end()}, noise_seeds, result.noise);
      std::vector<std::pair<double, double>> cells;
      for (double m : d.means)
        for (double s : d.stds) cells.emplace_back(m, s);
      auto grid = open("grid");
      run_all(*grid, cells, d.seeds, result.grid);
      if (o.tpe_trials > 0) result.studies.push_back(detail::report_study<C, Device>(o, data, url, compensation, done, all));
      done = std::min(all, done + static_cast<std::size_t>(o.tpe_trials));
    }, "--compensations");
    std::map<std::pair<double, double>, std::vector<double>> floor;  // the noise floor's points
    for (const auto& r : result.noise)
      if (r.compensation == compensation) floor[{r.mean, r.std}].push_back(r.accuracy);
    std::vector<std::vector<double>> groups;
    for (auto& [point, values] : floor) groups.push_back(std::move(values));
    result.findings.push_back(report::find(compensation, report::grid_cells(d, result.grid, compensation),
                                           1.0 / static_cast<double>(data.classes), d.means, d.stds,
                                           report::pooled_sd(groups)));
    result.verdict += (result.verdict.empty() ? "" : "; ") + report::sentence(result.findings.back());
  }
  return result;
}

}  // namespace normlab
