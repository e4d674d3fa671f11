// normlab/report/report_files.hpp: the report's CSV and Markdown files.
#include <catch2/catch.hpp>
#include <fstream>
#include <normlab/report/report_files.hpp>
#include <sstream>

#include "../temp_dir.hpp"

using namespace normlab;

namespace {
std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("the runs' CSV has the contract's columns and round-trips mean and std exactly", "[report][files]") {
  normlab::testing::TempDir dir("normlab_report_files");
  const double std = 0.1 * std::pow(20.0, 1.0 / 3);
  report::write_runs_csv(dir.path / "trials.csv", {{"exact", 3, -1.5, std, 0.8125, 65, 80, false},
                                                   {"notebook", 4, 3.0, 2.0, 0.1, 0, 80, true}});
  const auto text = read(dir.path / "trials.csv");
  CHECK(text.rfind("compensation,seed,mean,std,accuracy,correct,total,diverged\n", 0) == 0);
  CHECK(text.find("\nnotebook,4,3,2,0.10000000000000001,0,80,1\n") != std::string::npos);
  const auto second_line = text.substr(text.find('\n') + 1);
  const auto fields_start = second_line.find(",-1.5,") + 6;
  CHECK(std::stod(second_line.substr(fields_start, second_line.find(',', fields_start) - fields_start)) == std);
}

TEST_CASE("anova.csv and report.md carry the tables, the verdict and how they were made", "[report][files]") {
  normlab::testing::TempDir dir("normlab_report_md");
  std::vector<std::vector<std::vector<double>>> y = {{{0.9, 0.91}, {0.88, 0.9}}, {{0.2, 0.25}, {0.3, 0.22}}};
  const auto f = report::find("exact", y);
  const auto design = report::notebook_grid(2, 2);
  report::write_anova_csv(dir.path / "anova.csv", {f});
  const auto csv = read(dir.path / "anova.csv");
  CHECK(csv.rfind("compensation,source,sum_sq,df,mean_sq,F,p,eta_sq\nexact,mean,", 0) == 0);
  CHECK(csv.find("\nexact,residual,") != std::string::npos);
  CHECK(csv.find(",nan,nan,") != std::string::npos);  // the residual row has no F or p
  const std::vector<report::GridRun> noise = {{"exact", 1, 0.1307, 0.3081, 0.9}, {"exact", 2, 0.1307, 0.3081, 0.92},
                                              {"exact", 1, 0.0, 1.0, 0.8}, {"exact", 2, 0.0, 1.0, 0.84}};
  report::write_report_markdown(dir.path / "report.md", design, noise, {f},
                                {"normalization_report --profile smoke", "kernels: x", "mnist, 4 / 4 images, 1 epoch(s)",
                                 {{"contour-exact.png", "contour-none.png"}, {"noise_floor.png"}}});
  const auto md = read(dir.path / "report.md");
  CHECK(md.find("- " + report::sentence(f) + ".\n") != std::string::npos);
  CHECK(md.find("| exact | (0.1307, 0.3081) | 2 | 0.9100 | 0.0100 | 0.9000 | 0.9200 |") != std::string::npos);
  CHECK(md.find("| exact | (0, 1) | 2 | 0.8200 | 0.0200 | 0.8000 | 0.8400 |") != std::string::npos);
  CHECK(md.find("### exact compensation") != std::string::npos);
  // Pictures of one row are one paragraph (side by side in report.html).
  CHECK(md.find("![contour-exact.png](contour-exact.png)\n![contour-none.png](contour-none.png)\n\n"
                "![noise_floor.png](noise_floor.png)\n") != std::string::npos);
  CHECK(md.find("The notebook's study") == std::string::npos);  // no TPE studies given
  CHECK(md.find("- command: `normalization_report --profile smoke`\n- seeds (torch::manual_seed of each run): grid 1 to 2, "
                "noise floor 1 to 2\n") != std::string::npos);
  CHECK_THROWS_WITH(report::write_runs_csv(dir.path / "no" / "such" / "dir.csv", {}),
                    Catch::Contains("cannot write"));
}

TEST_CASE("the TPE studies go to tpe.csv and beside the grid in report.md, with Optuna's fANOVA", "[report][files]") {
  normlab::testing::TempDir dir("normlab_report_tpe");
  auto trial = [](int64_t number, double mean, double std, std::optional<double> value, study::TrialState state) {
    study::FrozenTrial t;
    t.number = number;
    t.state = state;
    t.params = search::normalization_params(mean, std);
    t.value = value;
    return t;
  };
  const std::vector<report::TpeStudy> studies = {
      {"exact", "report-tpe-exact",
       {trial(0, 0.5, 1.0, 0.8, study::TrialState::Complete), trial(1, -2.0, 0.2, 0.9, study::TrialState::Complete),
        trial(2, 1.0, 0.5, std::nullopt, study::TrialState::Fail)}}};
  report::write_tpe_csv(dir.path / "tpe.csv", studies);
  CHECK(read(dir.path / "tpe.csv") ==
        "compensation,number,state,mean,std,accuracy\nexact,0,COMPLETE,0.5,1,0.80000000000000004\n"
        "exact,1,COMPLETE,-2,0.20000000000000001,0.90000000000000002\nexact,2,FAIL,1,0.5,\n");

  std::vector<std::vector<std::vector<double>>> y = {{{0.9, 0.91}, {0.88, 0.9}}, {{0.2, 0.25}, {0.3, 0.22}}};
  const auto f = report::find("exact", y);
  report::ReportContext context{"cmd", "kernels: x", "mnist"};
  context.studies = studies;
  context.importances = {{"exact", 0.75, 0.25}};
  report::write_report_markdown(dir.path / "report.md", report::notebook_grid(2, 2), {}, {f}, context);
  const auto md = read(dir.path / "report.md");
  char share[32];
  std::snprintf(share, sizeof share, "%.3f", f.anova.a.eta_sq / (f.anova.a.eta_sq + f.anova.b.eta_sq));
  CHECK(md.find("| exact | 2 | 0.9000 | (-2.000, 0.200) | 0.750 | 0.250 | " + std::string(share) + " |") !=
        std::string::npos);

  SECTION("without Optuna's numbers, report.md says why") {
    context.importances.clear();
    context.importance_note = "Optuna's fANOVA importances: not computed (no sklearn).";
    report::write_report_markdown(dir.path / "report.md", report::notebook_grid(2, 2), {}, {f}, context);
    const auto without = read(dir.path / "report.md");
    CHECK(without.find("| exact | 2 | 0.9000 | (-2.000, 0.200) | - | - | ") != std::string::npos);
    CHECK(without.find("not computed (no sklearn).") != std::string::npos);
  }
}
