#include <catch2/catch.hpp>
#include <normlab/models/resnet.hpp>
#include <normlab/models/state_dict.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

#include "../golden.hpp"

using namespace normlab;
namespace fs = std::filesystem;

namespace {

std::string small_model() { return testing::test_data_dir() + "/state_dict/small_model.pt"; }
std::string data_file(const std::string& name) { return testing::test_data_dir() + "/state_dict/" + name; }

/// A scratch folder for this test process, removed at exit.
struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("normlab_state_dict_test_" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir); }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string operator()(const std::string& name) const { return (dir / name).string(); }
};
const Scratch& scratch() {
  static Scratch s;
  return s;
}

std::string dtype_name(torch::ScalarType t) {
  static const std::map<torch::ScalarType, std::string> names = {
      {torch::kFloat32, "float32"}, {torch::kFloat64, "float64"}, {torch::kFloat16, "float16"},
      {torch::kBFloat16, "bfloat16"}, {torch::kInt64, "int64"}, {torch::kInt32, "int32"},
      {torch::kInt16, "int16"}, {torch::kInt8, "int8"}, {torch::kUInt8, "uint8"},
      {torch::kBool, "bool"}, {torch::kComplexFloat, "complex64"}};
  return names.at(t);
}

std::string joined(torch::IntArrayRef v) {
  if (v.empty()) return "-";
  std::ostringstream s;
  for (std::size_t i = 0; i < v.size(); ++i) s << (i ? "," : "") << v[i];
  return s.str();
}

/// Values in row-major order as doubles (complex: real, imaginary).
std::vector<double> values(const torch::Tensor& t) {
  auto flat = t.is_complex() ? torch::view_as_real(t.contiguous()) : t;
  flat = flat.to(torch::kFloat64).contiguous().reshape(-1);
  return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
}

/// The C++ twin of the golden script's Small: same names, shapes and dtypes.
struct InnerImpl : torch::nn::Module {
  InnerImpl() {
    lin = register_module("lin", torch::nn::Linear(3, 2));
    register_buffer("halves", torch::zeros({4}, torch::kFloat16));
    register_buffer("bf16", torch::zeros({3}, torch::kBFloat16));
  }
  torch::Tensor forward(torch::Tensor x) { return lin(x); }
  torch::nn::Linear lin{nullptr};
};
TORCH_MODULE(Inner);

struct SmallImpl : torch::nn::Module {
  /// @param conv_out conv's output channels (3 in the file)
  /// @param skip a buffer not to register
  /// @param extra register an extra Linear "head" the file does not have
  explicit SmallImpl(int64_t conv_out = 3, const std::string& skip = "", bool extra = false) {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, conv_out, 2)));
    bn = register_module("bn", torch::nn::BatchNorm2d(3));
    inner = register_module("inner", torch::nn::Sequential(Inner()));
    if (extra) register_module("head", torch::nn::Linear(2, 2));
    const std::vector<std::pair<std::string, torch::Tensor>> buffers = {
        {"table", torch::zeros({4, 5}, torch::kFloat64)}, {"window", torch::zeros({2, 3}, torch::kFloat64)},
        {"column", torch::zeros({4}, torch::kFloat64)},   {"flipped", torch::zeros({3, 2})},
        {"ints", torch::zeros({3}, torch::kInt32)},       {"shorts", torch::zeros({2}, torch::kInt16)},
        {"chars", torch::zeros({3}, torch::kInt8)},       {"octets", torch::zeros({3}, torch::kUInt8)},
        {"mask", torch::zeros({4}, torch::kBool)},        {"big", torch::zeros({2}, torch::kInt64)},
        {"scalar", torch::zeros({})},                     {"empty", torch::zeros({0, 3})},
        {"complex", torch::zeros({2}, torch::kComplexFloat)}};
    for (const auto& [name, t] : buffers)
      if (name != skip) register_buffer(name, t);
  }
  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Sequential inner{nullptr};
};
TORCH_MODULE(Small);

std::map<std::string, torch::Tensor> state_of(const torch::nn::Module& m) {
  std::vector<std::pair<std::string, torch::Tensor>> entries;
  normlab::detail::state_entries(m, "", entries);
  return {entries.begin(), entries.end()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}
std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("read_state_dict reads Python's torch.save file: names, dtypes, shapes, strides, values exactly",
          "[models][state_dict]") {
  const auto entries = read_state_dict(small_model());
  std::map<std::string, torch::Tensor> by_name(entries.begin(), entries.end());
  std::size_t i = 0, shares = 0;
  for (const auto& row : testing::golden_rows("state_dict_small.txt")) {
    if (row[0] == "shares") {
      INFO(row[1] << " and " << row[2]);
      REQUIRE(by_name.at(row[1]).is_alias_of(by_name.at(row[2])));
      ++shares;
      continue;
    }
    REQUIRE(row[0] == "entry");
    REQUIRE(i < entries.size());
    const auto& [name, t] = entries[i++];
    INFO(name);
    REQUIRE(name == row[1]);
    REQUIRE(dtype_name(t.scalar_type()) == row[2]);
    REQUIRE(joined(t.sizes()) == row[3]);
    if (t.numel() > 0) {
      REQUIRE(joined(t.strides()) == row[4]);
      REQUIRE(t.storage_offset() == std::stoll(row[5]));
    }
    REQUIRE(t.numel() == std::stoll(row[6]));
    REQUIRE(t.device().is_cpu());
    const auto v = values(t);
    REQUIRE(v.size() + 7 == row.size());
    for (std::size_t k = 0; k < v.size(); ++k) REQUIRE(v[k] == std::stod(row[7 + k]));
  }
  REQUIRE(i == entries.size());
  REQUIRE(shares == 2);
  REQUIRE_FALSE(by_name.at("inner.0.lin.weight").requires_grad());
}

TEST_CASE("load_state_dict copies parameters and buffers by name, converting dtypes", "[models][state_dict]") {
  Small net;
  const auto result = load_state_dict(net, small_model());
  REQUIRE(result.missing_keys.empty());
  REQUIRE(result.unexpected_keys.empty());
  const auto state = state_of(*net);
  for (const auto& [name, t] : read_state_dict(small_model())) {
    INFO(name);
    REQUIRE(state.at(name).scalar_type() == t.scalar_type());
    REQUIRE(values(state.at(name)) == values(t));
  }
  REQUIRE(net->bn->num_batches_tracked.item<int64_t>() == 1);
  REQUIRE(net->conv->weight.requires_grad());  // still a parameter

  // Into float64 parameters: copy_ converts, as Python's load_state_dict does.
  Small wide;
  wide->conv->to(torch::kFloat64);
  load_state_dict(wide, small_model());
  REQUIRE(wide->conv->weight.scalar_type() == torch::kFloat64);
  REQUIRE(torch::equal(wide->conv->weight.to(torch::kFloat32), net->conv->weight));
}

TEST_CASE("load_state_dict: missing, unexpected and mis-shaped keys, listed together", "[models][state_dict]") {
  Small net(/*conv_out=*/4, /*skip=*/"complex", /*extra=*/true);
  const auto weight_before = net->conv->weight.clone();
  try {
    load_state_dict(net, small_model());
    FAIL("expected StateDictError");
  } catch (const StateDictError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK_THAT(what, Catch::Contains("small_model.pt' does not fit the module (nothing was copied)"));
    CHECK_THAT(what, Catch::Contains("missing keys (2): head.weight, head.bias"));
    CHECK_THAT(what, Catch::Contains("unexpected keys (1): complex"));
    CHECK_THAT(what, Catch::Contains("shape mismatches (2): conv.weight: module [4, 2, 2, 2], file [3, 2, 2, 2], "
                                     "conv.bias: module [4], file [3]"));
  }
  REQUIRE(torch::equal(net->conv->weight, weight_before));  // nothing copied

  // Not strict: missing and unexpected keys are returned, a shape mismatch is still an error.
  REQUIRE_THROWS_WITH(load_state_dict(net, small_model(), /*strict=*/false),
                      Catch::Contains("shape mismatches (2)") && !Catch::Contains("missing keys"));
  Small partial(3, "complex", true);
  const auto result = load_state_dict(partial, small_model(), /*strict=*/false);
  REQUIRE(result.missing_keys == std::vector<std::string>{"head.weight", "head.bias"});
  REQUIRE(result.unexpected_keys == std::vector<std::string>{"complex"});
  REQUIRE(partial->bn->num_batches_tracked.item<int64_t>() == 1);
}

TEST_CASE("read_state_dict says what is wrong with a file", "[models][state_dict]") {
  const auto& tmp = scratch();
  REQUIRE_THROWS_WITH(read_state_dict(tmp("absent.pt")), Catch::Contains("absent.pt': no such file"));
  REQUIRE_THROWS_WITH(read_state_dict(tmp.dir.string()), Catch::Contains("is a directory"));
  write_bytes(tmp("empty.pt"), "");
  REQUIRE_THROWS_WITH(read_state_dict(tmp("empty.pt")), Catch::Contains("empty.pt': empty file"));
  write_bytes(tmp("text.pt"), "hello, world\n");
  REQUIRE_THROWS_WITH(read_state_dict(tmp("text.pt")), Catch::Contains("not a zip archive"));
  REQUIRE_THROWS_WITH(read_state_dict(data_file("legacy_small.pt")),
                      Catch::Contains("legacy torch.save format") &&
                          Catch::Contains("scripts/convert_legacy_checkpoint.py"));
  REQUIRE_THROWS_WITH(read_state_dict(data_file("not_state_dict.pt")),
                      Catch::Contains("not a state_dict") && Catch::Contains("'epoch' (int)") &&
                          Catch::Contains("'model' (dict)"));
  Small net;
  REQUIRE_THROWS_AS(load_state_dict(net, data_file("not_state_dict.pt")), StateDictError);

  // Truncated: the zip's central directory is gone.
  const auto bytes = read_bytes(small_model());
  write_bytes(tmp("truncated.pt"), bytes.substr(0, bytes.size() / 2));
  REQUIRE_THROWS_WITH(read_state_dict(tmp("truncated.pt")), Catch::Contains("truncated or corrupt"));
  // Corrupt: one byte of data.pkl flipped (zip's CRC-32 catches it).
  const auto at = bytes.find("collections");
  REQUIRE(at != std::string::npos);
  auto flipped = bytes;
  flipped[at] = static_cast<char>(flipped[at] ^ 0x20);
  write_bytes(tmp("corrupt.pt"), flipped);
  REQUIRE_THROWS_AS(read_state_dict(tmp("corrupt.pt")), StateDictError);
}

TEST_CASE("save_state_dict writes what read_state_dict and load_state_dict read back", "[models][state_dict]") {
  const auto& tmp = scratch();
  Small net;
  load_state_dict(net, small_model());
  save_state_dict(net, tmp("small_again.pt"));
  const auto back = read_state_dict(tmp("small_again.pt"));
  std::vector<std::pair<std::string, torch::Tensor>> expected;
  normlab::detail::state_entries(*net, "", expected);
  REQUIRE(back.size() == expected.size());
  for (std::size_t i = 0; i < back.size(); ++i) {
    INFO(expected[i].first);
    REQUIRE(back[i].first == expected[i].first);
    REQUIRE(back[i].second.scalar_type() == expected[i].second.scalar_type());
    REQUIRE(back[i].second.sizes() == expected[i].second.sizes());
    REQUIRE(values(back[i].second) == values(expected[i].second));
  }

  // A ResNet round trip: a differently seeded net computes the same after loading.
  torch::manual_seed(1);
  auto a = models::resnet18(5);
  torch::manual_seed(2);
  auto b = models::resnet18(5);
  save_state_dict(a, tmp("resnet18.pt"));
  load_state_dict(b, tmp("resnet18.pt"));
  a->eval();
  b->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({1, 3, 32, 32});
  REQUIRE(torch::equal(a->forward(x), b->forward(x)));
}

TEST_CASE("a file without num_batches_tracked (pre-0.4.1 BatchNorm) loads it as 0", "[models][state_dict]") {
  // A module whose "bn" has BatchNorm's state but no counter, as old checkpoints have.
  struct OldBn : torch::nn::Module {
    OldBn() {
      auto bn = std::make_shared<torch::nn::Module>();
      bn->register_parameter("weight", torch::full({3}, 2.0));
      bn->register_parameter("bias", torch::full({3}, 0.5));
      bn->register_buffer("running_mean", torch::full({3}, 0.25));
      bn->register_buffer("running_var", torch::full({3}, 4.0));
      register_module("bn", bn);
    }
  } old;
  const auto path = scratch()("old_bn.pt");
  save_state_dict(old, path);
  struct NewBn : torch::nn::Module {
    NewBn() { bn = register_module("bn", torch::nn::BatchNorm2d(3)); }
    torch::nn::BatchNorm2d bn{nullptr};
  } now;
  now.bn->num_batches_tracked.fill_(7);
  const auto result = load_state_dict(now, path);
  REQUIRE(result.missing_keys.empty());
  REQUIRE(now.bn->num_batches_tracked.item<int64_t>() == 0);
  REQUIRE(now.bn->running_var[0].item<float>() == 4.0f);
}
