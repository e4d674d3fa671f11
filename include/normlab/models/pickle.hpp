#pragma once
// The pickle inside a torch.save file (its data.pkl), read and written without Python: the
// Unpickler, a bounded stack machine over the opcodes and globals that
// torch.save(model.state_dict(), path) uses (protocols 2 to 5), which turns tensors into
// descriptions (storage key, offset, sizes, strides) checked to lie inside their storage; and the
// Pickler, which writes the protocol-2 opcodes torch.save writes. state_dict.hpp reads and writes
// the zip archive around it and copies tensors into modules. Its own header because it is a file
// format with its own hostile inputs (tests/fuzz/pickle_fuzz.cpp) and limits; it needs LibTorch only
// for dtypes (torch::ScalarType), so it stays in models/ beside its one user.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace normlab {

/// Why a state_dict file could not be read or did not fit a module. Defined here because the
/// unpickler throws it; state_dict.hpp's functions throw it too.
struct StateDictError : std::runtime_error {
  using std::runtime_error::runtime_error;
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

}  // namespace normlab
