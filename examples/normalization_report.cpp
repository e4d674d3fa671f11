// The answer report: does the (mean, std) of Normalize matter beyond the seed noise? Trains the
// noise floor and a G x G grid with R seeds per cell for each compensation, runs a two-way ANOVA
// per compensation and writes OUT/report.md, trials.csv, noise_floor.csv, anova.csv and the
// contour pictures (docs/answer.md). A killed run continues where it stopped (OUT/report.sqlite3).
// Its last line is `verdict=<one sentence>`.

#include <CLI/CLI.hpp>
#include <climits>
#include <iostream>
#include <normlab/device/cpu_kernels.hpp>
#include <normlab/device/openmp.hpp>
#include <normlab/normalization_report.hpp>
#include <normlab/report/report_files.hpp>
#if NORMLAB_HAVE_PLOT
#include <normlab/plot/contour.hpp>
#endif

using namespace normlab;

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  CLI::App app{"Whether input normalization matters, with its noise floor: an ANOVA over a grid of (mean, std).",
               "normalization_report"};
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a repeated flag: the last wins
  ReportOptions o;
  o.base.threads = device::default_threads();
  std::string profile = "quick", data_root = "data", dataset = "mnist", out = "report", device_name = "auto";
  app.add_option("--data", data_root, "data root (DIR/MNIST/raw, DIR/FashionMNIST/raw)");
  app.add_option("--dataset", dataset, "which data set")->check(CLI::IsMember(policy_name_list<data::Mnist, data::FashionMnist>()));
  app.add_option("--profile", profile, "smoke (under a minute) | quick (G 5, R 3, 2 epochs on 4,000 / 1,000 images) | "
                 "notebook (G 10, R 5, 25 epochs, all data); flags given win over the profile")
      ->check(CLI::IsMember({"smoke", "quick", "notebook"}));
  app.add_option("--out", out, "the report's folder (created; a report already there is continued)");
  app.add_option("--grid", o.grid, "G: levels of mean and of std")->check(CLI::Range(2, 100));
  app.add_option("--seeds", o.seeds, "R: seeds per grid cell")->check(CLI::Range(2, 1000));
  app.add_option("--noise-seeds", o.noise_seeds, "N: seeds of each noise-floor point")->check(CLI::Range(2, 10000));
  app.add_option("--epochs", o.base.epochs, "epochs per run")->check(CLI::Range(1, INT_MAX));
  app.add_option("--train-limit", o.base.train_limit, "first K training images (0: all)")->check(CLI::Range(0LL, LLONG_MAX));
  app.add_option("--test-limit", o.base.test_limit, "first K test images (0: all)")->check(CLI::Range(0LL, LLONG_MAX));
  app.add_option("--compensations", o.compensations, "which compensations, comma-separated: notebook,exact,none")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->check(CLI::IsMember(policy_name_list<compensate::Notebook, compensate::Exact, compensate::None>()));
  app.add_option("--threads", o.base.threads, "intra-op threads (default: this machine's cores)")->check(CLI::Range(0, 4096));
  app.add_option("--seed", o.first_seed, "the first seed: runs use seed, seed + 1, ...");
  app.add_option("--device", device_name, "cpu | cuda | cuda:N | auto (cuda:0 when a GPU is visible, else cpu)");
  for (auto* opt : app.get_options()) opt->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  }
  struct Profile { int grid, seeds, noise_seeds, epochs; long long train, test; };
  const Profile p = profile == "smoke" ? Profile{2, 2, 2, 1, 256, 200}
                  : profile == "quick" ? Profile{5, 3, 10, 2, 4000, 1000}
                                       : Profile{10, 5, 20, 25, 0, 0};
  auto fill = [&](const char* flag, auto& value, auto from_profile) { if (app.count(flag) == 0) value = from_profile; };
  fill("--grid", o.grid, p.grid), fill("--seeds", o.seeds, p.seeds), fill("--noise-seeds", o.noise_seeds, p.noise_seeds);
  fill("--epochs", o.base.epochs, p.epochs), fill("--train-limit", o.base.train_limit, p.train);
  fill("--test-limit", o.base.test_limit, p.test);
  device::Named::use(device::parse(device_name));  // refused before any work when unusable
  o.out = out;
  o.base.data_root = data_root;
  device::set_threads(o.base.threads);
  const auto data = data::load_by_name(dataset, o.base.data_root);
  std::cerr << "normalization_report: " << dataset << ", grid " << o.grid << "x" << o.grid << " x " << o.seeds
            << " seeds, noise floor " << o.noise_seeds << " seeds, " << o.base.epochs << " epoch(s) on "
            << data.train.first(o.base.train_limit).size() << "/" << data.test.first(o.base.test_limit).size()
            << " images, device " << device::Named::select().str() << ", into " << out << "\n";

  const auto r = run_normalization_report<device::Named>(o, data);

  std::vector<std::string> images;
#if NORMLAB_HAVE_PLOT
  // One contour per compensation of the cell means, all on one colour scale.
  double lo = 1, hi = 0;
  for (const auto& run : r.grid) lo = std::min(lo, run.accuracy), hi = std::max(hi, run.accuracy);
  for (const auto& f : r.findings) {
    const auto y = report::grid_cells(r.design, r.grid, f.compensation);
    std::vector<study::FrozenTrial> cells;
    for (std::size_t i = 0; i < r.design.means.size(); ++i)
      for (std::size_t j = 0; j < r.design.stds.size(); ++j) {
        study::FrozenTrial t;
        t.number = static_cast<int64_t>(cells.size());
        t.state = study::TrialState::Complete;
        t.params = search::normalization_params(r.design.means[i], r.design.stds[j]);
        t.distributions = {{search::kMeanParam, search::FloatDistribution{-3, 3}},
                           {search::kStdParam, search::FloatDistribution{0.1, 2, true}}};
        t.value = report::spread_of(y[i][j]).mean;
        cells.push_back(t);
      }
    plot::ContourOptions c;
    c.direction = study::StudyDirection::Maximize;
    c.target_name = "Accuracy";
    c.title = f.compensation + " compensation: mean accuracy of " + std::to_string(r.design.seeds.size()) + " seeds";
    c.value_range = std::pair{lo, hi};
    const std::string name = "contour-" + f.compensation + ".png";
    plot::plot_contour(cells, search::kMeanParam, search::kStdParam, (o.out / name).string(), c);
    images.push_back(name);
  }
#endif
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  report::write_runs_csv(o.out / "trials.csv", r.grid);
  report::write_runs_csv(o.out / "noise_floor.csv", r.noise);
  report::write_anova_csv(o.out / "anova.csv", r.findings);
  report::write_report_markdown(o.out / "report.md", r.design, r.noise, r.findings,
                                {command, device::kernels_line(),
                                 dataset + ", " + std::to_string(data.train.first(o.base.train_limit).size()) + " / " +
                                     std::to_string(data.test.first(o.base.test_limit).size()) + " images, " +
                                     std::to_string(o.base.epochs) + " epoch(s)",
                                 images});
  std::cerr << "normalization_report: wrote " << (o.out / "report.md").string() << ", trials.csv, noise_floor.csv, anova.csv\n";
  std::cout << "verdict=" << r.verdict << "\n";
  return 0;
} catch (const Interrupted& e) {
  std::cerr << "normalization_report: " << e.what() << ": the finished runs are in the report's folder; "
               "run the same command to continue\n";
  return e.exit_code();
} catch (const std::exception& e) {
  std::cerr << "normalization_report: error: " << e.what() << "\n";
  return 1;
}
