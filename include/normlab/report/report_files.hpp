#pragma once
// The answer report's files: the runs as CSV (trials.csv, noise_floor.csv), the ANOVA tables
// (anova.csv), and report.md, which a person reads: the verdict, the tables, the pictures, and
// what produced them (the command, the machine, the seeds). Plain text, written with fixed
// formats, so that two runs with the same seeds give byte-identical files.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "normlab/report/grid_design.hpp"
#include "normlab/report/study_summary.hpp"
#include "normlab/report/verdict.hpp"
#include "normlab/search/normalization_space.hpp"
#include "normlab/study/trial.hpp"

namespace normlab::report {

/// The notebook's study for one compensation, as a report ran it.
struct TpeStudy {
  std::string compensation;
  std::string name;                          ///< its name in report.sqlite3 ("report-tpe-exact")
  std::vector<study::FrozenTrial> trials;    ///< every trial, by number
};

/// How Optuna 3.1's fANOVA divides one TPE study's variance between mean and std (they sum to 1).
struct Importance {
  std::string compensation;
  double mean = NAN, std = NAN;
};

namespace detail {
inline std::ofstream open_for_writing(const std::filesystem::path& path) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("normlab::report: cannot write '" + path.string() + "'");
  return out;
}
inline void check_written(std::ofstream& out, const std::filesystem::path& path) {
  out.close();
  if (out.fail()) throw std::runtime_error("normlab::report: could not write all of '" + path.string() + "' (disk full?)");
}
inline std::string number(double v, const char* format = "%.17g") {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}
}  // namespace detail

/// One row per run: compensation,seed,mean,std,accuracy,correct,total,diverged (mean and std with
/// 17 significant digits: seed_mnist --mean/--std given them reproduces the row).
inline void write_runs_csv(const std::filesystem::path& path, const std::vector<GridRun>& runs) {
  auto out = detail::open_for_writing(path);
  out << "compensation,seed,mean,std,accuracy,correct,total,diverged\n";
  for (const auto& r : runs)
    out << r.compensation << ',' << r.seed << ',' << detail::number(r.mean) << ',' << detail::number(r.std) << ','
        << detail::number(r.accuracy) << ',' << r.correct << ',' << r.total << ',' << (r.diverged ? 1 : 0) << '\n';
  detail::check_written(out, path);
}

/// One row per compensation and source: compensation,source,sum_sq,df,mean_sq,F,p,eta_sq.
inline void write_anova_csv(const std::filesystem::path& path, const std::vector<Finding>& findings) {
  auto out = detail::open_for_writing(path);
  out << "compensation,source,sum_sq,df,mean_sq,F,p,eta_sq\n";
  for (const auto& f : findings)
    for (const AnovaRow* row : {&f.anova.a, &f.anova.b, &f.anova.interaction, &f.anova.residual, &f.anova.total})
      out << f.compensation << ',' << row->source << ',' << detail::number(row->sum_sq) << ','
          << detail::number(row->df) << ',' << detail::number(row->mean_sq) << ',' << detail::number(row->f) << ','
          << detail::number(row->p) << ',' << detail::number(row->eta_sq) << '\n';
  detail::check_written(out, path);
}

/// One row per TPE trial: compensation,number,state,mean,std,accuracy (empty when it has none).
inline void write_tpe_csv(const std::filesystem::path& path, const std::vector<TpeStudy>& studies) {
  auto out = detail::open_for_writing(path);
  out << "compensation,number,state,mean,std,accuracy\n";
  for (const auto& s : studies)
    for (const auto& t : s.trials) {
      const auto param = [&](const char* name) {
        const auto it = t.params.find(name);
        return it == t.params.end() ? std::string() : detail::number(it->second);
      };
      out << s.compensation << ',' << t.number << ',' << study::to_string(t.state) << ',' << param(search::kMeanParam)
          << ',' << param(search::kStdParam) << ',' << (t.value ? detail::number(*t.value) : std::string()) << '\n';
    }
  detail::check_written(out, path);
}

/// What report.md says besides the numbers: how it was made.
struct ReportContext {
  std::string command;     ///< the exact command line
  std::string machine;     ///< CPU, BLAS core, threads, library versions (device::kernels_line())
  std::string data;        ///< dataset, images, epochs
  /// Pictures beside report.md; each row is shown side by side.
  std::vector<std::vector<std::string>> images;
  std::vector<TpeStudy> studies;          ///< the notebook's study per compensation (may be empty)
  std::vector<Importance> importances;    ///< Optuna's fANOVA of those studies (may be empty)
  std::string importance_note;            ///< why there are none, when there are none
};

/// report.md: the verdict, the noise floor, each compensation's ANOVA table and the pictures.
inline void write_report_markdown(const std::filesystem::path& path, const GridDesign& design,
                                  const std::vector<GridRun>& noise, const std::vector<Finding>& findings,
                                  const ReportContext& context) {
  auto out = detail::open_for_writing(path);
  out << "# Does input normalization matter? normlab's answer report\n\n";
  out << "## Verdict\n\n";
  for (const auto& f : findings) out << "- " << sentence(f) << ".\n";
  out << "\nA factor *matters* when its F test against the seed noise (the spread of a cell's " << design.seeds.size()
      << " seeds) gives p < 0.01; eta2 is the share of the accuracy's variance it explains. A cell is *within noise "
         "of the best* when its mean is within two standard errors of a difference of two cell means, from the "
         "noise floor's sd; *at chance* when its mean is at most chance + 0.05; *unstable* when one of its seeds "
         "is at chance and another is not (the F tests assume one noise level for all cells: unstable cells "
         "inflate the pooled one, which makes the tests conservative).\n\n";
  out << "## Noise floor\n\nThe same (mean, std), trained with different seeds:\n\n";
  out << "| compensation | (mean, std) | seeds | mean accuracy | sd | min | max |\n|---|---|---|---|---|---|---|\n";
  for (const auto& f : findings)
    for (auto [m, s] : kNoiseFloorPoints) {
      std::vector<double> values;
      for (const auto& r : noise)
        if (r.compensation == f.compensation && r.mean == m && r.std == s) values.push_back(r.accuracy);
      const auto sp = spread_of(values);
      out << "| " << f.compensation << " | (" << detail::number(m, "%g") << ", " << detail::number(s, "%g") << ") | "
          << values.size() << " | " << detail::number(sp.mean, "%.4f") << " | " << detail::number(sp.std, "%.4f")
          << " | " << detail::number(sp.min, "%.4f") << " | " << detail::number(sp.max, "%.4f") << " |\n";
    }
  out << "\n## The designed experiment\n\nA " << design.means.size() << " x " << design.stds.size()
      << " grid over the notebook's space (mean evenly spaced in [-3, 3]; std evenly spaced in log over [0.1, 2]), "
      << design.seeds.size() << " seeds per cell (" << design.seeds.front() << " to " << design.seeds.back()
      << "), the same seeds for every cell and compensation. Two-way ANOVA with replication per compensation:\n\n";
  for (const auto& f : findings) {
    out << "### " << f.compensation << " compensation\n\n| source | sum of squares | df | mean square | F | p | eta2 |\n"
        << "|---|---|---|---|---|---|---|\n";
    for (const AnovaRow* row : {&f.anova.a, &f.anova.b, &f.anova.interaction, &f.anova.residual, &f.anova.total})
      out << "| " << row->source << " | " << detail::number(row->sum_sq, "%.6f") << " | " << detail::number(row->df, "%g")
          << " | " << detail::number(row->mean_sq, "%.6f") << " | "
          << (std::isnan(row->f) ? std::string() : detail::number(row->f, "%.3f")) << " | "
          << (std::isnan(row->p) ? std::string() : format_p(row->p).substr(2)) << " | "
          << detail::number(row->eta_sq, "%.3f") << " |\n";
    out << '\n';
  }
  if (!context.studies.empty()) {
    out << "## The notebook's study beside the grid\n\nA TPE search over the same space per compensation, every trial "
           "trained with the first seed (as the notebook does). fANOVA: the importance Optuna 3.1 gives mean and std "
           "(`FanovaImportanceEvaluator(seed=0)` on report.sqlite3; they sum to 1); beside it the grid's share of "
           "eta2, eta2(mean) / (eta2(mean) + eta2(std)), which asks the same question of the designed experiment.\n\n"
        << "| compensation | complete trials | best accuracy | at (mean, std) | fANOVA mean | fANOVA std | grid's share of mean |\n"
        << "|---|---|---|---|---|---|---|\n";
    for (const auto& s : context.studies) {
      const study::FrozenTrial* best = nullptr;
      int complete = 0;
      for (const auto& t : s.trials)
        if (t.state == study::TrialState::Complete && t.value) {
          ++complete;
          if (!best || *t.value > *best->value) best = &t;
        }
      const Importance* imp = nullptr;
      for (const auto& i : context.importances)
        if (i.compensation == s.compensation) imp = &i;
      double share = NAN;
      for (const auto& f : findings)
        if (f.compensation == s.compensation) share = f.anova.a.eta_sq / (f.anova.a.eta_sq + f.anova.b.eta_sq);
      out << "| " << s.compensation << " | " << complete << " | "
          << (best ? detail::number(*best->value, "%.4f") : std::string("-")) << " | "
          << (best ? "(" + detail::number(best->params.at(search::kMeanParam), "%.3f") + ", " +
                         detail::number(best->params.at(search::kStdParam), "%.3f") + ")"
                   : std::string("-"))
          << " | " << (imp ? detail::number(imp->mean, "%.3f") : std::string("-")) << " | "
          << (imp ? detail::number(imp->std, "%.3f") : std::string("-")) << " | " << detail::number(share, "%.3f")
          << " |\n";
    }
    out << '\n';
    if (context.importances.empty() && !context.importance_note.empty()) out << context.importance_note << "\n\n";
  }
  if (!context.images.empty()) {
    out << "## Pictures\n\n";
    for (const auto& row : context.images) {
      for (const auto& image : row) out << "![" << image << "](" << image << ")\n";
      out << '\n';
    }
  }
  std::size_t noise_seeds = 0;  // per point: every compensation and point has the same seeds
  uint64_t last_noise_seed = 0;
  for (const auto& r : noise)
    if (r.compensation == noise.front().compensation && r.mean == noise.front().mean && r.std == noise.front().std)
      ++noise_seeds, last_noise_seed = std::max(last_noise_seed, r.seed);
  out << "## How this was made\n\n- command: `" << context.command << "`\n- seeds (torch::manual_seed of each run): "
      << "grid " << design.seeds.front() << " to " << design.seeds.back();
  if (noise_seeds > 0) out << ", noise floor " << noise.front().seed << " to " << last_noise_seed;
  if (!context.studies.empty())
    out << ", TPE: sampler and every trial " << design.seeds.front();
  out << "\n- data: " << context.data
      << "\n- machine: `" << context.machine << "`\n- files: trials.csv (every grid run), noise_floor.csv, anova.csv, "
      << (context.studies.empty() ? "" : "tpe.csv (every TPE trial), ")
      << "report.sqlite3 (every run as a trial: Optuna reads it), report.html (this page, pictures inline)\n";
  detail::check_written(out, path);
}

}  // namespace normlab::report
