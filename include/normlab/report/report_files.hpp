#pragma once
// The answer report's files: the runs as CSV (trials.csv, noise_floor.csv), the ANOVA tables
// (anova.csv), and report.md, which a person reads: the verdict, the tables, the pictures, and
// what produced them (the command, the machine, the seeds). Plain text, written with fixed
// formats, so that two runs with the same seeds give byte-identical files.

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "normlab/report/grid_design.hpp"
#include "normlab/report/study_summary.hpp"
#include "normlab/report/verdict.hpp"

namespace normlab::report {

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

/// What report.md says besides the numbers: how it was made.
struct ReportContext {
  std::string command;     ///< the exact command line
  std::string machine;     ///< CPU, BLAS core, threads, library versions (device::kernels_line())
  std::string data;        ///< dataset, images, epochs
  std::vector<std::string> images;  ///< pictures beside report.md, shown in this order
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
      << " seeds) gives p < 0.01; eta2 is the share of the accuracy's variance it explains.\n\n";
  out << "## Noise floor\n\nThe same (mean, std), trained with different seeds:\n\n";
  out << "| compensation | (mean, std) | seeds | mean accuracy | sd | min | max |\n|---|---|---|---|---|---|---|\n";
  for (const auto& f : findings)
    for (auto [m, s] : {std::pair{0.1307, 0.3081}, std::pair{0.0, 1.0}}) {
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
  if (!context.images.empty()) {
    out << "## Pictures\n\n";
    for (const auto& image : context.images) out << "![" << image << "](" << image << ")\n\n";
  }
  out << "## How this was made\n\n- command: `" << context.command << "`\n- data: " << context.data
      << "\n- machine: `" << context.machine << "`\n- files: trials.csv (every grid run), noise_floor.csv, anova.csv, "
      << "report.sqlite3 (every run as a trial: Optuna reads it)\n";
  detail::check_written(out, path);
}

}  // namespace normlab::report
