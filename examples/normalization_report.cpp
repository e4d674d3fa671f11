// The answer report: does the (mean, std) of Normalize matter beyond the seed noise? Trains the
// noise floor, a G x G grid with R seeds per cell and the notebook's TPE study for each
// compensation, runs a two-way ANOVA per compensation, asks Optuna 3.1 (Python, when installed)
// for its fANOVA importances of the TPE studies, and writes OUT/report.md and report.html,
// trials.csv, noise_floor.csv, anova.csv, tpe.csv and the pictures (docs/answer.md). A killed run
// continues where it stopped (OUT/report.sqlite3). Its last line is `verdict=<one sentence>`.

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sqlite3.h>
#include <sstream>
#include <unistd.h>
#include <normlab/cli/run_flags.hpp>
#include <normlab/device/cpu_kernels.hpp>
#include <normlab/device/openmp.hpp>
#include <normlab/normalization_report.hpp>
#include <normlab/report/html_page.hpp>
#include <normlab/report/report_files.hpp>
#include <normlab/report/report_pictures.hpp>

using namespace normlab;

/// Optuna's fANOVA importances of the report's TPE studies, from Python (scripts/interop/
/// fanova_importance.py); none, and `note` says why, when Python's optuna or sklearn is missing.
std::vector<report::Importance> optuna_importances(const std::string& url,
                                                   const std::vector<report::TpeStudy>& studies, std::string& note) {
  std::vector<report::Importance> out;
  std::string command = "/usr/bin/python3 '" NORMLAB_SOURCE_DIR "/scripts/interop/fanova_importance.py' '" + url + "'";
  for (const auto& s : studies) command += " '" + s.name + "'";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
  std::string text;
  char buffer[512];
  while (pipe && std::fgets(buffer, sizeof buffer, pipe.get())) text += buffer;
  const int status = pipe ? pclose(pipe.release()) : -1;
  if (status != 0) {
    std::string why = text.empty() ? command : text.substr(0, text.find('\n'));
    for (auto at = why.find(url); at != std::string::npos; at = why.find(url, at + 1))
      why.replace(at, url.size(), study::detail::redact_url(url));  // no password in report.md
    note = "Optuna's fANOVA importances: not computed (" + why + ").";
    return {};
  }
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {  // study,param,importance
    const auto a = line.find(','), b = line.rfind(',');
    if (a == std::string::npos || a == b) continue;
    const auto name = line.substr(0, a), param = line.substr(a + 1, b - a - 1);
    for (const auto& s : studies)
      if (s.name == name) {
        if (out.empty() || out.back().compensation != s.compensation) out.push_back({s.compensation});
        (param == search::kMeanParam ? out.back().mean : out.back().std) = std::stod(line.substr(b + 1));
      }
  }
  return out;
}

int main(int argc, char** argv) try {
  device::prefer_passive_openmp(argv);  // idle OpenMP threads sleep: fast on a busy machine
  CLI::App app{"Whether input normalization matters, with its noise floor: an ANOVA over a grid of (mean, std).",
               "normalization_report"};
  cli::prepare(app);
  ReportOptions o;
  cli::RunFlags flags;
  std::string profile = "quick", out = "report";
  cli::add_data_flags(app, flags);
  cli::add_training_flags(app, o.base);
  app.add_option("--profile", profile, "smoke (under a minute) | quick (G 5, R 3, N 8, TPE 16, 1 epoch on 4,000 / 1,000 images) | "
                 "notebook (G 10, R 5, N 20, TPE 200, 25 epochs, all data); flags given win over the profile")
      ->check(CLI::IsMember({"smoke", "quick", "notebook"}));
  app.add_option("--out", out, "the report's folder (created; a report already there is continued)");
  app.add_option("--storage", o.storage_url, "where the runs are stored (default: sqlite:///OUT/report.sqlite3); "
                 "every process given the same storage shares the runs, e.g. postgresql://USER@HOST:PORT/DB");
  app.add_option("--heartbeat", o.heartbeat, "seconds between heartbeats of a run; a run silent for 2x this belongs "
                 "to a worker that died and is run again")->check(cli::seconds);
  app.add_option("--grid", o.grid, "G: levels of mean and of std")->check(CLI::Range(2, 100));
  app.add_option("--seeds", o.seeds, "R: seeds per grid cell")->check(CLI::Range(2, 1000));
  app.add_option("--noise-seeds", o.noise_seeds, "N: seeds of each noise-floor point")->check(CLI::Range(2, 10000));
  app.add_option("--tpe-trials", o.tpe_trials, "complete trials of each compensation's TPE study (0: none)")
      ->check(CLI::Range(0, 100000));
  app.add_option("--compensations", o.compensations, "which compensations, comma-separated: notebook,exact,none")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->check(CLI::IsMember(policy_name_list<compensate::Notebook, compensate::Exact, compensate::None>()));
  app.add_option("--seed", o.first_seed, "the first seed: runs use seed, seed + 1, ...");
  if (auto exit = cli::parse(app, argc, argv)) return *exit;
  struct Profile { int grid, seeds, noise_seeds, tpe_trials, epochs; long long train, test; };
  const Profile p = profile == "smoke" ? Profile{2, 2, 2, 3, 1, 256, 200}
                  : profile == "quick" ? Profile{5, 3, 8, 16, 1, 4000, 1000}
                                       : Profile{10, 5, 20, 200, 25, 0, 0};
  cli::preset_unless_given(app, "--grid", o.grid, p.grid);
  cli::preset_unless_given(app, "--seeds", o.seeds, p.seeds);
  cli::preset_unless_given(app, "--noise-seeds", o.noise_seeds, p.noise_seeds);
  cli::preset_unless_given(app, "--tpe-trials", o.tpe_trials, p.tpe_trials);
  cli::preset_unless_given(app, "--epochs", o.base.epochs, p.epochs);
  cli::preset_unless_given(app, "--train-limit", o.base.train_limit, p.train);
  cli::preset_unless_given(app, "--test-limit", o.base.test_limit, p.test);
  cli::apply(flags, o.base);  // data root; the device, refused before any work when unusable
  o.out = out;
  device::set_threads(o.base.threads);
  const auto data = data::load_by_name(flags.dataset, o.base.data_root);
  std::cerr << "normalization_report: " << flags.dataset << ", grid " << o.grid << "x" << o.grid << " x " << o.seeds
            << " seeds, noise floor " << o.noise_seeds << " seeds, TPE " << o.tpe_trials << " trials, "
            << o.base.epochs << " epoch(s) on "
            << data.train.first(o.base.train_limit).size() << "/" << data.test.first(o.base.test_limit).size()
            << " images, device " << device::Named::select().str() << ", into " << out << "\n";

  const auto r = run_normalization_report<device::Named>(o, data);

  report::ReportContext context;
  // The files are written into a folder of this process and then renamed into OUT one by one, so
  // that workers finishing together (--storage) never leave a file half written by two of them.
  const auto staging = o.out / (".staging-" + std::to_string(getpid()));
  std::filesystem::create_directories(staging);
  context.images = report::write_report_pictures(staging, r.design, r.grid, r.noise, o.compensations, r.studies);
  context.studies = r.studies;
  const std::string url = o.storage_url.empty() ? "sqlite:///" + (o.out / "report.sqlite3").string() : o.storage_url;
  if (!r.studies.empty()) context.importances = optuna_importances(url, r.studies, context.importance_note);
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + study::detail::redact_url(argv[i]);  // no password
  report::write_runs_csv(staging / "trials.csv", r.grid);
  report::write_runs_csv(staging / "noise_floor.csv", r.noise);
  report::write_anova_csv(staging / "anova.csv", r.findings);
  report::write_tpe_csv(staging / "tpe.csv", r.studies);
  context.command = command;
  context.machine = device::kernels_line() + " sqlite=" + sqlite3_libversion() + " normlab=" NORMLAB_VERSION;
  context.data = flags.dataset + ", " + std::to_string(data.train.first(o.base.train_limit).size()) + " / " +
                 std::to_string(data.test.first(o.base.test_limit).size()) + " images, " +
                 std::to_string(o.base.epochs) + " epoch(s)";
  report::write_report_markdown(staging / "report.md", r.design, r.noise, r.findings, context);
  report::write_html_page(staging / "report.md", staging / "report.html", "normlab: does input normalization matter?");
  for (const auto& file : std::filesystem::directory_iterator(staging))
    std::filesystem::rename(file.path(), o.out / file.path().filename());
  std::filesystem::remove(staging);
  std::cerr << "normalization_report: wrote " << (o.out / "report.md").string()
            << " (and report.html), trials.csv, noise_floor.csv, anova.csv, tpe.csv\n";
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
