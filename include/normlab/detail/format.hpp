#pragma once
// Numbers in messages and logs, written as Python's repr() writes them.

#include <array>
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
