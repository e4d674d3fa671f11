#pragma once
// The JSON that Optuna 3.1 keeps in its storage, read and written as Python's json module does.
//
// Optuna stores three kinds of JSON text: `trial_params.distribution_json` (a distribution), and
// the `value_json` of user and system attributes (any `json.dumps(value)`). This header reads
// all of them and writes byte-for-byte what `json.dumps` writes: `", "` and `": "` separators,
// key order kept, floats as Python's repr (`2.0`, `0.1`, `1e-05`), `NaN` / `Infinity`, and
// non-ASCII characters escaped as `\uXXXX` (json.dumps' default `ensure_ascii=True`).
// No LibTorch.

#include <charconv>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "normlab/detail/format.hpp"
#include "normlab/search/distribution.hpp"

namespace normlab::study {

/// Malformed JSON text, or a JSON value of the wrong kind where a kind was required.
class JsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One JSON value, as Python's json module sees it: null, bool, int, float, string, list or
/// dict. Ints and floats are kept apart (`1` and `1.0` are different texts in Optuna's rows), and
/// an object keeps its keys in order, so `Json::parse(text).dump() == text` for any text that
/// `json.dumps` wrote.
class Json {
 public:
  enum class Kind { Null, Bool, Int, Float, String, Array, Object };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  Json() = default;  ///< null
  Json(std::nullptr_t) {}
  Json(bool b) : kind_(Kind::Bool), bool_(b) {}
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  Json(I i) : kind_(Kind::Int), int_(static_cast<int64_t>(i)) {}
  Json(double d) : kind_(Kind::Float), float_(d) {}
  Json(std::string s) : kind_(Kind::String), string_(std::move(s)) {}
  Json(const char* s) : kind_(Kind::String), string_(s) {}
  Json(std::string_view s) : kind_(Kind::String), string_(s) {}
  Json(Array a) : kind_(Kind::Array), array_(std::move(a)) {}
  Json(Object o) : kind_(Kind::Object), object_(std::move(o)) {}

  /// An object from `{key, value}` pairs in the given order: `Json::object({{"a", 1}})`.
  static Json object(std::initializer_list<Member> members) { return Json(Object(members)); }
  static Json array(std::initializer_list<Json> items) { return Json(Array(items)); }

  /// Reads JSON text as `json.loads` does (NaN, Infinity and -Infinity included).
  /// @throws JsonError naming the offset and what was expected.
  static Json parse(std::string_view text);

  /// The text `json.dumps(value)` writes.
  std::string dump() const {
    std::string out;
    dump_to(out);
    return out;
  }

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }

  bool as_bool() const {
    expect(Kind::Bool, "a bool");
    return bool_;
  }
  /// An int or a float, as a double.
  double as_double() const {
    if (kind_ == Kind::Int) return static_cast<double>(int_);
    expect(Kind::Float, "a number");
    return float_;
  }
  /// An int, or a float with an integral value (`5.0`), as Python's `int()` would accept it.
  int64_t as_int() const {
    if (kind_ == Kind::Int) return int_;
    if (kind_ == Kind::Float && std::isfinite(float_) && float_ == std::trunc(float_))
      return static_cast<int64_t>(float_);
    throw JsonError("normlab: JSON value " + dump() + " is not an integer");
  }
  const std::string& as_string() const {
    expect(Kind::String, "a string");
    return string_;
  }
  const Array& as_array() const {
    expect(Kind::Array, "a list");
    return array_;
  }
  const Object& as_object() const {
    expect(Kind::Object, "an object");
    return object_;
  }

  /// The member `key` of an object, or nullptr when absent (or when this is not an object).
  const Json* find(std::string_view key) const {
    if (kind_ != Kind::Object) return nullptr;
    for (const auto& [k, v] : object_)
      if (k == key) return &v;
    return nullptr;
  }
  /// The member `key`; @throws JsonError when absent.
  const Json& at(std::string_view key) const {
    if (const Json* v = find(key)) return *v;
    throw JsonError("normlab: JSON object " + dump() + " has no key \"" + std::string(key) + "\"");
  }
  /// Sets `key` (replacing it in place when present, else appending). Makes null an object.
  void set(std::string key, Json value) {
    if (kind_ == Kind::Null) kind_ = Kind::Object;
    expect(Kind::Object, "an object");
    for (auto& [k, v] : object_)
      if (k == key) {
        v = std::move(value);
        return;
      }
    object_.emplace_back(std::move(key), std::move(value));
  }

  friend bool operator==(const Json& a, const Json& b) {
    if (a.kind_ != b.kind_) return false;
    switch (a.kind_) {
      case Kind::Null: return true;
      case Kind::Bool: return a.bool_ == b.bool_;
      case Kind::Int: return a.int_ == b.int_;
      case Kind::Float: return a.float_ == b.float_ || (std::isnan(a.float_) && std::isnan(b.float_));
      case Kind::String: return a.string_ == b.string_;
      case Kind::Array: return a.array_ == b.array_;
      case Kind::Object: return a.object_ == b.object_;
    }
    return false;
  }

 private:
  void expect(Kind k, const char* what) const {
    if (kind_ != k) throw JsonError("normlab: expected " + std::string(what) + " in JSON, got " + dump());
  }
  void dump_to(std::string& out) const;

  Kind kind_ = Kind::Null;
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  std::string string_;
  Array array_;
  Object object_;
};

namespace detail {

/// The length of the valid UTF-8 sequence starting at s[i] (1 to 4), or 0 where Python's strict
/// decoder would fail: a stray continuation byte, a truncated sequence, an overlong form, a
/// surrogate or a code point past U+10FFFF.
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (std::size_t k = 1; k < len; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3Fu);
  }
  if ((len == 2 && cp < 0x80) || (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
    return 0;
  return len;
}

inline void json_append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Decodes one UTF-8 sequence at `s[i]`, advancing `i`; an invalid byte reads as U+FFFD.
inline uint32_t json_next_codepoint(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) -> int {
    if (i + k >= s.size()) return -1;
    const auto b = static_cast<unsigned char>(s[i + k]);
    return (b & 0xC0) == 0x80 ? (b & 0x3F) : -1;
  };
  if (b0 < 0x80) return ++i, b0;
  int n = (b0 & 0xE0) == 0xC0 ? 1 : (b0 & 0xF0) == 0xE0 ? 2 : (b0 & 0xF8) == 0xF0 ? 3 : 0;
  uint32_t cp = n == 1 ? (b0 & 0x1F) : n == 2 ? (b0 & 0x0F) : (b0 & 0x07);
  for (int k = 1; k <= n; ++k) {
    const int c = cont(static_cast<size_t>(k));
    if (c < 0) {
      n = 0;
      break;
    }
    cp = (cp << 6) | static_cast<uint32_t>(c);
  }
  if (n == 0) return ++i, 0xFFFD;
  i += static_cast<size_t>(n) + 1;
  return cp;
}

}  // namespace detail

/// `json.dumps(text)`: a quoted JSON string with Python's escapes (ensure_ascii=True).
inline std::string json_quote(std::string_view text) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  auto u_escape = [&](uint32_t unit) {
    out += "\\u";
    for (int shift = 12; shift >= 0; shift -= 4) out += hex[(unit >> shift) & 0xF];
  };
  for (size_t i = 0; i < text.size();) {
    const uint32_t cp = detail::json_next_codepoint(text, i);
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp < 0x20 || cp >= 0x7F) {
      if (cp >= 0x10000) {
        const uint32_t v = cp - 0x10000;
        u_escape(0xD800 | (v >> 10));
        u_escape(0xDC00 | (v & 0x3FF));
      } else {
        u_escape(cp);
      }
    } else {
      out += static_cast<char>(cp);
    }
  }
  return out + "\"";
}

inline void Json::dump_to(std::string& out) const {
  switch (kind_) {
    case Kind::Null: out += "null"; return;
    case Kind::Bool: out += bool_ ? "true" : "false"; return;
    case Kind::Int: out += std::to_string(int_); return;
    case Kind::Float: out += normlab::detail::python_float_repr(float_); return;
    case Kind::String: out += json_quote(string_); return;
    case Kind::Array: {
      out += '[';
      for (size_t i = 0; i < array_.size(); ++i) {
        if (i) out += ", ";
        array_[i].dump_to(out);
      }
      out += ']';
      return;
    }
    case Kind::Object: {
      out += '{';
      for (size_t i = 0; i < object_.size(); ++i) {
        if (i) out += ", ";
        out += json_quote(object_[i].first);
        out += ": ";
        object_[i].second.dump_to(out);
      }
      out += '}';
      return;
    }
  }
}

namespace detail {

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  Json parse_document() {
    Json v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected text after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    std::string excerpt(s_.substr(pos_ < s_.size() ? pos_ : s_.size(), 20));
    throw JsonError("normlab: malformed JSON at offset " + std::to_string(pos_) + ": " + what +
                    (excerpt.empty() ? std::string(" (at the end)") : " (near \"" + excerpt + "\")"));
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool consume(std::string_view word) {
    if (s_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }

  Json parse_value(int depth) {
    if (depth > 512) fail("nested too deeply");
    skip_ws();
    if (pos_ >= s_.size()) fail("expected a value");
    const char c = s_[pos_];
    if (c == '{') return parse_object(depth);
    if (c == '[') return parse_array(depth);
    if (c == '"') return Json(parse_string());
    if (consume("null")) return Json();
    if (consume("true")) return Json(true);
    if (consume("false")) return Json(false);
    if (consume("NaN")) return Json(std::nan(""));
    if (consume("Infinity")) return Json(HUGE_VAL);
    if (consume("-Infinity")) return Json(-HUGE_VAL);
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
    fail("expected a value");
  }

  Json parse_object(int depth) {
    ++pos_;  // '{'
    Json::Object members;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return Json(std::move(members));
    }
    while (true) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string key");
      std::string key = parse_string();
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') fail("expected ':'");
      ++pos_;
      Json value = parse_value(depth + 1);
      // json.loads keeps the last of duplicate keys.
      bool replaced = false;
      for (auto& m : members)
        if (m.first == key) m.second = value, replaced = true;
      if (!replaced) members.emplace_back(std::move(key), std::move(value));
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return Json(std::move(members));
      }
      fail("expected ',' or '}'");
    }
  }

  Json parse_array(int depth) {
    ++pos_;  // '['
    Json::Array items;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return Json(std::move(items));
    }
    while (true) {
      items.push_back(parse_value(depth + 1));
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return Json(std::move(items));
      }
      fail("expected ',' or ']'");
    }
  }

  uint32_t parse_hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
      else fail("bad \\u escape");
    }
    return v;
  }

  std::string parse_string() {
    ++pos_;  // '"'
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (static_cast<unsigned char>(c) >= 0x80) {  // raw UTF-8, as Python would decode the text
        const std::size_t len = utf8_sequence_length(s_, pos_ - 1);
        if (len == 0) {
          --pos_;
          fail("invalid UTF-8 in a string");
        }
        out.append(s_.substr(pos_ - 1, len));
        pos_ += len - 1;
        continue;
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated escape");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(pos_, 2) == "\\u") {
            const size_t save = pos_;
            pos_ += 2;
            const uint32_t lo = parse_hex4();
            if (lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            else pos_ = save;
          }
          json_append_utf8(out, cp);
          break;
        }
        default: --pos_; fail("bad escape");
      }
    }
  }

  Json parse_number() {
    const size_t start = pos_;
    bool is_float = false;
    if (s_[pos_] == '-') ++pos_;
    auto digits = [&] {
      const size_t d = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - d;
    };
    if (digits() == 0) fail("expected digits");
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      is_float = true;
      if (digits() == 0) fail("expected digits after '.'");
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      is_float = true;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (digits() == 0) fail("expected exponent digits");
    }
    const char* first = s_.data() + start;
    const char* last = s_.data() + pos_;
    if (!is_float) {
      int64_t i = 0;
      auto r = std::from_chars(first, last, i);
      if (r.ec == std::errc() && r.ptr == last) return Json(i);
      // Python ints are unbounded; beyond int64 keep the nearest double.
    }
    // strtod is exact (correctly rounded) like Python's float(); the text is NUL-terminated here.
    const std::string text(first, last);
    return Json(std::strtod(text.c_str(), nullptr));
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace detail

inline Json Json::parse(std::string_view text) { return detail::JsonParser(text).parse_document(); }

// ---- distribution_json ------------------------------------------------------------------------

/// The `distribution_json` Optuna 3.1 writes for `d` (`FloatDistribution` / `IntDistribution`).
inline std::string distribution_to_json(const search::Distribution& d) { return search::to_json(d); }

/// Reads a `distribution_json` as `optuna.distributions.json_to_distribution` does: the canonical
/// `{"name": ..., "attributes": {...}}` with FloatDistribution, IntDistribution and the legacy
/// UniformDistribution, LogUniformDistribution, DiscreteUniformDistribution (`q` is the step),
/// IntUniformDistribution, IntLogUniformDistribution (read as the equivalent new distribution),
/// and the abbreviated `{"type": "float" | "int", "low": .., "high": .., "step": .., "log": ..}`.
/// @throws JsonError for malformed text, a missing attribute, CategoricalDistribution (normlab
///         searches only numeric spaces) or an unknown kind.
inline search::Distribution distribution_from_json(std::string_view text) {
  const Json j = Json::parse(text);
  if (!j.is_object())
    throw JsonError("normlab: a distribution_json must be an object, got " + std::string(text));
  auto attr_double = [](const Json& a, const char* key) { return a.at(key).as_double(); };
  auto opt_step = [](const Json& a, const char* key) -> std::optional<double> {
    const Json* s = a.find(key);
    if (!s || s->is_null()) return std::nullopt;
    return s->as_double();
  };
  auto opt_bool = [](const Json& a, const char* key, bool fallback) {
    const Json* b = a.find(key);
    return b && !b->is_null() ? b->as_bool() : fallback;
  };
  auto int_step = [](const Json& a) -> long long {
    const Json* s = a.find("step");
    return s && !s->is_null() ? s->as_int() : 1;
  };
  auto unsupported_categorical = [&]() -> search::Distribution {
    throw JsonError(
        "normlab: CategoricalDistribution is not supported (normlab searches numeric spaces only: "
        "FloatDistribution and IntDistribution); distribution_json was " + std::string(text));
  };

  if (const Json* name_j = j.find("name")) {
    const std::string& name = name_j->as_string();
    const Json& a = j.at("attributes");
    if (name == "FloatDistribution")
      return search::FloatDistribution{attr_double(a, "low"), attr_double(a, "high"),
                                       opt_bool(a, "log", false), opt_step(a, "step")};
    if (name == "UniformDistribution")
      return search::FloatDistribution{attr_double(a, "low"), attr_double(a, "high"), false, std::nullopt};
    if (name == "LogUniformDistribution")
      return search::FloatDistribution{attr_double(a, "low"), attr_double(a, "high"), true, std::nullopt};
    if (name == "DiscreteUniformDistribution")
      return search::FloatDistribution{attr_double(a, "low"), attr_double(a, "high"), false,
                                       a.find("q") ? opt_step(a, "q") : opt_step(a, "step")};
    if (name == "IntDistribution")
      return search::IntDistribution{a.at("low").as_int(), a.at("high").as_int(),
                                     opt_bool(a, "log", false), int_step(a)};
    if (name == "IntUniformDistribution")
      return search::IntDistribution{a.at("low").as_int(), a.at("high").as_int(), false, int_step(a)};
    if (name == "IntLogUniformDistribution")
      return search::IntDistribution{a.at("low").as_int(), a.at("high").as_int(), true, int_step(a)};
    if (name == "CategoricalDistribution") return unsupported_categorical();
    throw JsonError("normlab: unknown distribution class \"" + name +
                    "\" in distribution_json (known: FloatDistribution, IntDistribution and the "
                    "legacy Uniform/LogUniform/DiscreteUniform/IntUniform/IntLogUniform)");
  }
  const Json* type_j = j.find("type");
  if (!type_j)
    throw JsonError("normlab: a distribution_json needs \"name\" or \"type\", got " + std::string(text));
  const std::string& type = type_j->as_string();
  if (type == "float")
    return search::FloatDistribution{attr_double(j, "low"), attr_double(j, "high"),
                                     opt_bool(j, "log", false), opt_step(j, "step")};
  if (type == "int")
    return search::IntDistribution{j.at("low").as_int(), j.at("high").as_int(), opt_bool(j, "log", false),
                                   int_step(j)};
  if (type == "categorical") return unsupported_categorical();
  throw JsonError("normlab: unknown distribution type \"" + type +
                  "\" in distribution_json (known: \"float\", \"int\")");
}

}  // namespace normlab::study
