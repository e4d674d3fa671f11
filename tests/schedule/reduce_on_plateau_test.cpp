// normlab::schedule::ReduceLROnPlateau against torch.optim.lr_scheduler.ReduceLROnPlateau
// (PyTorch 1.13): tests/golden/reduce_on_plateau.txt, written by scripts/golden/optim_golden.py.
// Every learning rate, best value and counter must be equal bit for bit.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "normlab/optim/adadelta.hpp"
#include "normlab/schedule/reduce_on_plateau.hpp"

using normlab::schedule::PlateauMode;
using normlab::schedule::ReduceLROnPlateau;
using normlab::schedule::ReduceLROnPlateauOptions;
using normlab::schedule::ThresholdMode;

namespace {

struct PlateauStep {
  double best = 0;
  int64_t num_bad_epochs = 0;
  int64_t cooldown_counter = 0;
  std::vector<double> lrs;
};

struct PlateauConfig {
  std::string name;
  std::map<std::string, std::string> fields;
  std::vector<double> metrics;
  std::vector<PlateauStep> steps;
};

double parse_double(const std::string& text) { return std::strtod(text.c_str(), nullptr); }

std::vector<double> parse_list(const std::string& text) {
  std::vector<double> values;
  std::istringstream items(text);
  for (std::string item; std::getline(items, item, ',');) values.push_back(parse_double(item));
  return values;
}

std::vector<PlateauConfig> read_golden() {
  std::ifstream in(std::string(NORMLAB_GOLDEN_DIR) + "/reduce_on_plateau.txt");
  REQUIRE(in.good());
  std::vector<PlateauConfig> configs;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream tokens(line);
    std::string kind;
    if (!(tokens >> kind) || kind[0] == '#') continue;
    if (kind == "config") {
      PlateauConfig config;
      tokens >> config.name;
      for (std::string field; tokens >> field;) {
        const auto eq = field.find('=');
        config.fields[field.substr(0, eq)] = field.substr(eq + 1);
      }
      configs.push_back(std::move(config));
    } else if (kind == "metrics") {
      for (std::string value; tokens >> value;) configs.back().metrics.push_back(parse_double(value));
    } else if (kind == "step") {
      PlateauStep step;
      std::string k, best;
      tokens >> k >> best >> step.num_bad_epochs >> step.cooldown_counter;
      step.best = parse_double(best);
      for (std::string lr; tokens >> lr;) step.lrs.push_back(parse_double(lr));
      configs.back().steps.push_back(std::move(step));
    }
  }
  return configs;
}

ReduceLROnPlateauOptions options_from(const PlateauConfig& config) {
  const auto& f = config.fields;
  ReduceLROnPlateauOptions options;
  options.mode(f.at("mode") == "min" ? PlateauMode::min : PlateauMode::max)
      .threshold_mode(f.at("threshold_mode") == "rel" ? ThresholdMode::rel : ThresholdMode::abs)
      .factor(parse_double(f.at("factor")))
      .patience(std::stoll(f.at("patience")))
      .threshold(parse_double(f.at("threshold")))
      .cooldown(std::stoll(f.at("cooldown")))
      .eps(parse_double(f.at("eps")));
  if (f.count("min_lr_list"))
    options.min_lr(parse_list(f.at("min_lr_list")));
  else
    options.min_lr(parse_double(f.at("min_lr")));
  return options;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

enum class Driven { sgd, adadelta };

// One parameter group per lr0 entry, as in the script.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(Driven kind, const std::vector<double>& lr0,
                                                        std::vector<torch::Tensor>& params) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (double lr : lr0) {
    params.push_back(torch::zeros({1}, torch::requires_grad()));
    if (kind == Driven::sgd)
      groups.emplace_back(std::vector<torch::Tensor>{params.back()},
                          std::make_unique<torch::optim::SGDOptions>(lr));
    else
      groups.emplace_back(std::vector<torch::Tensor>{params.back()},
                          std::make_unique<normlab::optim::AdadeltaOptions>(lr));
  }
  if (kind == Driven::sgd)
    return std::make_unique<torch::optim::SGD>(std::move(groups), torch::optim::SGDOptions(lr0[0]));
  return std::make_unique<normlab::optim::Adadelta>(std::move(groups),
                                                    normlab::optim::AdadeltaOptions(lr0[0]));
}

}  // namespace

TEST_CASE("ReduceLROnPlateau: every step equals torch's bit for bit, driving SGD and Adadelta",
          "[schedule][plateau][golden]") {
  const auto configs = read_golden();
  REQUIRE(configs.size() >= 20);
  const Driven kind = GENERATE(Driven::sgd, Driven::adadelta);
  int64_t steps_compared = 0, lr_values_compared = 0;
  for (const auto& config : configs) {
    INFO("config " << config.name << (kind == Driven::sgd ? " (SGD)" : " (Adadelta)"));
    std::vector<torch::Tensor> params;
    const auto lr0 = parse_list(config.fields.at("lr0"));
    auto optimizer = make_optimizer(kind, lr0, params);
    ReduceLROnPlateau scheduler(*optimizer, options_from(config));
    REQUIRE(config.metrics.size() == config.steps.size());
    for (std::size_t k = 0; k < config.metrics.size(); ++k) {
      INFO("step " << k + 1 << ", metric " << config.metrics[k]);
      scheduler.step(config.metrics[k]);
      const PlateauStep& expected = config.steps[k];
      REQUIRE(scheduler.last_epoch() == static_cast<int64_t>(k + 1));
      REQUIRE(same_bits(scheduler.best(), expected.best));
      REQUIRE(scheduler.num_bad_epochs() == expected.num_bad_epochs);
      REQUIRE(scheduler.cooldown_counter() == expected.cooldown_counter);
      REQUIRE(scheduler.last_lr().size() == expected.lrs.size());
      for (std::size_t g = 0; g < expected.lrs.size(); ++g) {
        INFO("group " << g << ": " << scheduler.last_lr()[g] << " vs torch " << expected.lrs[g]);
        REQUIRE(same_bits(scheduler.last_lr()[g], expected.lrs[g]));
        // The optimizer itself holds the new lr (this is what its next step() will use).
        REQUIRE(same_bits(optimizer->param_groups()[g].options().get_lr(), expected.lrs[g]));
        ++lr_values_compared;
      }
      ++steps_compared;
    }
  }
  if (std::getenv("NORMLAB_VERBOSE"))
    std::cout << "reduce_on_plateau golden (" << (kind == Driven::sgd ? "SGD" : "Adadelta")
              << "): " << configs.size() << " configs, " << steps_compared << " steps, "
              << lr_values_compared << " lrs, all bit-identical\n";
}

TEST_CASE("ReduceLROnPlateau: the notebook's case ends at 0.010000000000000002",
          "[schedule][plateau]") {
  auto w = torch::zeros({1}, torch::requires_grad());
  normlab::optim::Adadelta optimizer({w}, normlab::optim::AdadeltaOptions(1.0));
  ReduceLROnPlateau scheduler(optimizer, ReduceLROnPlateauOptions().mode(PlateauMode::max));
  const std::vector<double> accuracy = {0.9, 0.95, 0.97};
  for (int epoch = 1; epoch <= 25; ++epoch) {
    scheduler.step(epoch <= 3 ? accuracy[epoch - 1] : 0.97);
    if (epoch < 14) CHECK(scheduler.last_lr()[0] == 1.0);
    if (epoch >= 14 && epoch < 25) CHECK(scheduler.last_lr()[0] == 0.1);
  }
  CHECK(scheduler.last_lr()[0] == 0.010000000000000002);
  CHECK(static_cast<normlab::optim::AdadeltaOptions&>(optimizer.param_groups()[0].options()).lr() ==
        0.010000000000000002);
}

TEST_CASE("ReduceLROnPlateau: the reduced lr drives the next optimizer step",
          "[schedule][plateau]") {
  // SGD without momentum: w -= lr * grad, so the step size shows the lr in use.
  auto w = torch::zeros({1}, torch::requires_grad());
  torch::optim::SGD sgd({w}, torch::optim::SGDOptions(1.0));
  ReduceLROnPlateau scheduler(sgd, ReduceLROnPlateauOptions().patience(0).factor(0.5));
  scheduler.step(1.0);  // improvement on +inf
  scheduler.step(1.0);  // one bad epoch > patience 0: lr 1.0 -> 0.5
  REQUIRE(scheduler.last_lr()[0] == 0.5);
  w.mutable_grad() = torch::ones({1});
  sgd.step();
  CHECK(w.item<float>() == -0.5f);

  // Adadelta: the same gradient and state give an update scaled by exactly the lr ratio.
  auto a = torch::zeros({1}, torch::requires_grad());
  auto c = torch::zeros({1}, torch::requires_grad());
  normlab::optim::Adadelta reduced({a}), reference({c});
  ReduceLROnPlateau plateau(reduced, ReduceLROnPlateauOptions().patience(0).factor(0.25));
  plateau.step(2.0);
  plateau.step(3.0);
  REQUIRE(reduced.param_groups()[0].options().get_lr() == 0.25);
  a.mutable_grad() = torch::ones({1});
  c.mutable_grad() = torch::ones({1});
  reduced.step();
  reference.step();
  CHECK(a.item<float>() == c.item<float>() * 0.25f);
}

TEST_CASE("ReduceLROnPlateau: NaN never improves, and a tensor metric is read as a double",
          "[schedule][plateau]") {
  auto w = torch::zeros({1}, torch::requires_grad());
  torch::optim::SGD sgd({w}, torch::optim::SGDOptions(1.0));
  ReduceLROnPlateau scheduler(sgd, ReduceLROnPlateauOptions().patience(1));
  scheduler.step(std::nan(""));
  CHECK(std::isinf(scheduler.best()));
  CHECK(scheduler.num_bad_epochs() == 1);
  scheduler.step(torch::tensor(0.25f));
  CHECK(scheduler.best() == 0.25);
  CHECK(scheduler.num_bad_epochs() == 0);
}

TEST_CASE("ReduceLROnPlateau: invalid options throw, naming the value", "[schedule][plateau]") {
  auto w = torch::zeros({1}, torch::requires_grad());
  auto v = torch::zeros({1}, torch::requires_grad());
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{w});
  groups.emplace_back(std::vector<torch::Tensor>{v});
  torch::optim::SGD sgd(std::move(groups), torch::optim::SGDOptions(0.1));

  CHECK_THROWS_AS(ReduceLROnPlateau(sgd, ReduceLROnPlateauOptions().factor(1.0)),
                  std::invalid_argument);
  CHECK_THROWS_WITH(ReduceLROnPlateau(sgd, ReduceLROnPlateauOptions().factor(1.0)),
                    Catch::Contains("factor 1") && Catch::Contains("< 1.0"));
  CHECK_THROWS_WITH(ReduceLROnPlateau(sgd, ReduceLROnPlateauOptions().factor(2.5)),
                    Catch::Contains("factor 2.5"));
  CHECK_THROWS_AS(ReduceLROnPlateau(sgd, ReduceLROnPlateauOptions().min_lr({0.1, 0.2, 0.3})),
                  std::invalid_argument);
  CHECK_THROWS_WITH(ReduceLROnPlateau(sgd, ReduceLROnPlateauOptions().min_lr({0.1, 0.2, 0.3})),
                    Catch::Contains("expected 2 min_lrs, got 3"));
  CHECK_NOTHROW(ReduceLROnPlateau(sgd, ReduceLROnPlateauOptions().min_lr({0.1, 0.2})));
  CHECK_NOTHROW(ReduceLROnPlateau(sgd, ReduceLROnPlateauOptions().factor(0.999)));

  ReduceLROnPlateau scheduler(sgd, ReduceLROnPlateauOptions().min_lr(0.01));
  CHECK(scheduler.min_lrs() == std::vector<double>{0.01, 0.01});
  CHECK(scheduler.last_lr() == std::vector<double>{0.1, 0.1});  // before any step: current lrs
  CHECK(scheduler.last_epoch() == 0);
  CHECK(scheduler.best() == std::numeric_limits<double>::infinity());
}
