#pragma once
// Numbers in messages and logs, written as Python's repr() writes them.

#include <array>
#include <cmath>
#include <charconv>
#include <string>

namespace normlab::detail {

/// The shortest text that reads back as the same double ("0.1307", not "0.13070000000000001").
inline std::string shortest_double(double value) {
  std::array<char, 64> text{};
  auto result = std::to_chars(text.data(), text.data() + text.size(), value);
  return std::string(text.data(), result.ptr);
}

}  // namespace normlab::detail

namespace normlab::detail {

/// A double as Python's repr() writes it: shortest round trip, with ".0" on whole numbers
/// ("2.0", "-3.0", "0.1", "1e-05", "inf"), so JSON we write reads back as Optuna writes it.
inline std::string python_float_repr(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  std::array<char, 64> buf{};
  const double magnitude = std::fabs(value);
  if (magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e16)) {
    // Python's repr uses positional notation here: shortest digits, and always a '.'.
    auto r = std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::fixed);
    std::string text(buf.data(), r.ptr);
    if (text.find('.') == std::string::npos) text += ".0";
    return text;
  }
  // Otherwise exponent notation with at least two exponent digits: 1e-05, 1.5e+16.
  auto r = std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::scientific);
  std::string text(buf.data(), r.ptr);
  const auto e = text.find('e');
  std::string mantissa = text.substr(0, e), exponent = text.substr(e + 1);
  const char sign = exponent[0] == '-' ? '-' : '+';
  if (exponent[0] == '-' || exponent[0] == '+') exponent.erase(0, 1);
  if (exponent.size() < 2) exponent.insert(0, "0");
  return mantissa + "e" + sign + exponent;
}

}  // namespace normlab::detail
