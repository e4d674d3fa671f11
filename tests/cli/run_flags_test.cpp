// normlab/cli/run_flags.hpp and study_flags.hpp: command-line flags bound to what they set.
#include <catch2/catch.hpp>
#include <normlab/cli/study_flags.hpp>

#include <string>
#include <vector>

using namespace normlab;

namespace {
// argv for CLI11 from words (the program name first).
struct Argv {
  std::vector<std::string> words;
  std::vector<char*> pointers;
  explicit Argv(std::vector<std::string> w) : words(std::move(w)) {
    for (auto& s : words) pointers.push_back(s.data());
  }
  int argc() const { return static_cast<int>(pointers.size()); }
  char** argv() { return pointers.data(); }
};
}  // namespace

TEST_CASE("run flags set the RunOptions fields they are bound to, and the last of a repeated flag wins", "[cli]") {
  CLI::App app{"test"};
  RunOptions o;
  cli::RunFlags f;
  cli::add_run_flags(app, o, f);
  Argv a({"prog", "--data", "x", "--data", "tests/data", "--dataset", "fashion-mnist", "--compensation", "exact",
          "--epochs", "3", "--train-limit", "100", "--test-limit", "50", "--threads", "1", "--seed", "7", "--batch",
          "32", "--test-batch", "500", "--device", "cpu"});
  CHECK_FALSE(cli::parse(app, a.argc(), a.argv()).has_value());
  CHECK(o.epochs == 3);
  CHECK(o.train_limit == 100);
  CHECK(o.test_limit == 50);
  CHECK(o.threads == 1);
  CHECK(o.seed == 7);
  CHECK(o.train_batch == 32);
  CHECK(o.test_batch == 500);
  CHECK(f.dataset == "fashion-mnist");
  CHECK(f.compensation == "exact");
  cli::apply(f, o);
  CHECK(o.data_root == "tests/data");
  CHECK(device::Named::select().is_cpu());
}

TEST_CASE("run flags refuse values out of range and unknown names, naming the flag", "[cli]") {
  auto error = [](std::vector<std::string> words) -> std::string {
    CLI::App app{"test"};
    RunOptions o;
    cli::RunFlags f;
    cli::add_run_flags(app, o, f);
    words.insert(words.begin(), "prog");
    Argv a(words);
    try {
      cli::parse(app, a.argc(), a.argv());
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  CHECK(error({"--epochs", "0"}) == "--epochs: Value 0 not in range 1 to 2147483647");
  CHECK(error({"--test-batch", "-1"}) == "--test-batch: Value -1 not in range 1 to 2147483647");
  CHECK(error({"--compensation", "Exact"}) == "--compensation: Exact not in {notebook,exact,none}");
  CHECK(error({"--dataset", "cifar"}) == "--dataset: cifar not in {mnist,fashion-mnist}");
  CHECK(error({"--mean", "0"}).find("--mean") != std::string::npos);  // not a run flag: unexpected
  CHECK(error({"--threads", "2"}).empty());
}

TEST_CASE("a profile presets only the flags not given, and --help returns its exit status", "[cli]") {
  CLI::App app{"test"};
  RunOptions o;
  cli::RunFlags f;
  cli::StudyFlags s;
  cli::add_run_flags(app, o, f);
  cli::add_study_flags(app, s);
  Argv a({"prog", "--epochs", "2", "--storage", "sqlite:///x.sqlite3", "--trials", "5", "--plot-dpi", "300"});
  REQUIRE_FALSE(cli::parse(app, a.argc(), a.argv()).has_value());
  cli::preset_unless_given(app, "--epochs", o.epochs, 25);
  cli::preset_unless_given(app, "--train-limit", o.train_limit, 0);
  cli::preset_unless_given(app, "--max-trials", s.max_trials, 200);
  CHECK(o.epochs == 2);       // given: kept
  CHECK(o.train_limit == 0);  // not given: the profile's
  CHECK(s.max_trials == 200);
  CHECK(s.trials == 5);
  CHECK(s.study.storage_url == "sqlite:///x.sqlite3");
  CHECK(s.study.direction == study::StudyDirection::Maximize);
  CHECK(s.plot_dpi == 300);

  CLI::App help{"test"};
  RunOptions o2;
  cli::RunFlags f2;
  cli::add_run_flags(help, o2, f2);
  Argv h({"prog", "--help"});
  const auto exit = cli::parse(help, h.argc(), h.argv());  // prints the help to stdout
  REQUIRE(exit.has_value());
  CHECK(*exit == 0);
}

TEST_CASE("the finite and seconds validators name what the flag expects", "[cli]") {
  std::string inf = "inf", nan = "nan", x = "0.5", zero = "0", big = "1e9", ok = "30";
  CHECK(cli::finite(inf) == "expects a finite number (got 'inf')");
  CHECK(cli::finite(nan) == "expects a finite number (got 'nan')");
  CHECK(cli::finite(x).empty());
  CHECK(cli::seconds(zero) == "expects seconds, > 0 and <= 1e8 (got '0')");
  CHECK(cli::seconds(big) == "expects seconds, > 0 and <= 1e8 (got '1e9')");
  CHECK(cli::seconds(ok).empty());
}

TEST_CASE("study flags: the budget over every worker, heartbeats, retries and the constant liar", "[cli]") {
  CLI::App app{"test"};
  cli::StudyFlags s;
  cli::add_study_flags(app, s);
  Argv plain({"prog"});
  REQUIRE_FALSE(cli::parse(app, plain.argc(), plain.argv()).has_value());
  CHECK(s.heartbeat == 5);
  CHECK_FALSE(s.retry_failed);
  CHECK_FALSE(cli::sampler_settings(s).tpe.constant_liar());  // the notebook's TPE unless asked
  const auto unbudgeted = cli::optimize_options(s);
  CHECK(unbudgeted.heartbeat_interval == 5.0);
  CHECK_FALSE(unbudgeted.max_trials.has_value());

  CLI::App app2{"test"};
  cli::StudyFlags t;
  cli::add_study_flags(app2, t);
  Argv a({"prog", "--max-trials", "8", "--trials", "20", "--heartbeat", "0.5", "--retry-failed", "--max-retry", "1",
          "--constant-liar"});
  REQUIRE_FALSE(cli::parse(app2, a.argc(), a.argv()).has_value());
  const auto run = cli::optimize_options(t);
  CHECK(run.max_trials == 8);
  CHECK((run.max_trials_states == std::vector<study::TrialState>{study::TrialState::Complete, study::TrialState::Running}));
  CHECK(run.heartbeat_interval == 0.5);
  CHECK(cli::sampler_settings(t).tpe.constant_liar());
  study::StudyOptions o;
  cli::apply(t, o);
  CHECK(o.retry_failed_trials);
  CHECK(o.max_retry == 1);

  // This worker's share of a study with 5 complete trials: --trials, but no more than the budget leaves.
  CHECK(cli::trials_to_run(t, 5, "test") == 3);
  t.max_trials = 5;
  CHECK(cli::trials_to_run(t, 5, "test", stdout) == 0);  // and says the study holds its budget
  t.max_trials = 0;
  CHECK(cli::trials_to_run(t, 5, "test") == 20);

  CLI::App app3{"test"};
  cli::StudyFlags u;
  cli::add_study_flags(app3, u);
  Argv bad({"prog", "--max-retry", "-1"});
  CHECK_THROWS_WITH(cli::parse(app3, bad.argc(), bad.argv()), Catch::Contains("--max-retry"));
}
