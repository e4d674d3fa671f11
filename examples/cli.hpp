#pragma once
// A small command-line parser shared by the examples: `--flag value` pairs, each flag declared
// with its help text; unknown flags, malformed numbers and integers outside the flag's range are
// errors that name the flag (before any work starts: a batch of 0 would divide by zero later).

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace normlab::cli {

class Args {
 public:
  Args(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  /// Declares --name with a default value and a help line.
  Args& flag(const std::string& name, std::string default_value, std::string help) {
    order_.push_back(name);
    values_[name] = std::move(default_value);
    help_[name] = std::move(help);
    return *this;
  }

  /// Declares --device, the same on every program that trains or evaluates (read it with
  /// normlab::device::parse, which refuses other names and devices this process cannot see).
  Args& device_flag() {
    return flag("device", "auto",
                "cpu | cuda (the first GPU) | cuda:N (GPU N) | auto (cuda:0 when a GPU is visible, else cpu)");
  }

  /// Parses argv; prints help and exits on --help; throws std::invalid_argument on bad input.
  void parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        usage(std::cout);
        std::exit(0);
      }
      if (arg.rfind("--", 0) != 0 || !values_.count(arg.substr(2)))
        throw std::invalid_argument("unknown argument '" + arg + "' (see --help)");
      if (i + 1 >= argc) throw std::invalid_argument("missing value after " + arg);
      values_[arg.substr(2)] = argv[++i];
      given_.insert(arg.substr(2));
    }
  }

  /// Whether --name was on the command line (profiles fill in only the flags that were not).
  bool given(const std::string& name) const { return given_.count(name) > 0; }

  const std::string& text(const std::string& name) const { return values_.at(name); }

  /// The flag as a finite number ("inf" and "nan" are refused: no flag means them).
  double number(const std::string& name) const {
    const auto& v = text(name);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(x))
      throw std::invalid_argument("--" + name + " expects a finite number (got '" + v + "')");
    return x;
  }

  /// The flag as a whole number in [lo, hi]; anything else (a fraction, a number out of range,
  /// one that long long cannot hold) is refused by name, not truncated or saturated.
  long long integer(const std::string& name, long long lo = LLONG_MIN, long long hi = LLONG_MAX) const {
    const auto& v = text(name);
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0')
      throw std::invalid_argument("--" + name + " expects a whole number (got '" + v + "')");
    if (errno == ERANGE || x < lo || x > hi)
      throw std::invalid_argument("--" + name + " expects a whole number from " + std::to_string(lo) + " to " +
                                  std::to_string(hi) + " (got '" + v + "')");
    return x;
  }

  /// integer() for a flag stored in an int: [lo, INT_MAX] by default.
  int int_flag(const std::string& name, int lo = 0, int hi = INT_MAX) const {
    return static_cast<int>(integer(name, lo, hi));
  }

  /// 0 or 1.
  bool boolean(const std::string& name) const { return integer(name, 0, 1) != 0; }

  void usage(std::ostream& out) const {
    out << "usage: " << program_ << " [--flag value ...]\n" << summary_ << "\n\n";
    for (const auto& name : order_)
      out << "  --" << name << " (default: " << values_.at(name) << ")\n      " << help_.at(name)
          << "\n";
  }

 private:
  std::string program_, summary_;
  std::vector<std::string> order_;
  std::set<std::string> given_;
  std::map<std::string, std::string> values_, help_;
};

}  // namespace normlab::cli
