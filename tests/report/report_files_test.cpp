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
                                 {"contour-exact.png"}});
  const auto md = read(dir.path / "report.md");
  CHECK(md.find("- " + report::sentence(f) + ".\n") != std::string::npos);
  CHECK(md.find("| exact | (0.1307, 0.3081) | 2 | 0.9100 | 0.0100 | 0.9000 | 0.9200 |") != std::string::npos);
  CHECK(md.find("| exact | (0, 1) | 2 | 0.8200 | 0.0200 | 0.8000 | 0.8400 |") != std::string::npos);
  CHECK(md.find("### exact compensation") != std::string::npos);
  CHECK(md.find("![contour-exact.png](contour-exact.png)") != std::string::npos);
  CHECK(md.find("- command: `normalization_report --profile smoke`") != std::string::npos);
  CHECK_THROWS_WITH(report::write_runs_csv(dir.path / "no" / "such" / "dir.csv", {}),
                    Catch::Contains("cannot write"));
}
