#pragma once
// Python's `torch.save(model.state_dict(), path)` files, read and written from C++ without Python.
//
// The file is a zip archive (PyTorch >= 1.6): <folder>/data.pkl (a pickle, protocol 2, of an
// OrderedDict name -> tensor), <folder>/data/<key> (the raw little-endian bytes of each storage) and
// <folder>/version; <folder> is "archive" or the saved file's stem. The zip is read and written with
// LibTorch's own caffe2::serialize::PyTorchStreamReader/Writer (the same code as torch.save and
// torch.load; in LibTorch 1.13 and 2.x alike). data.pkl is read by a small unpickler of our own,
// which knows the opcodes and globals torch.save uses for a state_dict of dense tensors, and rebuilds
// each tensor from its storage (dtype, storage offset, sizes, strides: views keep sharing storage).
//
//   auto entries = normlab::read_state_dict("resnet18.pt");          // [(name, tensor)], file order
//   normlab::load_state_dict(*net, "resnet18.pt");                   // by name, strict
//   normlab::save_state_dict(*net, "from_cpp.pt");                   // torch.load() reads it
//
// Files in the legacy format (PyTorch < 1.6, or _use_new_zipfile_serialization=False; torchvision's
// older downloads) are recognised and refused with the one-line fix: scripts/convert_legacy_checkpoint.py.
// See docs/models.md.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

namespace normlab {

/// Why a state_dict file could not be read or did not fit a module.
struct StateDictError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// What load_state_dict() did not find (module entries absent from the file) and did not use (file
/// entries the module lacks), as Python's `_IncompatibleKeys`. Both are empty after a strict load.
struct LoadStateDictResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
};

namespace detail::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

/// How far a hostile data.pkl may go before it is refused. torch.save's own files stay far below:
/// a state_dict nests 5 deep, and Python's pickler batches SETITEMS by 1000, so its stack stays
/// near 2000 entries whatever the model's size.
struct Limits {
  /// Containers inside containers; Python itself cannot pickle deeper than its recursion limit (1000).
  std::size_t max_depth = 1000;
  /// Entries on the unpickler's stack, and open MARKs: 100,000 live objects are ~20 MB.
  std::size_t max_stack = 100'000;
  /// Objects made in all (a state_dict needs about 20 per tensor): bounds memory, ~200 B each,
  /// where a compressed data.pkl would otherwise unpack to millions of empty lists.
  std::size_t max_objects = 5'000'000;
};

/// A tensor as data.pkl describes it: a view (offset, sizes, strides, in elements) of a storage
/// named by its key. Nothing is read from the archive until the file is materialised, so a file
/// that does not fit a module is refused from this description alone.
struct StoredTensor {
  std::string storage;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

/// A storage's description in data.pkl: its element type and its number of elements.
struct StorageInfo {
  torch::ScalarType dtype;
  int64_t numel;
};

/// One unpickled object. Only what a state_dict holds: scalars, strings, containers, globals
/// (as "module.name"), storages and tensors.
struct Value {
  enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Storage, Tensor };
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;                                   ///< String, Bytes, Global ("module.name"), Storage (key)
  std::vector<ValuePtr> items;                        ///< Tuple, List
  std::vector<std::pair<ValuePtr, ValuePtr>> entries; ///< Dict (OrderedDict), in insertion order
  ValuePtr state;                                     ///< Dict: what BUILD set (OrderedDict's __dict__)
  StoredTensor stored;                                ///< Tensor
  std::size_t depth = 1;                              ///< 1 + the deepest container inside (as recorded)

  static ValuePtr make(Kind k) {
    auto v = std::make_shared<Value>();
    v->kind = k;
    return v;
  }
};

inline const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::String: return "str";
    case Value::Kind::Bytes: return "bytes";
    case Value::Kind::Tuple: return "tuple";
    case Value::Kind::List: return "list";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Global: return "global";
    case Value::Kind::Storage: return "storage";
    case Value::Kind::Tensor: return "tensor";
  }
  return "?";
}

/// Storage class name (torch.FloatStorage, ...) -> dtype.
inline bool storage_dtype(const std::string& global, torch::ScalarType& out) {
  static const std::map<std::string, torch::ScalarType> types = {
      {"torch.DoubleStorage", torch::kFloat64},   {"torch.FloatStorage", torch::kFloat32},
      {"torch.HalfStorage", torch::kFloat16},     {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kInt64},       {"torch.IntStorage", torch::kInt32},
      {"torch.ShortStorage", torch::kInt16},      {"torch.CharStorage", torch::kInt8},
      {"torch.ByteStorage", torch::kUInt8},       {"torch.BoolStorage", torch::kBool},
      {"torch.ComplexFloatStorage", torch::kComplexFloat},
      {"torch.ComplexDoubleStorage", torch::kComplexDouble}};
  const auto it = types.find(global);
  if (it == types.end()) return false;
  out = it->second;
  return true;
}

/// dtype -> the storage class torch.save names for it (inverse of storage_dtype).
inline std::string storage_class(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat64: return "DoubleStorage";
    case torch::kFloat32: return "FloatStorage";
    case torch::kFloat16: return "HalfStorage";
    case torch::kBFloat16: return "BFloat16Storage";
    case torch::kInt64: return "LongStorage";
    case torch::kInt32: return "IntStorage";
    case torch::kInt16: return "ShortStorage";
    case torch::kInt8: return "CharStorage";
    case torch::kUInt8: return "ByteStorage";
    case torch::kBool: return "BoolStorage";
    case torch::kComplexFloat: return "ComplexFloatStorage";
    case torch::kComplexDouble: return "ComplexDoubleStorage";
    default:
      throw StateDictError(std::string("normlab::save_state_dict: no torch.save storage type for dtype ") +
                           c10::toString(t));
  }
}

/// a + b and a * b, or false where int64 would overflow (a hostile file's sizes wrap otherwise).
inline bool add_ok(int64_t a, int64_t b, int64_t& out) { return !__builtin_add_overflow(a, b, &out); }
inline bool mul_ok(int64_t a, int64_t b, int64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

/// Why a view (offset, sizes, strides) does not lie inside a storage of `storage_numel` elements,
/// or "" when it does: offset <= storage_numel and, unless the view is empty, every element it
/// can reach, offset + sum((size - 1) * stride), is below storage_numel. Overflow-checked.
inline std::string view_outside_storage(int64_t offset, const std::vector<int64_t>& sizes,
                                        const std::vector<int64_t>& strides, int64_t storage_numel) {
  if (sizes.size() != strides.size()) return "size and stride of different lengths";
  if (offset < 0) return "negative storage offset " + std::to_string(offset);
  if (offset > storage_numel)
    return "storage offset " + std::to_string(offset) + " past the end of its storage (" +
           std::to_string(storage_numel) + " elements)";
  int64_t numel = 1, last = offset;
  bool overflow = false;
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0 || strides[d] < 0) return "negative size or stride";
    if (!mul_ok(numel, sizes[d], numel)) overflow = true;
  }
  if (!overflow && numel == 0) return "";
  if (overflow) return "a tensor of more elements than int64 holds";
  for (std::size_t d = 0; d < sizes.size(); ++d) {
    int64_t reach = 0;
    if (!mul_ok(sizes[d] - 1, strides[d], reach) || !add_ok(last, reach, last))
      return "a tensor reaches past the end of its storage (" + std::to_string(storage_numel) +
             " elements; its last element's index overflows int64)";
  }
  if (last >= storage_numel)
    return "a tensor reaches past the end of its storage (" + std::to_string(storage_numel) +
           " elements; its last element would be number " + std::to_string(last) + ")";
  return "";
}

/// The unpickler: a stack machine over data.pkl's bytes (pickle protocols 2 to 5, the subset that
/// torch.save writes for a state_dict). It reads no storage: tensors come out as StoredTensor
/// descriptions, already checked to lie inside their storage's declared size, and storages() says
/// what each key holds. Bounded by Limits: stack, MARKs and nesting depth; nothing recurses.
class Unpickler {
 public:
  Unpickler(const char* data, std::size_t size, Limits limits = {})
      : data_(data), size_(size), limits_(limits) {}
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;

  /// Empties every container this unpickler made, so that a hostile pickle's reference cycles
  /// (a list appended to itself through the memo) are freed and a deep chain is freed without
  /// recursion. The values run() returned are emptied too: copy what you need first.
  ~Unpickler() {
    std::vector<ValuePtr> children;
    for (auto& c : containers_) {
      for (auto& i : c->items) children.push_back(std::move(i));
      for (auto& [k, v] : c->entries) {
        children.push_back(std::move(k));
        children.push_back(std::move(v));
      }
      if (c->state) children.push_back(std::move(c->state));
      c->items.clear();
      c->entries.clear();
    }
  }

  /// The storages data.pkl named: key -> (dtype, number of elements), as first declared.
  const std::map<std::string, StorageInfo>& storages() const { return storages_; }

  ValuePtr run() {
    while (true) {
      const auto op = static_cast<unsigned char>(byte());
      switch (op) {
        case 0x80: byte(); break;                         // PROTO
        case 0x95: bytes(8); break;                       // FRAME (protocol 4): ignore
        case '(':                                         // MARK
          if (marks_.size() >= limits_.max_stack) fail(too_many("open MARKs"));
          marks_.push_back(stack_.size());
          break;
        case '.': return pop();                           // STOP
        case 'N': push(make(Value::Kind::None)); break;
        case 0x88: push(boolean(true)); break;            // NEWTRUE
        case 0x89: push(boolean(false)); break;           // NEWFALSE
        case 'J': push(integer(static_cast<int32_t>(le(4)))); break;  // BININT
        case 'K': push(integer(static_cast<int64_t>(le(1)))); break;  // BININT1
        case 'M': push(integer(static_cast<int64_t>(le(2)))); break;  // BININT2
        case 0x8a: push(integer(long1(le(1)))); break;                // LONG1
        case 'G': push(real(binfloat())); break;                      // BINFLOAT
        case 'X': push(string(Value::Kind::String, le(4))); break;    // BINUNICODE
        case 0x8c: push(string(Value::Kind::String, le(1))); break;   // SHORT_BINUNICODE
        case 0x8d: push(string(Value::Kind::String, le(8))); break;   // BINUNICODE8
        case 'T': push(string(Value::Kind::String, le(4))); break;    // BINSTRING
        case 'U': push(string(Value::Kind::String, le(1))); break;    // SHORT_BINSTRING
        case 'B': push(string(Value::Kind::Bytes, le(4))); break;     // BINBYTES
        case 'C': push(string(Value::Kind::Bytes, le(1))); break;     // SHORT_BINBYTES
        case '}': push(container(Value::Kind::Dict)); break;          // EMPTY_DICT
        case ']': push(container(Value::Kind::List)); break;          // EMPTY_LIST
        case ')': push(container(Value::Kind::Tuple)); break;         // EMPTY_TUPLE
        case 't': push(sequence(Value::Kind::Tuple, pop_mark())); break;  // TUPLE
        case 'l': push(sequence(Value::Kind::List, pop_mark())); break;   // LIST
        case 0x85: push(sequence(Value::Kind::Tuple, pop_n(1))); break;   // TUPLE1
        case 0x86: push(sequence(Value::Kind::Tuple, pop_n(2))); break;   // TUPLE2
        case 0x87: push(sequence(Value::Kind::Tuple, pop_n(3))); break;   // TUPLE3
        case 'a': {                                                       // APPEND
          auto v = pop();
          auto list = expect(top(), Value::Kind::List, "APPEND");
          contain(*list, *v);
          list->items.push_back(v);
          break;
        }
        case 'e': {                                                       // APPENDS
          auto items = pop_mark();
          auto target = expect(top(), Value::Kind::List, "APPENDS");
          for (const auto& i : items) contain(*target, *i);
          target->items.insert(target->items.end(), items.begin(), items.end());
          break;
        }
        case 's': {                                                       // SETITEM
          auto v = pop();
          auto k = pop();
          auto dict = expect(top(), Value::Kind::Dict, "SETITEM");
          contain(*dict, *k);
          contain(*dict, *v);
          dict->entries.emplace_back(k, v);
          break;
        }
        case 'u': {                                                       // SETITEMS
          auto kv = pop_mark();
          if (kv.size() % 2) fail("SETITEMS with an odd number of items");
          auto dict = expect(top(), Value::Kind::Dict, "SETITEMS");
          for (const auto& i : kv) contain(*dict, *i);
          for (std::size_t i = 0; i < kv.size(); i += 2) dict->entries.emplace_back(kv[i], kv[i + 1]);
          break;
        }
        case 'c': {                                                       // GLOBAL
          auto module = line();
          auto name = line();
          push(global(module + "." + name));
          break;
        }
        case 0x93: {                                                      // STACK_GLOBAL
          auto name = expect(pop(), Value::Kind::String, "STACK_GLOBAL");
          auto module = expect(pop(), Value::Kind::String, "STACK_GLOBAL");
          push(global(module->text + "." + name->text));
          break;
        }
        case 'q': memo_[le(1)] = top(); break;                  // BINPUT
        case 'r': memo_[le(4)] = top(); break;                  // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;          // MEMOIZE
        case 'h': push(memo(le(1))); break;                     // BINGET
        case 'j': push(memo(le(4))); break;                     // LONG_BINGET
        case 'Q': push(persistent_load(pop())); break;          // BINPERSID
        case 'R': {                                             // REDUCE
          auto args = pop();
          auto callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 0x81: {                                            // NEWOBJ (cls.__new__(cls, *args))
          auto args = pop();
          auto cls = pop();
          push(reduce(cls, args));
          break;
        }
        case 'b': {                                             // BUILD
          auto state = pop();
          auto& target = top();
          if (target->kind == Value::Kind::Dict) {  // OrderedDict._metadata
            contain(*target, *state);
            target->state = state;
          }
          // A tensor's BUILD (Parameter state, tensor subclasses' __dict__) changes no value: ignored.
          break;
        }
        default: {
          char hex[8];
          std::snprintf(hex, sizeof hex, "0x%02x", op);
          fail(std::string("unsupported pickle opcode ") + hex);
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw StateDictError("data.pkl: " + what + " at byte " + std::to_string(pos_ > 0 ? pos_ - 1 : 0));
  }

  char byte() {
    if (pos_ >= size_) fail("truncated");
    return data_[pos_++];
  }
  const char* bytes(std::size_t n) {
    if (n > size_ - pos_) fail("truncated");
    const char* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint64_t le(std::size_t n) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes(n));
    uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
  }
  int64_t long1(uint64_t n) {
    if (n > 8) fail("LONG1 of " + std::to_string(n) + " bytes (larger than int64)");
    if (n == 0) return 0;
    uint64_t v = le(n);
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }
  double binfloat() {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes(8));
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  std::string line() {
    const auto start = pos_;
    while (byte() != '\n') {
    }
    return std::string(data_ + start, pos_ - 1 - start);
  }

  ValuePtr boolean(bool b) {
    auto v = make(Value::Kind::Bool);
    v->boolean = b;
    return v;
  }
  ValuePtr integer(int64_t i) {
    auto v = make(Value::Kind::Int);
    v->integer = i;
    return v;
  }
  ValuePtr real(double d) {
    auto v = make(Value::Kind::Float);
    v->real = d;
    return v;
  }
  ValuePtr global(std::string name) {
    auto v = make(Value::Kind::Global);
    v->text = std::move(name);
    return v;
  }
  ValuePtr string(Value::Kind kind, uint64_t n) {
    if (n > size_) fail("string longer than the file");
    auto v = make(kind);
    const char* p = bytes(static_cast<std::size_t>(n));
    v->text.assign(p, static_cast<std::size_t>(n));
    return v;
  }
  ValuePtr make(Value::Kind kind) {
    if (++made_ > limits_.max_objects)
      fail("more than " + std::to_string(limits_.max_objects) +
           " objects (a state_dict needs about 20 per tensor); not a state_dict, or raise Limits::max_objects");
    return Value::make(kind);
  }
  ValuePtr container(Value::Kind kind) {
    auto v = make(kind);
    containers_.push_back(v);
    return v;
  }
  ValuePtr sequence(Value::Kind kind, std::vector<ValuePtr> items) {
    auto v = container(kind);
    for (const auto& i : items) contain(*v, *i);
    v->items = std::move(items);
    return v;
  }
  /// Records that `outer` now holds `inner`; refuses nesting deeper than Limits::max_depth, before
  /// anything (destruction, a reader of the result) could recurse that deep.
  void contain(Value& outer, const Value& inner) {
    outer.depth = std::max(outer.depth, inner.depth + 1);
    if (outer.depth > limits_.max_depth)
      fail("containers nested more than " + std::to_string(limits_.max_depth) +
           " deep (torch.save's state_dict nests 5 deep); not a state_dict");
  }
  std::string too_many(const char* what) const {
    return "more than " + std::to_string(limits_.max_stack) + " " + what +
           " (torch.save's state_dict needs about 2000); not a state_dict";
  }

  void push(ValuePtr v) {
    if (stack_.size() >= limits_.max_stack) fail(too_many("objects on the pickle stack"));
    stack_.push_back(std::move(v));
  }
  ValuePtr& top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() == marks_.back())) fail("stack underflow");
    return stack_.back();
  }
  ValuePtr pop() {
    auto v = top();
    stack_.pop_back();
    return v;
  }
  std::vector<ValuePtr> pop_n(std::size_t n) {
    const std::size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() < floor + n) fail("stack underflow");
    std::vector<ValuePtr> items(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    return items;
  }
  std::vector<ValuePtr> pop_mark() {
    if (marks_.empty()) fail("no MARK");
    const auto at = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(at), stack_.end());
    stack_.resize(at);
    return items;
  }
  ValuePtr memo(uint64_t i) {
    const auto it = memo_.find(i);
    if (it == memo_.end()) fail("memo entry " + std::to_string(i) + " read before it was written");
    return it->second;
  }
  ValuePtr expect(ValuePtr v, Value::Kind k, const char* op) {
    if (v->kind != k)
      fail(std::string(op) + " expected a " + kind_name(k) + ", got a " + kind_name(v->kind));
    return v;
  }
  int64_t int_arg(const ValuePtr& v, const char* what) {
    if (v->kind != Value::Kind::Int) fail(std::string(what) + " is not an int");
    return v->integer;
  }
  std::vector<int64_t> ints(const ValuePtr& v, const char* what) {
    if (v->kind != Value::Kind::Tuple && v->kind != Value::Kind::List)
      fail(std::string(what) + " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& i : v->items) out.push_back(int_arg(i, what));
    return out;
  }

  /// ('storage', torch.<T>Storage, key, location, numel): the storage data/<key>, described.
  ValuePtr persistent_load(const ValuePtr& pid) {
    if (pid->kind != Value::Kind::Tuple || pid->items.size() < 5 || pid->items[0]->kind != Value::Kind::String ||
        pid->items[0]->text != "storage")
      fail("persistent id is not a ('storage', type, key, location, numel) tuple");
    const auto& type = pid->items[1];
    const auto& key = pid->items[2];
    torch::ScalarType dtype;
    if (type->kind != Value::Kind::Global || !storage_dtype(type->text, dtype))
      fail("unsupported storage type " + (type->kind == Value::Kind::Global ? type->text : std::string("?")));
    if (key->kind != Value::Kind::String) fail("storage key is not a string");
    const int64_t numel = int_arg(pid->items[4], "storage size");
    if (numel < 0) fail("negative storage size");
    // As torch.load, a key seen again means the storage first declared under it.
    storages_.emplace(key->text, StorageInfo{dtype, numel});
    auto v = make(Value::Kind::Storage);
    v->text = key->text;
    return v;
  }

  /// The calls torch.save pickles for a state_dict; anything else is refused by name.
  ValuePtr reduce(ValuePtr callable, ValuePtr args) {
    // A tensor subclass: _rebuild_from_type_v2(func, type, args, state) -> func(*args), unwrapped
    // in a loop (a hostile file may nest it; the depth limit already bounds how far).
    while (callable->kind == Value::Kind::Global && callable->text == "torch._tensor._rebuild_from_type_v2") {
      if (args->kind != Value::Kind::Tuple) fail("REDUCE arguments are not a tuple");
      if (args->items.size() < 3) fail(callable->text + " with too few arguments");
      auto inner_args = args->items[2];
      callable = args->items[0];
      args = std::move(inner_args);
    }
    if (callable->kind != Value::Kind::Global) fail("REDUCE of a non-global callable");
    if (args->kind != Value::Kind::Tuple) fail("REDUCE arguments are not a tuple");
    const auto& name = callable->text;
    const auto& a = args->items;
    if (name == "collections.OrderedDict" || name == "builtins.dict") {
      if (!a.empty()) fail(name + " called with arguments");
      return container(Value::Kind::Dict);
    }
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
      if (a.size() < 4) fail(name + " with " + std::to_string(a.size()) + " arguments");
      if (a[0]->kind != Value::Kind::Storage) fail(name + ": first argument is not a storage");
      StoredTensor t;
      t.storage = a[0]->text;
      t.offset = int_arg(a[1], "storage offset");
      t.sizes = ints(a[2], "tensor size");
      t.strides = ints(a[3], "tensor stride");
      const auto why = view_outside_storage(t.offset, t.sizes, t.strides, storages_.at(t.storage).numel);
      if (!why.empty()) fail(name + ": " + why);
      auto v = make(Value::Kind::Tensor);
      v->stored = std::move(t);
      return v;
    }
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || a[0]->kind != Value::Kind::Tensor) fail(name + ": first argument is not a tensor");
      return a[0];
    }
    fail("the pickle calls " + name +
         ", which is not part of a state_dict of dense tensors (normlab reads what "
         "torch.save(model.state_dict(), path) writes)");
  }

  const char* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  Limits limits_;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::map<std::string, StorageInfo> storages_;
  std::size_t made_ = 0;
  std::vector<ValuePtr> containers_;  ///< every tuple, list and dict made, emptied by the destructor
};

// ---- writing ---------------------------------------------------------------------------------

/// A protocol-2 pickle of OrderedDict{name: _rebuild_tensor_v2(storage i, 0, size, stride, False,
/// OrderedDict())} with persistent ids ('storage', torch.<T>Storage, "i", "cpu", numel): the same
/// opcodes torch.save writes (and that torch.load(weights_only=True) accepts).
class Pickler {
 public:
  std::string bytes;

  void proto() { bytes += "\x80\x02"; }
  void op(char c) { bytes += c; }
  void global(const std::string& module, const std::string& name) { bytes += 'c' + module + '\n' + name + '\n'; }
  void str(const std::string& s) {
    bytes += 'X';
    put_le(s.size(), 4);
    bytes += s;
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      bytes += 'K';
      put_le(static_cast<uint64_t>(v), 1);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      bytes += 'J';
      put_le(static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v))), 4);
    } else {
      bytes += '\x8a';
      bytes += '\x08';
      put_le(static_cast<uint64_t>(v), 8);
    }
  }
  void ints(const std::vector<int64_t>& v) {
    op('(');
    for (auto i : v) integer(i);
    op('t');
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(')');
    op('R');
  }

 private:
  void put_le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes += static_cast<char>((v >> (8 * i)) & 0xff);
  }
};

}  // namespace detail::pickle

namespace detail {

/// A module's state in Python's state_dict order: for each module (pre-order, registration
/// order), its own parameters, then its own buffers, then its children's.
inline void state_entries(const torch::nn::Module& module, const std::string& prefix,
                          std::vector<std::pair<std::string, torch::Tensor>>& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false))
    if (p.value().defined()) out.emplace_back(prefix + p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/false))
    if (b.value().defined()) out.emplace_back(prefix + b.key(), b.value());
  for (const auto& c : module.named_children()) state_entries(*c.value(), prefix + c.key() + ".", out);
}

/// What a torch.save file of a state_dict holds, as data.pkl describes it: no storage has been
/// read yet (materialise() reads them), so names and shapes can be checked first.
struct StateDictFile {
  std::string who;  ///< "normlab::read_state_dict: '<path>'", the start of every error
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  std::vector<std::pair<std::string, pickle::StoredTensor>> entries;
  std::map<std::string, pickle::StorageInfo> storages;
  std::map<std::string, int64_t> versions;  ///< _metadata: module prefix -> its state version
};

inline std::string shape_string(torch::IntArrayRef sizes) {
  std::ostringstream s;
  s << '[';
  for (std::size_t i = 0; i < sizes.size(); ++i) s << (i ? ", " : "") << sizes[i];
  s << ']';
  return s.str();
}

/// "a, b, c (and 12 more)": a list for an error message.
inline std::string key_list(const std::vector<std::string>& keys, std::size_t shown = 12) {
  std::string out;
  for (std::size_t i = 0; i < keys.size() && i < shown; ++i) out += (i ? ", " : "") + keys[i];
  if (keys.size() > shown) out += " (and " + std::to_string(keys.size() - shown) + " more)";
  return out;
}

inline std::string what_of(const c10::Error& e) {
  std::string s = e.what_without_backtrace();
  const auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

inline std::string what_of(const c10::Error& e);

/// The tensors of a StateDictFile (all of them, or those `wanted` names), in the file's order.
/// Each storage is read once, so views saved together share it; a storage's bytes are checked
/// against its record's size before its tensor is allocated.
inline std::vector<std::pair<std::string, torch::Tensor>> materialise(
    StateDictFile& file, const std::set<std::string>* wanted = nullptr) {
  try {
    std::map<std::string, torch::Tensor> loaded;
    auto storage_of = [&](const std::string& key) -> const torch::Tensor& {
      auto it = loaded.find(key);
      if (it != loaded.end()) return it->second;
      const auto& info = file.storages.at(key);
      const std::string record = "data/" + key;
      if (!file.zip->hasRecord(record))
        throw StateDictError("data.pkl names storage " + key + ", but the archive has no " + record);
      auto [ptr, n] = file.zip->getRecord(record);
      const auto element = static_cast<int64_t>(c10::elementSize(info.dtype));
      int64_t need = 0;
      if (!pickle::mul_ok(info.numel, element, need) || static_cast<uint64_t>(need) > n)
        throw StateDictError(record + " holds " + std::to_string(n) + " bytes, but its storage needs " +
                             (need ? std::to_string(need) : std::to_string(info.numel) + " elements of " +
                                                                std::to_string(element) + " bytes"));
      auto storage = torch::empty({info.numel}, torch::dtype(info.dtype));
      if (need) std::memcpy(storage.data_ptr(), ptr.get(), static_cast<std::size_t>(need));
      return loaded.emplace(key, storage).first->second;
    };
    std::vector<std::pair<std::string, torch::Tensor>> out;
    for (const auto& [name, t] : file.entries) {
      if (wanted && !wanted->count(name)) continue;
      const auto& storage = storage_of(t.storage);
      int64_t numel = 1;
      for (auto s : t.sizes) numel *= s;  // checked by the unpickler: no overflow
      out.emplace_back(name, numel == 0 ? torch::empty(t.sizes, storage.options())
                                        : storage.as_strided(t.sizes, t.strides, t.offset));
    }
    return out;
  } catch (const StateDictError& e) {
    throw StateDictError(file.who + ": " + e.what());
  } catch (const c10::Error& e) {
    throw StateDictError(file.who + ": cannot read the archive (truncated or corrupt?): " + what_of(e));
  }
}

inline StateDictFile read_state_dict_file(const std::string& path) {
  namespace fs = std::filesystem;
  using detail::pickle::Value;
  const std::string who = "normlab::read_state_dict: '" + path + "'";
  std::error_code ec;
  if (!fs::exists(path, ec)) throw StateDictError(who + ": no such file");
  if (fs::is_directory(path, ec)) throw StateDictError(who + ": is a directory, not a file");

  // Look at the first bytes before handing the file to the zip reader: say what it is instead.
  unsigned char head[4] = {0, 0, 0, 0};
  std::size_t got = 0;
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw StateDictError(who + ": cannot open the file");
    in.read(reinterpret_cast<char*>(head), sizeof head);
    got = static_cast<std::size_t>(in.gcount());
  }
  if (got == 0) throw StateDictError(who + ": empty file");
  if (!(got == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4)) {
    if (head[0] == 0x80)  // a bare pickle: torch.save's legacy format starts with a pickled magic number
      throw StateDictError(who +
                           ": legacy torch.save format (PyTorch < 1.6, or _use_new_zipfile_serialization="
                           "False), which normlab does not read; convert it once with Python: "
                           "scripts/convert_legacy_checkpoint.py " + path + " converted.pt");
    throw StateDictError(who + ": not a zip archive, so not a file written by torch.save");
  }

  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> zip;
  try {
    zip = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw StateDictError(who + ": not a readable torch.save archive (truncated or corrupt zip?): " + what_of(e));
  }
  try {
    if (!zip->hasRecord("data.pkl")) {
      if (zip->hasRecord("constants.pkl") || zip->hasRecord("code/__torch__.py"))
        throw StateDictError(who + ": a TorchScript archive (torch.jit.save); load it with torch::jit::load, "
                                   "or save model.state_dict() with torch.save");
      throw StateDictError(who + ": the zip archive holds no data.pkl, so it was not written by torch.save");
    }
    if (zip->hasRecord("byteorder")) {
      auto [ptr, n] = zip->getRecord("byteorder");
      const std::string order(static_cast<const char*>(ptr.get()), n);
      if (order.rfind("little", 0) != 0)
        throw StateDictError(who + ": written on a " + order + "-endian machine, which is not supported");
    }
    auto [pkl, pkl_size] = zip->getRecord("data.pkl");

    pickle::Unpickler unpickler(static_cast<const char*>(pkl.get()), pkl_size);
    const auto root = unpickler.run();

    StateDictFile file;
    file.who = who;
    file.storages = unpickler.storages();
    // A storage cannot hold more bytes than its archive, even deflated at zlib's best ratio
    // (1032:1; torch.save stores them uncompressed): checked before anything is allocated for it.
    const auto archive_bytes = static_cast<int64_t>(fs::file_size(path, ec));
    int64_t can_hold = INT64_MAX;
    if (!ec && __builtin_mul_overflow(archive_bytes, int64_t{1032}, &can_hold)) can_hold = INT64_MAX;
    for (const auto& [key, info] : file.storages) {
      int64_t bytes = 0;
      if (!pickle::mul_ok(info.numel, static_cast<int64_t>(c10::elementSize(info.dtype)), bytes) || bytes > can_hold)
        throw StateDictError("storage " + key + " claims " + std::to_string(info.numel) + " elements of " +
                             c10::toString(info.dtype) + ", more than a " + std::to_string(archive_bytes) +
                             "-byte archive can hold");
    }
    if (root->kind != Value::Kind::Dict)
      throw StateDictError(std::string("the file holds a ") + pickle::kind_name(root->kind) +
                           ", not a state_dict (a dict of name -> tensor)");
    std::vector<std::string> bad;
    std::set<std::string> seen;
    for (const auto& [k, v] : root->entries) {
      const std::string key = k->kind == Value::Kind::String ? k->text : std::string("<") + pickle::kind_name(k->kind) + ">";
      if (k->kind != Value::Kind::String || v->kind != Value::Kind::Tensor) {
        bad.push_back("'" + key + "' (" + pickle::kind_name(v->kind) + ")");
        continue;
      }
      if (!seen.insert(key).second) throw StateDictError("key '" + key + "' appears twice");
      file.entries.emplace_back(key, v->stored);
    }
    if (!bad.empty())
      throw StateDictError("the file holds a dict whose entries are not all name -> tensor, so not a "
                           "state_dict: " + key_list(bad) +
                           "; a training checkpoint? save (or extract in Python) model.state_dict() alone");
    // _metadata: {module prefix: {'version': n}}, set on the OrderedDict by BUILD.
    if (root->state && root->state->kind == Value::Kind::Dict)
      for (const auto& [attr, meta] : root->state->entries)
        if (attr->kind == Value::Kind::String && attr->text == "_metadata" && meta->kind == Value::Kind::Dict)
          for (const auto& [prefix, info] : meta->entries)
            if (prefix->kind == Value::Kind::String && info->kind == Value::Kind::Dict)
              for (const auto& [field, value] : info->entries)
                if (field->kind == Value::Kind::String && field->text == "version" && value->kind == Value::Kind::Int)
                  file.versions[prefix->text] = value->integer;
    file.zip = std::move(zip);
    return file;
  } catch (const StateDictError& e) {
    const std::string what = e.what();
    if (what.rfind("normlab::", 0) == 0) throw;
    throw StateDictError(who + ": " + what);
  } catch (const c10::Error& e) {
    throw StateDictError(who + ": cannot read the archive (truncated or corrupt?): " + what_of(e));
  }
}

}  // namespace detail

/// The (name, tensor) entries of a file written by `torch.save(model.state_dict(), path)`, in the
/// file's order, on the CPU, with their saved dtypes; views saved together share storage as in
/// Python. Throws StateDictError: missing file, not a zip, legacy format (with the fix), TorchScript
/// archive, not a state_dict (e.g. a checkpoint dict holding one), truncated or corrupt content.
inline std::vector<std::pair<std::string, torch::Tensor>> read_state_dict(const std::string& path) {
  auto file = detail::read_state_dict_file(path);
  return detail::materialise(file);
}

/// The (name, shape) entries of a state_dict file, from its data.pkl alone: no tensor is read, so
/// this is cheap for any file, and safe for one whose shapes are absurd. Throws as read_state_dict.
inline std::vector<std::pair<std::string, std::vector<int64_t>>> read_state_dict_shapes(const std::string& path) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  for (auto& [name, t] : detail::read_state_dict_file(path).entries) out.emplace_back(name, t.sizes);
  return out;
}

/// Copies a state_dict file into a module's parameters and buffers, by name (Python's
/// `module.load_state_dict(torch.load(path))`), converting dtype and device as Tensor::copy_ does.
/// Nothing is copied unless everything fits:
/// - a shape mismatch is always an error (as in Python), listed as "name: module [..], file [..]";
/// - with strict (the default), missing keys (module entries absent from the file) and unexpected
///   keys (file entries the module lacks) are errors too, listed together in one message;
/// - as Python's BatchNorm, a `num_batches_tracked` that a pre-0.4.1 file lacks (its _metadata
///   version < 2, or none) is set to 0 instead of being missing.
/// @param module any module (for a ModuleHolder `net`, pass `*net`)
/// @param path a torch.save file of a state_dict
/// @param strict require the file's keys and the module's to be the same set (default true)
/// @return the missing and unexpected keys (empty after a strict load)
inline LoadStateDictResult load_state_dict(torch::nn::Module& module, const std::string& path, bool strict = true) {
  auto file = detail::read_state_dict_file(path);
  std::unordered_map<std::string, const detail::pickle::StoredTensor*> in_file;
  for (const auto& [k, t] : file.entries) in_file.emplace(k, &t);

  std::vector<std::pair<std::string, torch::Tensor>> targets;
  detail::state_entries(module, "", targets);
  std::set<std::string> target_names;

  LoadStateDictResult result;
  std::vector<std::string> mismatched;
  std::vector<std::pair<std::string, torch::Tensor>> copies;  // (file entry, destination)
  std::vector<torch::Tensor> zeroed;
  const std::string suffix = "num_batches_tracked";
  for (const auto& [name, dst] : targets) {
    target_names.insert(name);
    const auto it = in_file.find(name);
    if (it == in_file.end()) {
      const bool counter = name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
      if (counter) {
        const auto prefix = name.substr(0, name.size() - suffix.size());  // "layer1.0.bn1."
        const auto module_prefix = prefix.empty() ? prefix : prefix.substr(0, prefix.size() - 1);
        const auto v = file.versions.find(module_prefix);
        const bool old = v == file.versions.end() || v->second < 2;
        if (old && in_file.count(prefix + "running_mean")) {
          zeroed.push_back(dst);
          continue;
        }
      }
      result.missing_keys.push_back(name);
      continue;
    }
    // From data.pkl's description alone: a file that does not fit is refused before it is read.
    const auto& sizes = it->second->sizes;
    if (torch::IntArrayRef(sizes) != dst.sizes()) {
      mismatched.push_back(name + ": module " + detail::shape_string(dst.sizes()) + ", file " +
                           detail::shape_string(sizes));
      continue;
    }
    copies.emplace_back(name, dst);
  }
  for (const auto& [k, t] : file.entries)
    if (!target_names.count(k)) result.unexpected_keys.push_back(k);

  const bool key_errors = strict && (!result.missing_keys.empty() || !result.unexpected_keys.empty());
  if (!mismatched.empty() || key_errors) {
    std::string msg = "normlab::load_state_dict: '" + path + "' does not fit the module (nothing was copied):";
    if (strict && !result.missing_keys.empty())
      msg += "\n  missing keys (" + std::to_string(result.missing_keys.size()) + "): " + detail::key_list(result.missing_keys);
    if (strict && !result.unexpected_keys.empty())
      msg += "\n  unexpected keys (" + std::to_string(result.unexpected_keys.size()) +
             "): " + detail::key_list(result.unexpected_keys);
    if (!mismatched.empty())
      msg += "\n  shape mismatches (" + std::to_string(mismatched.size()) + "): " + detail::key_list(mismatched, 8);
    throw StateDictError(msg);
  }
  std::set<std::string> wanted;
  for (const auto& [name, dst] : copies) wanted.insert(name);
  std::unordered_map<std::string, torch::Tensor> sources;
  for (auto& [name, t] : detail::materialise(file, &wanted)) sources.emplace(name, std::move(t));
  torch::NoGradGuard no_grad;
  for (auto& [name, dst] : copies) dst.copy_(sources.at(name));
  for (auto& dst : zeroed) dst.zero_();
  return result;
}

/// The same for a ModuleHolder (models::ResNet, torch::nn::Linear, ...).
template <class Impl>
LoadStateDictResult load_state_dict(torch::nn::ModuleHolder<Impl>& module, const std::string& path, bool strict = true) {
  return load_state_dict(*module, path, strict);
}

/// Writes a module's parameters and buffers as `torch.save(module.state_dict(), path)` would (zip
/// format, Python's state_dict order and names), so that Python's torch.load (weights_only too)
/// and read_state_dict read it. Each tensor gets its own contiguous CPU storage; no _metadata is
/// written (Python's load_state_dict does not need it for a file that has num_batches_tracked).
inline void save_state_dict(const torch::nn::Module& module, const std::string& path) {
  std::vector<std::pair<std::string, torch::Tensor>> entries;
  detail::state_entries(module, "", entries);
  detail::pickle::Pickler p;
  std::vector<torch::Tensor> storages;
  p.proto();
  p.empty_ordered_dict();
  if (!entries.empty()) p.op('(');
  for (const auto& [name, tensor] : entries) {
    auto t = tensor.detach().to(torch::kCPU).contiguous();
    const auto key = std::to_string(storages.size());
    p.str(name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.op('(');
    p.op('(');  // persistent id
    p.str("storage");
    p.global("torch", detail::pickle::storage_class(t.scalar_type()));
    p.str(key);
    p.str("cpu");
    p.integer(t.numel());
    p.op('t');
    p.op('Q');  // BINPERSID
    p.integer(0);
    p.ints(t.sizes().vec());
    p.ints(t.strides().vec());
    p.op('\x89');  // NEWFALSE: requires_grad
    p.empty_ordered_dict();  // backward hooks
    p.op('t');
    p.op('R');
    storages.push_back(t);
  }
  if (!entries.empty()) p.op('u');
  p.op('.');
  try {
    caffe2::serialize::PyTorchStreamWriter zip(path);
    zip.writeRecord("data.pkl", p.bytes.data(), p.bytes.size());
    zip.writeRecord("byteorder", "little", 6);
    for (std::size_t i = 0; i < storages.size(); ++i)
      zip.writeRecord("data/" + std::to_string(i), storages[i].data_ptr(),
                      static_cast<std::size_t>(storages[i].numel()) * storages[i].element_size());
    zip.writeEndOfFile();
  } catch (const c10::Error& e) {
    throw StateDictError("normlab::save_state_dict: '" + path + "': " + detail::what_of(e));
  }
}

/// The same for a ModuleHolder.
template <class Impl>
void save_state_dict(const torch::nn::ModuleHolder<Impl>& module, const std::string& path) {
  save_state_dict(*module, path);
}

}  // namespace normlab
