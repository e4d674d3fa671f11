#pragma once
// A small command-line parser shared by the examples: `--flag value` pairs, each flag declared
// with its help text; unknown flags and malformed numbers are errors that name the flag.

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

  double number(const std::string& name) const {
    const auto& v = text(name);
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0')
      throw std::invalid_argument("--" + name + " expects a number (got '" + v + "')");
    return x;
  }

  long long integer(const std::string& name) const {
    const auto& v = text(name);
    char* end = nullptr;
    const long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0')
      throw std::invalid_argument("--" + name + " expects a whole number (got '" + v + "')");
    return x;
  }

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
