// normlab/models/pickle.hpp: data.pkl's unpickler and pickler. Pickles that Python 3's own
// pickle module wrote (protocols 2 and 4, bytes below as pickletools prints them) read back to
// their values; the pickler writes torch.save's opcodes byte for byte; hostile pickles (deep
// nests, cycles, calls that are not part of a state_dict) are refused by name, without recursion.
// Whole torch.save files are in state_dict_test.cpp and state_dict_hostile_test.cpp.
#include <catch2/catch.hpp>
#include <normlab/models/pickle.hpp>

#include <cstdint>
#include <string>
#include <vector>

using namespace normlab;
using normlab::detail::pickle::Pickler;
using normlab::detail::pickle::Unpickler;
using Kind = normlab::detail::pickle::Value::Kind;
namespace pickle = normlab::detail::pickle;

namespace {

/// Bytes from hex text ("80 02 7d"), as Python's bytes.hex(' ') prints them.
std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 3) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return out;
}

std::string repeated(const std::string& unit, std::size_t n) {
  std::string out;
  out.reserve(unit.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += unit;
  return out;
}

/// What Unpickler::run() throws for these bytes ("" if it does not throw).
std::string unpickle_error(const std::string& bytes) {
  try {
    Unpickler u(bytes.data(), bytes.size());
    u.run();
  } catch (const StateDictError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the unpickler reads what Python's pickle writes, protocols 2 and 4", "[models][pickle]") {
  // pickle.dumps({"a": [1, -2, 300, 2**40, -2**40, 1.5, "x", True, None], "t": (7,)}, protocol=p):
  // BININT1, BININT, BININT2, LONG1 both signs, BINFLOAT, BINUNICODE / SHORT_BINUNICODE, NEWTRUE,
  // NONE, TUPLE1, BINPUT / MEMOIZE, FRAME.
  const std::string v2 = from_hex(
      "80 02 7d 71 00 28 58 01 00 00 00 61 71 01 5d 71 02 28 4b 01 4a fe ff ff ff 4d 2c 01 8a 06 00 00 00 00 00 01 "
      "8a 06 00 00 00 00 00 ff 47 3f f8 00 00 00 00 00 00 58 01 00 00 00 78 71 03 88 4e 65 58 01 00 00 00 74 71 04 "
      "4b 07 85 71 05 75 2e");
  const std::string v4 = from_hex(
      "80 04 95 3e 00 00 00 00 00 00 00 7d 94 28 8c 01 61 94 5d 94 28 4b 01 4a fe ff ff ff 4d 2c 01 8a 06 00 00 00 "
      "00 00 01 8a 06 00 00 00 00 00 ff 47 3f f8 00 00 00 00 00 00 8c 01 78 94 88 4e 65 8c 01 74 94 4b 07 85 94 75 "
      "2e");
  for (const std::string* bytes : {&v2, &v4}) {
    Unpickler u(bytes->data(), bytes->size());
    const auto root = u.run();
    REQUIRE(root->kind == Kind::Dict);
    REQUIRE(root->entries.size() == 2);
    CHECK(root->entries[0].first->text == "a");
    const auto& list = root->entries[0].second;
    REQUIRE(list->kind == Kind::List);
    REQUIRE(list->items.size() == 9);
    CHECK(list->items[0]->integer == 1);
    CHECK(list->items[1]->integer == -2);
    CHECK(list->items[2]->integer == 300);
    CHECK(list->items[3]->integer == int64_t{1} << 40);
    CHECK(list->items[4]->integer == -(int64_t{1} << 40));
    CHECK(list->items[5]->kind == Kind::Float);
    CHECK(list->items[5]->real == 1.5);
    CHECK(list->items[6]->text == "x");
    CHECK(list->items[7]->kind == Kind::Bool);
    CHECK(list->items[7]->boolean);
    CHECK(list->items[8]->kind == Kind::None);
    CHECK(root->entries[1].first->text == "t");
    const auto& tuple = root->entries[1].second;
    REQUIRE(tuple->kind == Kind::Tuple);
    REQUIRE(tuple->items.size() == 1);
    CHECK(tuple->items[0]->integer == 7);
    CHECK(root->depth == 3);  // dict > list > int
  }
}

TEST_CASE("the pickler writes torch.save's opcodes byte for byte", "[models][pickle]") {
  Pickler p;
  p.proto();
  p.integer(5);
  p.integer(300);
  p.integer(-1);
  p.integer(int64_t{1} << 40);
  p.str("ab");
  p.global("torch", "FloatStorage");
  p.ints({2, 3});
  p.empty_ordered_dict();
  CHECK(p.bytes == from_hex("80 02 4b 05 4a 2c 01 00 00 4a ff ff ff ff 8a 08 00 00 00 00 00 01 00 00 "
                            "58 02 00 00 00 61 62 "
                            "63 74 6f 72 63 68 0a 46 6c 6f 61 74 53 74 6f 72 61 67 65 0a "
                            "28 4b 02 4b 03 74 "
                            "63 63 6f 6c 6c 65 63 74 69 6f 6e 73 0a 4f 72 64 65 72 65 64 44 69 63 74 0a 29 52 "));
}

TEST_CASE("a state_dict's pickle reads back as tensor descriptions and the storages they name", "[models][pickle]") {
  // What save_state_dict writes for {"fc.weight": a [2, 3] view at offset 2 of 8 doubles}.
  Pickler p;
  p.proto();
  p.empty_ordered_dict();
  p.op('(');
  p.str("fc.weight");
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.op('(');
  p.op('(');
  p.str("storage");
  p.global("torch", pickle::storage_class(torch::kFloat64));
  p.str("0");
  p.str("cpu");
  p.integer(8);
  p.op('t');
  p.op('Q');
  p.integer(2);
  p.ints({2, 3});
  p.ints({3, 1});
  p.op('\x89');
  p.empty_ordered_dict();
  p.op('t');
  p.op('R');
  p.op('u');
  p.op('.');
  Unpickler u(p.bytes.data(), p.bytes.size());
  const auto root = u.run();
  REQUIRE(root->kind == Kind::Dict);
  REQUIRE(root->entries.size() == 1);
  CHECK(root->entries[0].first->text == "fc.weight");
  const auto& t = root->entries[0].second;
  REQUIRE(t->kind == Kind::Tensor);
  CHECK(t->stored.storage == "0");
  CHECK(t->stored.offset == 2);
  CHECK(t->stored.sizes == std::vector<int64_t>{2, 3});
  CHECK(t->stored.strides == std::vector<int64_t>{3, 1});
  REQUIRE(u.storages().size() == 1);
  CHECK(u.storages().at("0").dtype == torch::kFloat64);
  CHECK(u.storages().at("0").numel == 8);
}

TEST_CASE("storage classes and dtypes map both ways, as torch.save names them", "[models][pickle]") {
  for (auto dtype : {torch::kFloat64, torch::kFloat32, torch::kFloat16, torch::kBFloat16, torch::kInt64, torch::kInt32,
                     torch::kInt16, torch::kInt8, torch::kUInt8, torch::kBool, torch::kComplexFloat,
                     torch::kComplexDouble}) {
    torch::ScalarType back = torch::kQInt8;
    REQUIRE(pickle::storage_dtype("torch." + pickle::storage_class(dtype), back));
    CHECK(back == dtype);
  }
  CHECK(pickle::storage_class(torch::kFloat32) == "FloatStorage");
  CHECK(pickle::storage_class(torch::kUInt8) == "ByteStorage");
  torch::ScalarType unused;
  CHECK_FALSE(pickle::storage_dtype("torch.QInt8Storage", unused));
  CHECK_THROWS_WITH(pickle::storage_class(torch::kQInt8), Catch::Contains("no torch.save storage type for dtype QInt8"));
}

TEST_CASE("view_outside_storage says why a view leaves its storage, or nothing", "[models][pickle]") {
  CHECK(pickle::view_outside_storage(0, {2, 3}, {3, 1}, 6) == "");
  CHECK(pickle::view_outside_storage(2, {2, 3}, {3, 1}, 8) == "");
  CHECK(pickle::view_outside_storage(6, {0, 3}, {3, 1}, 6) == "");  // empty, at the very end
  CHECK(pickle::view_outside_storage(0, {2, 3}, {3, 1}, 5) ==
        "a tensor reaches past the end of its storage (5 elements; its last element would be number 5)");
  CHECK(pickle::view_outside_storage(0, {2}, {1, 1}, 4) == "size and stride of different lengths");
  CHECK(pickle::view_outside_storage(-1, {1}, {1}, 4) == "negative storage offset -1");
  CHECK(pickle::view_outside_storage(0, {-1}, {1}, 4) == "negative size or stride");
  CHECK(pickle::view_outside_storage(7, {0}, {1}, 6) == "storage offset 7 past the end of its storage (6 elements)");
}

TEST_CASE("the unpickler names what it refuses and where", "[models][pickle]") {
  CHECK(unpickle_error(from_hex("80 02 ff")) == "data.pkl: unsupported pickle opcode 0xff at byte 2");
  CHECK(unpickle_error(from_hex("80 02 58 05 00 00 00 61")) == "data.pkl: truncated at byte 6");
  CHECK(unpickle_error(from_hex("80 02 58 ff ff 00 00 61")) == "data.pkl: string longer than the file at byte 6");
  CHECK(unpickle_error(from_hex("80 02 4b")) == "data.pkl: truncated at byte 2");
  CHECK(unpickle_error(from_hex("80 02 68 03")) == "data.pkl: memo entry 3 read before it was written at byte 3");
  // os.system("x") as a REDUCE (GLOBAL 'os system', BINUNICODE 'x', TUPLE1): the classic pickle
  // exploit, refused by name.
  CHECK_THAT(unpickle_error(from_hex("80 02 63 6f 73 0a 73 79 73 74 65 6d 0a 58 01 00 00 00 78 85 52 2e")),
             Catch::Contains("the pickle calls os.system, which is not part of a state_dict of dense tensors"));
}

TEST_CASE("deep nests of tuples, lists and dicts are refused with a named error, without recursion",
          "[models][pickle][hostile]") {
  const std::string proto = "\x80\x02";
  for (std::size_t n : {std::size_t{100'000}, std::size_t{1'000'000}, std::size_t{10'000'000}}) {
    INFO(n << " deep");
    // ((((...)))) with TUPLE1: the stack stays at one entry; the depth limit stops it at 1001.
    CHECK_THAT(unpickle_error(proto + ")" + repeated("\x85", n) + "."),
               Catch::Contains("containers nested more than 1000 deep"));
    // MARK ( ... ) TUPLE: past 100,000 open MARKs the MARK limit refuses them; 100,000 fit, and
    // the depth limit stops the TUPLEs.
    CHECK_THAT(unpickle_error(proto + repeated("(", n) + ")" + repeated("t", n) + "."),
               Catch::Contains(n > 100'000 ? "more than 100000 open MARKs" : "containers nested more than 1000 deep"));
    // n empty lists, then n APPENDs: past 100,000 the stack limit refuses them before they are all
    // made; 100,000 fit, and the depth limit stops the APPENDs.
    CHECK_THAT(unpickle_error(proto + repeated("]", n) + repeated("a", n) + "."),
               Catch::Contains(n > 100'000 ? "more than 100000 objects on the pickle stack"
                                           : "containers nested more than 1000 deep"));
    // {k: {k: {...}}}: as deep, with SETITEM.
    CHECK_THAT(unpickle_error(proto + "}" + repeated("K\x01}", n) + repeated("s", n) + "."),
               Catch::Contains("more than 100000 objects on the pickle stack"));
  }
  // Under the stack limit, the depth limit stops lists and dicts.
  CHECK_THAT(unpickle_error(proto + repeated("]", 5000) + repeated("a", 5000) + "."),
             Catch::Contains("containers nested more than 1000 deep"));
  CHECK_THAT(unpickle_error(proto + "}" + repeated("K\x01}", 5000) + repeated("s", 5000) + "."),
             Catch::Contains("containers nested more than 1000 deep"));
  // _rebuild_from_type_v2(f, None, (_rebuild_from_type_v2, None, (... (OrderedDict, None, ())))):
  // the argument tuples are the nest, REDUCE unwraps it in a loop.
  auto rebuild = [&](int levels) {
    std::string s = proto + "ctorch._tensor\n_rebuild_from_type_v2\nq\x01" + repeated("h\x01N", levels) +
                    "ccollections\nOrderedDict\nN)\x87" + repeated("\x87", levels) + "R.";
    return unpickle_error(s);
  };
  CHECK(rebuild(500).empty());  // unwraps to OrderedDict()
  CHECK_THAT(rebuild(5000), Catch::Contains("containers nested more than 1000 deep"));
  CHECK_THAT(rebuild(100'000), Catch::Contains("more than 100000 objects on the pickle stack"));
  // A nest of 1000 is what Python could have written: accepted (and not a state_dict).
  CHECK(unpickle_error(proto + ")" + repeated("\x85", 999) + ".").empty());
}

TEST_CASE("a chain deeper than the recorded depth, and a list holding itself, are freed without recursion",
          "[models][pickle][hostile]") {
  // 90,000 lists L_i, memoized and held by one list; then L_i appended into L_{i+1} from the end
  // backwards, so each APPEND sees a list of depth 1: the recorded depth stays 2, the chain is
  // 90,000 deep. Freed recursively, it would overflow an 8 MB stack.
  const int n = 90'000;
  // LONG_BINPUT 'r' / LONG_BINGET 'j' with a 4-byte little-endian memo index.
  auto memo_op = [](std::string& out, char op, int i) {
    out.push_back(op);
    for (int b = 0; b < 4; ++b) out.push_back(static_cast<char>((static_cast<uint32_t>(i) >> (8 * b)) & 0xff));
  };
  std::string pkl = "\x80\x02]";
  for (int i = 0; i < n; ++i) {
    pkl.push_back(']');
    memo_op(pkl, 'r', i);
    pkl.push_back('a');
  }
  for (int i = n - 2; i >= 0; --i) {
    memo_op(pkl, 'j', i + 1);
    memo_op(pkl, 'j', i);
    pkl.push_back('a');
  }
  pkl += ".";
  {
    Unpickler u(pkl.data(), pkl.size());
    const auto top = u.run();  // L_1, which holds L_0
    REQUIRE(top->kind == normlab::detail::pickle::Value::Kind::List);
    REQUIRE(top->items.size() == 1);
  }  // freed here
  // A list appended to itself: run() returns it; the unpickler's destructor breaks the cycle
  // (LeakSanitizer checks this in the sanitizer build).
  const std::string cycle("\x80\x02]q\x00h\x00" "a.", 9);  // "a" split off: \x00a would be one escape
  Unpickler u(cycle.data(), cycle.size());
  const auto list = u.run();
  REQUIRE(list->items.size() == 1);
  REQUIRE(list->items[0] == list);
}
