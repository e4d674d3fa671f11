// normlab::schedule::StepLR against torch.optim.lr_scheduler.StepLR (PyTorch 1.13):
// tests/golden/step_lr.txt, written by scripts/golden/optim_golden.py. Learning rates must be equal
// bit for bit.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "normlab/optim/adadelta.hpp"
#include "normlab/schedule/step_lr.hpp"

using normlab::schedule::StepLR;

namespace {

struct StepLRConfig {
  std::string name;
  int64_t step_size = 0;
  double gamma = 0;
  std::vector<double> lr0;
  std::vector<std::vector<double>> lrs;  // after each step()
};

std::vector<double> parse_list(const std::string& text) {
  std::vector<double> values;
  std::istringstream items(text);
  for (std::string item; std::getline(items, item, ',');)
    values.push_back(std::strtod(item.c_str(), nullptr));
  return values;
}

std::vector<StepLRConfig> read_golden() {
  std::ifstream in(std::string(NORMLAB_GOLDEN_DIR) + "/step_lr.txt");
  REQUIRE(in.good());
  std::vector<StepLRConfig> configs;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream tokens(line);
    std::string kind;
    if (!(tokens >> kind) || kind[0] == '#') continue;
    if (kind == "config") {
      StepLRConfig config;
      tokens >> config.name;
      std::map<std::string, std::string> fields;
      for (std::string field; tokens >> field;) {
        const auto eq = field.find('=');
        fields[field.substr(0, eq)] = field.substr(eq + 1);
      }
      config.step_size = std::stoll(fields.at("step_size"));
      config.gamma = std::strtod(fields.at("gamma").c_str(), nullptr);
      config.lr0 = parse_list(fields.at("lr0"));
      configs.push_back(std::move(config));
    } else if (kind == "step") {
      std::string k;
      tokens >> k;
      std::vector<double> lrs;
      for (std::string lr; tokens >> lr;) lrs.push_back(std::strtod(lr.c_str(), nullptr));
      configs.back().lrs.push_back(std::move(lrs));
    }
  }
  return configs;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

TEST_CASE("StepLR: every lr equals torch's StepLR bit for bit", "[schedule][step_lr][golden]") {
  const auto configs = read_golden();
  REQUIRE(configs.size() >= 5);
  int64_t compared = 0;
  for (const auto& config : configs) {
    INFO("config " << config.name);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    for (double lr : config.lr0)
      groups.emplace_back(std::vector<torch::Tensor>{torch::zeros({1}, torch::requires_grad())},
                          std::make_unique<torch::optim::SGDOptions>(lr));
    torch::optim::SGD sgd(std::move(groups), torch::optim::SGDOptions(config.lr0[0]));
    StepLR scheduler(sgd, config.step_size, config.gamma);
    CHECK(scheduler.last_lr() == config.lr0);
    CHECK(scheduler.base_lrs() == config.lr0);
    for (std::size_t k = 0; k < config.lrs.size(); ++k) {
      scheduler.step();
      REQUIRE(scheduler.last_epoch() == static_cast<int64_t>(k + 1));
      REQUIRE(scheduler.last_lr().size() == config.lrs[k].size());
      for (std::size_t g = 0; g < config.lrs[k].size(); ++g) {
        INFO("step " << k + 1 << " group " << g << ": " << scheduler.last_lr()[g] << " vs torch "
                     << config.lrs[k][g]);
        REQUIRE(same_bits(scheduler.last_lr()[g], config.lrs[k][g]));
        REQUIRE(same_bits(sgd.param_groups()[g].options().get_lr(), config.lrs[k][g]));
        ++compared;
      }
    }
  }
  if (std::getenv("NORMLAB_VERBOSE"))
    std::cout << "step_lr golden: " << configs.size() << " configs, " << compared
              << " lrs, all bit-identical\n";
}

TEST_CASE("StepLR: decays on the step_size-th step, like Python", "[schedule][step_lr]") {
  auto w = torch::zeros({1}, torch::requires_grad());
  normlab::optim::Adadelta optimizer({w}, normlab::optim::AdadeltaOptions(0.05));
  StepLR scheduler(optimizer, 3, 0.1);
  scheduler.step();
  scheduler.step();
  CHECK(scheduler.last_lr()[0] == 0.05);
  scheduler.step();
  CHECK(scheduler.last_lr()[0] == 0.05 * 0.1);
  CHECK(optimizer.param_groups()[0].options().get_lr() == 0.05 * 0.1);
}

TEST_CASE("StepLR: chains with other changes to the lr", "[schedule][step_lr]") {
  auto w = torch::zeros({1}, torch::requires_grad());
  torch::optim::SGD sgd({w}, torch::optim::SGDOptions(1.0));
  StepLR scheduler(sgd, 2, 0.5);
  scheduler.step();
  sgd.param_groups()[0].options().set_lr(0.8);  // e.g. another scheduler
  scheduler.step();                             // epoch 2: 0.8 * 0.5, not 1.0 * 0.5
  CHECK(scheduler.last_lr()[0] == 0.4);
}

TEST_CASE("StepLR: step_size must be positive", "[schedule][step_lr]") {
  auto w = torch::zeros({1}, torch::requires_grad());
  torch::optim::SGD sgd({w}, torch::optim::SGDOptions(1.0));
  CHECK_THROWS_WITH(StepLR(sgd, 0), Catch::Contains("step_size 0"));
  CHECK_THROWS_AS(StepLR(sgd, -3), std::invalid_argument);
}
