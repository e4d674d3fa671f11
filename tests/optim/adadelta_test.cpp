// normlab::optim::Adadelta against torch.optim.Adadelta (PyTorch 1.13) trajectories in
// tests/golden/adadelta.txt, written by scripts/golden/optim_golden.py.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "normlab/optim/adadelta.hpp"

using normlab::optim::Adadelta;
using normlab::optim::AdadeltaOptions;

namespace {

struct GoldenConfig {
  std::string name;
  std::map<std::string, std::string> fields;
  std::vector<std::vector<float>> steps;  // W then b, flattened, after each step

  double number(const std::string& key) const { return std::strtod(fields.at(key).c_str(), nullptr); }
  bool has(const std::string& key) const { return fields.count(key) != 0; }
};

struct AdadeltaGolden {
  std::map<std::string, torch::Tensor> tensors;
  std::vector<GoldenConfig> configs;
};

AdadeltaGolden read_golden() {
  const std::string path = std::string(NORMLAB_GOLDEN_DIR) + "/adadelta.txt";
  std::ifstream in(path);
  REQUIRE(in.good());
  AdadeltaGolden golden;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream tokens(line);
    std::string kind;
    if (!(tokens >> kind) || kind[0] == '#') continue;
    if (kind == "tensor") {
      std::string name;
      int64_t ndim = 0;
      tokens >> name >> ndim;
      std::vector<int64_t> sizes(static_cast<std::size_t>(ndim));
      for (auto& size : sizes) tokens >> size;
      std::vector<float> values;
      for (std::string value; tokens >> value;) values.push_back(std::strtof(value.c_str(), nullptr));
      golden.tensors[name] = torch::tensor(values).reshape(sizes);
    } else if (kind == "config") {
      GoldenConfig config;
      tokens >> config.name;
      for (std::string field; tokens >> field;) {
        const auto eq = field.find('=');
        config.fields[field.substr(0, eq)] = field.substr(eq + 1);
      }
      golden.configs.push_back(std::move(config));
    } else if (kind == "step") {
      int64_t k = 0;
      tokens >> k;
      std::vector<float> values;
      for (std::string value; tokens >> value;) values.push_back(std::strtof(value.c_str(), nullptr));
      REQUIRE(static_cast<int64_t>(golden.configs.back().steps.size()) == k - 1);
      golden.configs.back().steps.push_back(std::move(values));
    }
  }
  return golden;
}

// The script's loss, with the same ops: sum(A*(W-C)^2) + 0.5*sum(((W*b).sum(0)-E)^2) + 0.1*sum(D*b*b)
torch::Tensor golden_loss(const torch::Tensor& W, const torch::Tensor& b, const AdadeltaGolden& g) {
  auto r = W - g.tensors.at("C");
  auto fit = (W * b).sum(0) - g.tensors.at("E");
  return (g.tensors.at("A") * r * r).sum() + 0.5 * (fit * fit).sum() +
         0.1 * (g.tensors.at("D") * b * b).sum();
}

AdadeltaOptions options_from(const GoldenConfig& config, const std::string& prefix) {
  return AdadeltaOptions(config.number(prefix + "lr"))
      .rho(config.number(prefix + "rho"))
      .eps(config.number(prefix + "eps"))
      .weight_decay(config.number(prefix + "weight_decay"))
      .maximize(config.fields.at(prefix + "maximize") == "1");
}

bool verbose() { return std::getenv("NORMLAB_VERBOSE") != nullptr; }

}  // namespace

TEST_CASE("Adadelta: 100 steps on fixed weights agree with torch.optim.Adadelta to 1e-6 relative",
          "[optim][adadelta][golden]") {
  const AdadeltaGolden golden = read_golden();
  REQUIRE(golden.configs.size() >= 9);
  double max_rel_error_all = 0;
  int64_t values_compared = 0, values_bit_identical = 0;

  for (const auto& config : golden.configs) {
    {
      auto W = golden.tensors.at("W0").clone().requires_grad_();
      auto b = golden.tensors.at("b0").clone().requires_grad_();
      auto frozen = golden.tensors.at("frozen0").clone().requires_grad_();
      const AdadeltaOptions defaults = options_from(config, "");
      std::unique_ptr<Adadelta> optimizer;
      if (config.number("groups") == 1) {
        optimizer = std::make_unique<Adadelta>(std::vector<torch::Tensor>{W, b, frozen}, defaults);
      } else {
        std::vector<torch::optim::OptimizerParamGroup> groups;
        groups.emplace_back(std::vector<torch::Tensor>{W, frozen});
        groups.emplace_back(std::vector<torch::Tensor>{b},
                            std::make_unique<AdadeltaOptions>(options_from(config, "group1_")));
        optimizer = std::make_unique<Adadelta>(std::move(groups), defaults);
      }
      const int64_t lr_change_at = config.has("lr_change_at")
                                       ? static_cast<int64_t>(config.number("lr_change_at")) : -1;
      double max_rel_error = 0;
      for (std::size_t k = 1; k <= config.steps.size(); ++k) {
        for (auto* p : {&W, &b, &frozen}) p->mutable_grad() = torch::Tensor();
        golden_loss(W, b, golden).backward();
        optimizer->step();
        const auto ours = torch::cat({W.detach().reshape(-1), b.detach().reshape(-1)});
        const auto expected = torch::tensor(config.steps[k - 1]);
        REQUIRE(ours.numel() == expected.numel());
        const auto* o = ours.data_ptr<float>();
        const auto* e = expected.data_ptr<float>();
        for (int64_t i = 0; i < ours.numel(); ++i) {
          // Relative to the golden value; values below 1e-3 in size are compared to 1e-3.
          const double scale = std::max(std::abs(static_cast<double>(e[i])), 1e-3);
          const double rel = std::abs(static_cast<double>(o[i]) - e[i]) / scale;
          max_rel_error = std::max(max_rel_error, rel);
          values_bit_identical += (o[i] == e[i]);
          ++values_compared;
          INFO("config " << config.name << " step " << k << " element " << i << ": " << o[i]
                         << " vs torch " << e[i]);
          REQUIRE(rel <= 1e-6);
        }
        if (static_cast<int64_t>(k) == lr_change_at)
          for (auto& group : optimizer->param_groups()) group.options().set_lr(config.number("new_lr"));
      }
      max_rel_error_all = std::max(max_rel_error_all, max_rel_error);
      if (verbose())
        std::cout << "adadelta golden " << config.name << ": max relative error " << max_rel_error
                  << "\n";

      // Lazy state: the parameter that never had a gradient has none and did not move.
      CHECK_FALSE(optimizer->state_of(frozen).has_value());
      CHECK(torch::equal(frozen.detach(), golden.tensors.at("frozen0")));
      const auto state = optimizer->state_of(W);
      REQUIRE(state.has_value());
      CHECK(state->step == static_cast<int64_t>(config.steps.size()));
      CHECK(state->square_avg.sizes() == W.sizes());
      CHECK(state->acc_delta.sizes() == W.sizes());
    }
  }
  CHECK(max_rel_error_all <= 1e-6);
  if (verbose())
    std::cout << "adadelta golden: " << golden.configs.size() << " configs, max relative error "
              << max_rel_error_all << ", " << values_bit_identical << "/" << values_compared
              << " values bit-identical\n";
}

namespace {

// torch/optim/adadelta.py's _single_tensor_adadelta, out of place, as written in Python.
void reference_step(torch::Tensor& param, torch::Tensor grad, torch::Tensor& square_avg_in,
                    torch::Tensor& acc_delta_in, const AdadeltaOptions& o) {
  torch::NoGradGuard no_grad;
  grad = o.maximize() ? -grad : grad;
  if (o.weight_decay() != 0) grad = grad.add(param, o.weight_decay());
  auto square_avg = square_avg_in;
  auto acc_delta = acc_delta_in;
  if (param.is_complex()) {
    square_avg = torch::view_as_real(square_avg);
    acc_delta = torch::view_as_real(acc_delta);
    grad = torch::view_as_real(grad);
  }
  square_avg.mul_(o.rho()).addcmul_(grad, grad, 1 - o.rho());
  auto std = square_avg.add(o.eps()).sqrt_();
  auto delta = acc_delta.add(o.eps()).sqrt_().div_(std).mul_(grad);
  acc_delta.mul_(o.rho()).addcmul_(delta, delta, 1 - o.rho());
  if (param.is_complex()) delta = torch::view_as_complex(delta);
  param.add_(delta, -o.lr());
}

}  // namespace

TEST_CASE("Adadelta: in-place scratch buffers give the same bits as the out-of-place Python ops",
          "[optim][adadelta]") {
  torch::manual_seed(7);
  const auto options = GENERATE(AdadeltaOptions(), AdadeltaOptions(0.3).rho(0.7).eps(1e-4),
                                AdadeltaOptions().weight_decay(0.05),
                                AdadeltaOptions(0.5).maximize(true).weight_decay(1e-3),
                                AdadeltaOptions(2.0).maximize(true));
  // 1027 elements: vectorized body plus a scalar tail; and a channels-last (non-contiguous) one.
  auto flat = torch::randn({1027});
  auto image = torch::randn({2, 3, 5, 7}).contiguous(torch::MemoryFormat::ChannelsLast);
  for (const auto& initial : {flat, image}) {
    auto ours = initial.clone(torch::MemoryFormat::Preserve).requires_grad_();
    auto theirs = initial.clone(torch::MemoryFormat::Preserve);
    auto square_avg = torch::zeros_like(theirs, torch::MemoryFormat::Preserve);
    auto acc_delta = torch::zeros_like(theirs, torch::MemoryFormat::Preserve);
    Adadelta optimizer({ours}, options);
    for (int step = 0; step < 20; ++step) {
      auto grad = torch::randn_like(initial).contiguous(initial.suggest_memory_format());
      ours.mutable_grad() = grad.clone(torch::MemoryFormat::Preserve);
      optimizer.step();
      reference_step(theirs, grad, square_avg, acc_delta, options);
      REQUIRE(torch::equal(ours.detach(), theirs));
      REQUIRE(torch::equal(ours.grad(), grad));  // p.grad itself is never modified
    }
    const auto state = optimizer.state_of(ours);
    REQUIRE(state.has_value());
    CHECK(torch::equal(state->square_avg, square_avg));
    CHECK(torch::equal(state->acc_delta, acc_delta));
    CHECK(state->step == 20);
  }
}

TEST_CASE("Adadelta: a complex parameter follows PyTorch's view_as_real path",
          "[optim][adadelta]") {
  torch::manual_seed(3);
  const auto options = GENERATE(AdadeltaOptions(0.7), AdadeltaOptions(0.7).maximize(true).weight_decay(0.1));
  auto real = torch::randn({6, 2});
  auto ours = torch::view_as_complex(real.clone()).requires_grad_();
  auto theirs = torch::view_as_complex(real.clone());
  auto as_real = real.clone().requires_grad_();
  auto square_avg = torch::zeros_like(theirs);
  auto acc_delta = torch::zeros_like(theirs);
  Adadelta complex_optimizer({ours}, options);
  Adadelta real_optimizer({as_real}, options);
  for (int step = 0; step < 10; ++step) {
    auto grad = torch::randn({6, 2});
    ours.mutable_grad() = torch::view_as_complex(grad.clone());
    as_real.mutable_grad() = grad;
    complex_optimizer.step();
    real_optimizer.step();
    reference_step(theirs, torch::view_as_complex(grad.clone()), square_avg, acc_delta, options);
    REQUIRE(torch::equal(ours.detach(), theirs));
    // The complex add with alpha rounds differently from the real one (by an ULP, in Python too).
    REQUIRE(torch::allclose(torch::view_as_real(ours.detach()), as_real.detach(), 1e-6, 1e-7));
  }
}

TEST_CASE("Adadelta: options are validated like PyTorch, naming the option and the value",
          "[optim][adadelta]") {
  auto w = torch::zeros({3}, torch::requires_grad());
  auto message_of = [&](const AdadeltaOptions& options) -> std::string {
    try {
      Adadelta optimizer({w}, options);
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "(no exception)";
  };
  CHECK_THAT(message_of(AdadeltaOptions(-1.0)), Catch::Contains("lr -1"));
  CHECK_THAT(message_of(AdadeltaOptions(std::nan(""))), Catch::Contains("lr nan"));
  CHECK_THAT(message_of(AdadeltaOptions().rho(1.5)), Catch::Contains("rho 1.5"));
  CHECK_THAT(message_of(AdadeltaOptions().rho(-0.1)), Catch::Contains("rho -0.1"));
  CHECK_THAT(message_of(AdadeltaOptions().eps(-1e-9)), Catch::Contains("eps -1e-09"));
  CHECK_THAT(message_of(AdadeltaOptions().weight_decay(-0.5)), Catch::Contains("weight_decay -0.5"));
  // The boundaries PyTorch accepts.
  CHECK(message_of(AdadeltaOptions(0.0).rho(0.0).eps(0.0)) == "(no exception)");
  CHECK(message_of(AdadeltaOptions().rho(1.0)) == "(no exception)");

  // A group's own options are checked too, and must be AdadeltaOptions.
  std::vector<torch::optim::OptimizerParamGroup> bad_group;
  bad_group.emplace_back(std::vector<torch::Tensor>{w}, std::make_unique<AdadeltaOptions>(-2.0));
  CHECK_THROWS_WITH(Adadelta(std::move(bad_group)), Catch::Contains("lr -2"));
  std::vector<torch::optim::OptimizerParamGroup> sgd_group;
  sgd_group.emplace_back(std::vector<torch::Tensor>{w},
                         std::make_unique<torch::optim::SGDOptions>(0.1));
  CHECK_THROWS_AS(Adadelta(std::move(sgd_group)), std::invalid_argument);
}

TEST_CASE("Adadelta: skips parameters without a gradient and rejects sparse ones",
          "[optim][adadelta]") {
  auto used = torch::ones({4}, torch::requires_grad());
  auto unused = torch::ones({4}, torch::requires_grad());
  Adadelta optimizer({used, unused});
  CHECK_FALSE(optimizer.state_of(used).has_value());
  used.mutable_grad() = torch::full({4}, 0.5);
  optimizer.step();
  CHECK(optimizer.state_of(used).has_value());
  CHECK_FALSE(optimizer.state_of(unused).has_value());
  CHECK(torch::equal(unused.detach(), torch::ones({4})));
  CHECK_FALSE(torch::equal(used.detach(), torch::ones({4})));

  auto sparse = torch::zeros({4}, torch::requires_grad());
  Adadelta sparse_optimizer({sparse});
  sparse.mutable_grad() = torch::zeros({4}).to_sparse();
  CHECK_THROWS_WITH(sparse_optimizer.step(), Catch::Contains("sparse"));
}

TEST_CASE("Adadelta: the closure runs with gradients enabled and its loss is returned",
          "[optim][adadelta]") {
  auto w = torch::tensor({1.0f, -2.0f}, torch::requires_grad());
  Adadelta optimizer({w});
  auto loss = optimizer.step([&] {
    w.mutable_grad() = torch::Tensor();
    auto l = (w * w).sum();
    l.backward();
    return l;
  });
  CHECK(loss.item<float>() == 5.0f);
  CHECK(optimizer.state_of(w)->step == 1);
  CHECK(torch::GradMode::is_enabled());  // the guard inside step() was released
}

TEST_CASE("Adadelta: lr is read and written through the generic OptimizerOptions interface",
          "[optim][adadelta]") {
  auto w = torch::zeros({2}, torch::requires_grad());
  Adadelta optimizer({w}, AdadeltaOptions(0.5));
  auto& options = optimizer.param_groups()[0].options();
  CHECK(options.get_lr() == 0.5);
  options.set_lr(0.125);
  CHECK(static_cast<AdadeltaOptions&>(options).lr() == 0.125);
}

TEST_CASE("Adadelta: save then load continues bit for bit", "[optim][adadelta]") {
  torch::manual_seed(11);
  const auto initial_w = torch::randn({5, 3});
  const auto initial_b = torch::randn({3});
  auto w = initial_w.clone().requires_grad_();
  auto b = initial_b.clone().requires_grad_();
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{w});
  groups.emplace_back(std::vector<torch::Tensor>{b}, std::make_unique<AdadeltaOptions>(
                                                         AdadeltaOptions(0.3).weight_decay(0.01)));
  Adadelta optimizer(std::move(groups), AdadeltaOptions().rho(0.8));
  auto loss_of = [](const torch::Tensor& w_, const torch::Tensor& b_) {
    return ((w_.matmul(b_) - 1.0).pow(2)).sum() + b_.abs().sum();
  };
  auto train = [&](Adadelta& opt, torch::Tensor& w_, torch::Tensor& b_, int steps) {
    for (int i = 0; i < steps; ++i) {
      w_.mutable_grad() = torch::Tensor();
      b_.mutable_grad() = torch::Tensor();
      loss_of(w_, b_).backward();
      opt.step();
    }
  };
  train(optimizer, w, b, 15);
  optimizer.param_groups()[0].options().set_lr(0.7);

  std::stringstream stream;
  torch::save(optimizer, stream);

  auto w2 = w.detach().clone().requires_grad_();
  auto b2 = b.detach().clone().requires_grad_();
  std::vector<torch::optim::OptimizerParamGroup> groups2;
  groups2.emplace_back(std::vector<torch::Tensor>{w2});
  groups2.emplace_back(std::vector<torch::Tensor>{b2});
  Adadelta restored(std::move(groups2));  // default options everywhere: load must restore them
  torch::load(restored, stream);

  CHECK(static_cast<AdadeltaOptions&>(restored.param_groups()[0].options()).lr() == 0.7);
  CHECK(static_cast<AdadeltaOptions&>(restored.param_groups()[0].options()).rho() == 0.8);
  CHECK(static_cast<AdadeltaOptions&>(restored.param_groups()[1].options()) ==
        AdadeltaOptions(0.3).weight_decay(0.01));
  REQUIRE(restored.state_of(w2).has_value());
  CHECK(restored.state_of(w2)->step == 15);
  CHECK(torch::equal(restored.state_of(b2)->square_avg, optimizer.state_of(b)->square_avg));

  train(optimizer, w, b, 10);
  train(restored, w2, b2, 10);
  CHECK(torch::equal(w.detach(), w2.detach()));
  CHECK(torch::equal(b.detach(), b2.detach()));

  // A mismatched layout is refused with a message, and leaves the optimizer as it was.
  auto lone = torch::zeros({2}, torch::requires_grad());
  Adadelta other({lone});
  std::stringstream again;
  torch::save(optimizer, again);
  CHECK_THROWS_WITH(torch::load(other, again), Catch::Contains("parameter groups"));
}
