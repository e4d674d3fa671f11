#pragma once
// The CLI11 validators the examples share: each refuses a value with a sentence that names what the
// flag expects (CLI11 puts the flag's name in front: "--mean: expects a finite number (got 'inf')").

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <string>

namespace flags {

inline double parse_number(const std::string& s, bool& ok) {
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  ok = !s.empty() && *end == '\0' && std::isfinite(x);
  return x;
}

/// A finite number ("inf" and "nan" mean nothing a flag asks for).
inline const CLI::Validator finite(
    [](std::string& s) {
      bool ok = false;
      parse_number(s, ok);
      return ok ? std::string() : "expects a finite number (got '" + s + "')";
    },
    "FINITE");

/// Seconds, > 0 and <= 1e8.
inline const CLI::Validator seconds(
    [](std::string& s) {
      bool ok = false;
      const double x = parse_number(s, ok);
      return ok && x > 0 && x <= 1e8 ? std::string() : "expects seconds, > 0 and <= 1e8 (got '" + s + "')";
    },
    "SECONDS");

}  // namespace flags
