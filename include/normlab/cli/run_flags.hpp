#pragma once
// Command-line flags for a program that trains a Pipeline, with CLI11 (Debian: libcli11-dev; this
// header needs it on the include path, the rest of normlab does not). Each flag is bound to the
// RunOptions field it sets, so a program declares no flag by hand and copies no value:
//
//   CLI::App app{"..."};
//   RunOptions o;
//   cli::RunFlags f;
//   cli::add_run_flags(app, o, f);
//   if (auto exit = cli::parse(app, argc, argv)) return *exit;
//   cli::apply(f, o);   // data root, device
//
// Numbers out of their range are refused before any work, naming the flag:
// "--epochs: Value 0 not in range 1 to 2147483647".

#include <CLI/CLI.hpp>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

#include "normlab/choose.hpp"
#include "normlab/compensate/compensate.hpp"
#include "normlab/data/mnist.hpp"
#include "normlab/device/device.hpp"
#include "normlab/device/openmp.hpp"
#include "normlab/study/url_password.hpp"
#include "normlab/train/run.hpp"

namespace normlab::cli {

/// A finite number ("inf" and "nan" mean nothing a flag asks for).
inline const CLI::Validator finite(
    [](std::string& s) {
      char* end = nullptr;
      const double x = std::strtod(s.c_str(), &end);
      return !s.empty() && *end == '\0' && std::isfinite(x) ? std::string() : "expects a finite number (got '" + s + "')";
    },
    "FINITE");

/// Seconds, > 0 and <= 1e8.
inline const CLI::Validator seconds(
    [](std::string& s) {
      char* end = nullptr;
      const double x = std::strtod(s.c_str(), &end);
      return !s.empty() && *end == '\0' && x > 0 && x <= 1e8 ? std::string()
                                                             : "expects seconds, > 0 and <= 1e8 (got '" + s + "')";
    },
    "SECONDS");

/// What the run flags hold besides RunOptions' own fields.
struct RunFlags {
  std::string data_root = "data";
  std::string dataset = "mnist";        ///< a Dataset policy's name (data::Mnist, data::FashionMnist)
  std::string compensation = "notebook";  ///< a Compensation policy's name
  std::string device = "auto";          ///< cpu | cuda | cuda:N | auto
};

/// A repeated flag takes its last value (as the examples always did); defaults show in --help.
inline void prepare(CLI::App& app) {
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
}

/// --data, --dataset and --device: where the images come from and where they train.
inline void add_data_flags(CLI::App& app, RunFlags& f) {
  app.add_option("--data", f.data_root, "data root (DIR/MNIST/raw, DIR/FashionMNIST/raw)");
  app.add_option("--dataset", f.dataset, "which data set")
      ->check(CLI::IsMember(policy_name_list<data::Mnist, data::FashionMnist>()));
  app.add_option("--device", f.device, "cpu | cuda | cuda:N | auto (cuda:0 when a GPU is visible, else cpu)");
}

/// --epochs, --train-limit, --test-limit, --threads, --batch and --test-batch: how long and on how
/// much each run trains, bound to `o`. The thread count defaults to this machine's cores.
inline void add_training_flags(CLI::App& app, RunOptions& o) {
  o.threads = device::default_threads();
  app.add_option("--epochs", o.epochs, "training epochs")->check(CLI::Range(1, INT_MAX));
  app.add_option("--train-limit", o.train_limit, "train on the first K images (0: all)")->check(CLI::Range(0LL, LLONG_MAX));
  app.add_option("--test-limit", o.test_limit, "test on the first K images (0: all)")->check(CLI::Range(0LL, LLONG_MAX));
  app.add_option("--threads", o.threads, "intra-op threads (default: this machine's cores)")->check(CLI::Range(0, 4096));
  app.add_option("--batch", o.train_batch, "training batch size")->check(CLI::Range(int64_t{1}, int64_t{INT_MAX}));
  app.add_option("--test-batch", o.test_batch, "test batch size")->check(CLI::Range(int64_t{1}, int64_t{INT_MAX}));
}

/// The data and training flags, --compensation and --seed: everything one run of a Pipeline takes.
inline void add_run_flags(CLI::App& app, RunOptions& o, RunFlags& f) {
  prepare(app);
  add_data_flags(app, f);
  add_training_flags(app, o);
  app.add_option("--compensation", f.compensation, "how conv1 is compensated for (mean, std)")
      ->check(CLI::IsMember(policy_name_list<compensate::Notebook, compensate::Exact, compensate::None>()));
  app.add_option("--seed", o.seed, "torch::manual_seed of every run");
}

/// Parses argv; `--help` prints the help: returns the exit status then, nullopt otherwise. A bad
/// flag throws CLI::ParseError (a std::exception) with CLI11's sentence naming the flag. Once
/// parsed, a password in a storage URL is overwritten in argv (study::detail::hide_url_passwords).
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  for (auto* option : app.get_options()) option->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  }
  study::detail::hide_url_passwords(argc, argv);  // parsed: `ps` need not show a storage password
  return std::nullopt;
}

/// Sets `value` to a profile's `preset` unless `flag` was given on the command line: a profile
/// fills in what the command line leaves out, and never overrides a given flag.
template <class T, class U>
void preset_unless_given(const CLI::App& app, const char* flag, T& value, U preset) {
  if (app.count(flag) == 0) value = static_cast<T>(preset);
}

/// Applies what the flags chose that RunOptions does not hold itself: the data root, and the device
/// (device::Named::use, refused before any work when this process cannot use it).
inline void apply(const RunFlags& f, RunOptions& o) {
  o.data_root = f.data_root;
  device::Named::use(device::parse(f.device));
}

}  // namespace normlab::cli
