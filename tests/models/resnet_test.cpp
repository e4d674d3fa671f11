#include <catch2/catch.hpp>
#include <normlab/compensate/compensate.hpp>
#include <normlab/models/resnet.hpp>
#include <normlab/models/state_dict.hpp>

#include <cstdio>
#include <set>

#include "../golden.hpp"

using namespace normlab;

static_assert(policy::of_kind<ResNet18, policy::Model>);
static_assert(policy::of_kind<ResNet34, policy::Model>);
static_assert(policy::of_kind<ResNet50, policy::Model>);

namespace {

/// scripts/golden/resnet_golden.py's resnet_input(): ((i * 7919) % 2003 - 1001) / 1024, exact.
torch::Tensor resnet_input(int64_t n, int64_t size) {
  auto i = torch::arange(n * 3 * size * size, torch::kInt64);
  return ((i * 7919) % 2003 - 1001).to(torch::kFloat32).div(1024.0).reshape({n, 3, size, size});
}

models::ResNet make(const std::string& name, int64_t classes) {
  if (name == "resnet18") return models::resnet18(classes);
  if (name == "resnet34") return models::resnet34(classes);
  if (name == "resnet50") return models::resnet50(classes);
  throw std::invalid_argument("unknown model " + name);
}

std::string hash_of(const torch::Tensor& tensor) {
  const auto t = tensor.detach().contiguous();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(testing::fnv1a64(t.data_ptr(), t.numel() * t.element_size())));
  return hex;
}

/// The golden's '%.9g' (float32) or '%d' (int64) text of element k, compared in the tensor's dtype.
bool same_value(const torch::Tensor& t, int64_t k, const std::string& text) {
  const auto v = t.reshape(-1)[k];
  if (t.scalar_type() == torch::kFloat32) return v.item<float>() == std::stof(text);
  return v.item<int64_t>() == std::stoll(text);
}

/// A resnet18 whose BN running statistics have moved (two train-mode batches), in eval mode: a net
/// in which bn1's running mean and variance are not 0 and 1.
models::ResNet trained_looking_resnet18(uint64_t seed) {
  torch::manual_seed(seed);
  auto net = models::resnet18(10);
  net->train();
  torch::NoGradGuard no_grad;
  for (int k = 0; k < 2; ++k) net->forward(torch::rand({4, 3, 64, 64}));
  net->eval();
  return net;
}

torch::Tensor normalized(const torch::Tensor& x, const NormalizationValues& v) {
  auto m = torch::tensor(v.mean, torch::kFloat64).expand({3}).reshape({1, 3, 1, 1});
  auto s = torch::tensor(v.std, torch::kFloat64).expand({3}).reshape({1, 3, 1, 1});
  return ((x.to(torch::kFloat64) - m) / s).to(torch::kFloat32);
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace

TEST_CASE("ResNet-18 and ResNet-50 initial states for seed 1998 are torchvision's, bit for bit",
          "[models][resnet][parity]") {
  const auto rows = testing::golden_rows("resnet_init.txt");
  int cases = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i][0] != "case") continue;
    const auto f = testing::case_fields(rows[i]);
    INFO(f.at("model"));
    torch::manual_seed(std::stoull(f.at("seed")));
    auto net = make(f.at("model"), std::stoll(f.at("num_classes")));
    std::vector<std::pair<std::string, torch::Tensor>> state;
    normlab::detail::state_entries(*net, "", state);  // Python's state_dict order

    std::size_t j = i + 1;
    for (const auto& [name, t] : state) {
      REQUIRE(j < rows.size());
      const auto& row = rows[j++];
      INFO(name);
      REQUIRE(row[0] == name);
      REQUIRE(std::stoll(row[1]) == t.numel());
      REQUIRE(row[2] == hash_of(t));
      for (int64_t k = 0; k < std::min<int64_t>(8, t.numel()); ++k)
        REQUIRE(same_value(t, k, row[3 + k]));
    }
    REQUIRE((j == rows.size() || rows[j][0] == "case"));  // no entry left over

    // LibTorch's own traversals agree: named_parameters() (what an optimiser sees) in the same
    // order, and parameters + buffers are exactly the state_dict's entries.
    std::vector<std::string> state_names, params, all;
    for (const auto& [name, t] : state) state_names.push_back(name);
    for (const auto& p : net->named_parameters()) params.push_back(p.key());
    std::vector<std::string> state_params;
    for (const auto& n : state_names)
      if (std::find(params.begin(), params.end(), n) != params.end()) state_params.push_back(n);
    REQUIRE(state_params == params);
    REQUIRE(net->named_parameters().size() + net->named_buffers().size() == state.size());
    ++cases;
  }
  REQUIRE(cases == 2);
}

TEST_CASE("ResNet keeps torchvision's module names", "[models][resnet]") {
  auto net = models::resnet50(10);
  std::set<std::string> names;
  for (const auto& m : net->named_modules()) names.insert(m.key());
  for (const char* n : {"conv1", "bn1", "relu", "maxpool", "layer1.0.conv3", "layer1.0.downsample.0",
                        "layer1.0.downsample.1", "layer2.0.downsample.0", "layer4.2.bn3", "avgpool", "fc"})
    REQUIRE(names.count(n) == 1);
  REQUIRE(names.count("layer1.1.downsample") == 0);
  auto small = models::resnet18(10);
  std::set<std::string> small_names;
  for (const auto& m : small->named_modules()) small_names.insert(m.key());
  REQUIRE(small_names.count("layer1.0.downsample") == 0);  // 64 -> 64, stride 1: identity
  REQUIRE(small_names.count("layer2.0.downsample.0") == 1);
  REQUIRE(small->fc->options.in_features() == 512);
  REQUIRE(net->fc->options.in_features() == 2048);
}

TEST_CASE("eval-mode logits of ResNet-18/34/50 match torchvision's to 1e-4", "[models][resnet][parity]") {
  const auto rows = testing::golden_rows("resnet_logits.txt");
  torch::NoGradGuard no_grad;
  int cases = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i][0] != "case") continue;
    const auto f = testing::case_fields(rows[i]);
    INFO(f.at("model"));
    torch::manual_seed(1998);
    auto net = make(f.at("model"), std::stoll(f.at("num_classes")));
    net->eval();
    const auto y = net->forward(resnet_input(std::stoll(f.at("batch")), std::stoll(f.at("size"))));
    double worst = 0;
    for (int64_t r = 0; r < y.size(0); ++r) {
      const auto& row = rows[i + 1 + r];
      REQUIRE(row[0] == "logits");
      REQUIRE(static_cast<int64_t>(row.size()) == 2 + y.size(1));
      for (int64_t c = 0; c < y.size(1); ++c)
        worst = std::max(worst, std::abs(y[r][c].item<double>() - std::stod(row[2 + c])));
    }
    INFO("max |logit difference| = " << worst);
    if (std::getenv("NORMLAB_VERBOSE")) WARN(f.at("model") << ": max |logit difference| = " << worst);
    REQUIRE(worst <= 1e-4);
    ++cases;
  }
  REQUIRE(cases == 3);
}

TEST_CASE("ResNet policies: make, first_conv, cross-entropy loss", "[models][resnet]") {
  torch::manual_seed(3);
  auto net = ResNet18::make(7);
  REQUIRE(&ResNet18::first_conv(net) == &net->conv1);
  const auto logits = torch::randn({5, 7});
  const auto target = torch::tensor({0, 3, 6, 2, 2}, torch::kInt64);
  const auto expected = torch::nll_loss(torch::log_softmax(logits, 1), target);
  REQUIRE(ResNet18::loss(logits, target).item<double>() == Approx(expected.item<double>()).epsilon(1e-6));
  REQUIRE(ResNet50::loss(logits, target, torch::Reduction::Sum).item<double>() ==
          Approx(expected.item<double>() * 5).epsilon(1e-6));
  REQUIRE(std::string(ResNet34::name) == "resnet34");
  REQUIRE(net->forward(torch::rand({1, 3, 40, 40})).sizes() == torch::IntArrayRef({1, 7}));
  REQUIRE_THROWS_WITH(models::ResNet(models::ResNetOptions(models::ResNetBlock::Basic, {2, 2, 2})),
                      Catch::Contains("layers must hold 4 block counts (got 3)"));
}

TEST_CASE("zero_init_residual zeroes the last BN weight of every residual branch", "[models][resnet]") {
  auto basic = models::ResNet(models::ResNetOptions(models::ResNetBlock::Basic, {1, 1, 1, 1}).num_classes(3).zero_init_residual(true));
  REQUIRE(basic->layer3[0]->as<models::BasicBlock>()->bn2->weight.abs().sum().item<double>() == 0);
  REQUIRE(basic->layer3[0]->as<models::BasicBlock>()->bn1->weight.sum().item<double>() == 256);
  auto bottleneck = models::ResNet(models::ResNetOptions(models::ResNetBlock::Bottleneck, {1, 1, 1, 1}).num_classes(3).zero_init_residual(true));
  REQUIRE(bottleneck->layer1[0]->as<models::Bottleneck>()->bn3->weight.abs().sum().item<double>() == 0);
}

TEST_CASE("exact compensation: the ResNet fed normalized input computes what it computed on raw input",
          "[models][resnet][compensate]") {
  torch::manual_seed(11);
  const auto x = torch::rand({2, 3, 64, 64});  // raw input in [0, 1), as ToTensor gives
  const std::vector<NormalizationValues> cases = {
      NormalizationValues::uniform(0.5, 0.25),
      {{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}},  // ImageNet
      NormalizationValues::uniform(-2.5, 0.15),
      NormalizationValues::uniform(3.0, 10.0),
      {{1.0, -1.0, 0.25}, {2.0, 0.5, 4.0}},
  };
  torch::NoGradGuard no_grad;
  for (const auto& v : cases) {
    INFO(v.to_string());
    auto net = trained_looking_resnet18(21);
    REQUIRE(net->bn1->running_mean.abs().max().item<double>() > 1e-3);  // a non-trivial bn1
    const auto stem_before = net->stem(x);
    const auto logits_before = net->forward(x);

    ResNet18::exact_compensation(net, v);
    const auto xn = normalized(x, v);
    const double stem_diff = max_abs_diff(net->stem(xn), stem_before);
    const double logit_diff = max_abs_diff(net->forward(xn), logits_before);
    INFO("stem max diff " << stem_diff << ", logits max diff " << logit_diff
                          << " (max |logit| " << logits_before.abs().max().item<double>() << ")");
    if (std::getenv("NORMLAB_VERBOSE"))
      WARN(v.to_string() << ": stem max diff " << stem_diff << ", logits max diff " << logit_diff
                         << " (max |logit| " << logits_before.abs().max().item<double>() << ")");
    CHECK(stem_diff <= 1e-5);
    CHECK(logit_diff <= 1e-4);
    CHECK(logit_diff <= 1e-3 * logits_before.abs().max().item<double>());  // relative, too

    // Without the padding value the border is wrong: the padding is what makes it exact.
    if (v.mean[0] != 0) {
      auto pad = net->conv1_pad_value;
      net->conv1_pad_value = torch::Tensor();
      CHECK(max_abs_diff(net->stem(xn), stem_before) > 1e-2);
      net->conv1_pad_value = pad;
    }
  }
}

TEST_CASE("exact compensation in train mode: bn1's batch statistics see the same batch", "[models][resnet][compensate]") {
  torch::manual_seed(12);
  const auto x = torch::rand({4, 3, 48, 48});
  const auto v = NormalizationValues{{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
  torch::NoGradGuard no_grad;
  auto net = trained_looking_resnet18(22);
  net->train();
  const auto running_before = net->bn1->running_mean.clone();
  const auto before = net->stem(x);
  auto twin = trained_looking_resnet18(22);
  twin->train();
  ResNet18::exact_compensation(twin, v);
  const auto shift = running_before - twin->bn1->running_mean;  // rm' = rm - shift
  const auto after = twin->stem(normalized(x, v));
  CHECK(max_abs_diff(after, before) <= 1e-4);
  // The running statistics keep tracking the compensated conv1: the mean stays shifted by the
  // same amount, the variance is the same.
  CHECK(max_abs_diff(net->bn1->running_mean, running_before) > 1e-4);
  CHECK(max_abs_diff(twin->bn1->running_mean, net->bn1->running_mean - shift) <= 1e-5);
  CHECK(max_abs_diff(twin->bn1->running_var, net->bn1->running_var) <= 1e-5);
}

TEST_CASE("exact compensation composes and folds back", "[models][resnet][compensate]") {
  torch::manual_seed(13);
  const auto x = torch::rand({1, 3, 40, 40});
  torch::NoGradGuard no_grad;
  auto net = trained_looking_resnet18(23);
  const auto before = net->forward(x);
  const auto v1 = NormalizationValues::uniform(0.5, 0.25);
  const auto v2 = NormalizationValues{{0.1, 0.2, 0.3}, {2.0, 3.0, 4.0}};
  // Twice: the second normalizes the already normalized input.
  models::exact_compensation(net, v1);
  models::exact_compensation(net, v2);
  CHECK(max_abs_diff(net->forward(normalized(normalized(x, v1), v2)), before) <= 1e-4);
  // Folding both normalizations back gives the raw-input net (pad value back to 0).
  fold_normalization(net, v2);
  fold_normalization(net, v1);
  CHECK(max_abs_diff(net->forward(x), before) <= 1e-4);
  CHECK(net->conv1_pad_value.abs().max().item<double>() <= 1e-6);
}

TEST_CASE("compensate_model<compensate::Exact, ResNet18> uses the ResNet's exact form", "[models][resnet][compensate]") {
  torch::manual_seed(14);
  const auto x = torch::rand({1, 3, 32, 32});
  torch::NoGradGuard no_grad;
  auto net = trained_looking_resnet18(24);
  const auto before = net->forward(x);
  const auto v = NormalizationValues::uniform(0.1307, 0.3081);
  compensate_model<compensate::Exact, ResNet18>(net, v);
  REQUIRE(net->conv1_pad_value.defined());
  CHECK(max_abs_diff(net->forward(normalized(x, v)), before) <= 1e-4);
  // The notebook's compensation goes through conv1 alone (no bias: only weight /= std).
  auto other = trained_looking_resnet18(24);
  compensate_model<compensate::Notebook, ResNet18>(other, v);
  REQUIRE_FALSE(other->conv1_pad_value.defined());
}

TEST_CASE("exact compensation refuses what it cannot do, and the pad value follows to()", "[models][resnet][compensate]") {
  auto net = models::resnet18(4);
  REQUIRE_THROWS_WITH(models::exact_compensation(net, {{0.1, 0.2}, {1.0, 1.0}}),
                      Catch::Contains("2 normalization channels for conv1's 3 input channels"));
  REQUIRE_THROWS_WITH(models::exact_compensation(net, NormalizationValues::uniform(0.1, 0.0)),
                      Catch::Contains("std = 0"));
  models::exact_compensation(net, NormalizationValues::uniform(0.5, 0.5));
  REQUIRE(net->conv1_pad_value.scalar_type() == torch::kFloat32);
  REQUIRE(net->conv1_pad_value[0].item<float>() == -1.0f);
  net->to(torch::kFloat64);
  REQUIRE(net->conv1_pad_value.scalar_type() == torch::kFloat64);
  net->eval();
  torch::NoGradGuard no_grad;
  REQUIRE(net->forward(torch::rand({1, 3, 32, 32}, torch::kFloat64)).scalar_type() == torch::kFloat64);
}
