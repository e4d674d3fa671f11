#pragma once
// A study's trials as CSV, column for column what Optuna 3.1's
// `study.trials_dataframe().to_csv(index=False)` writes for a single-objective study: number,
// value, datetime_start, datetime_complete, duration (a pandas Timedelta), params_<name> sorted by
// name, state. Study::write_csv and Study::export_csv (study.hpp) call write_trials_csv; its own
// header because it is pandas' formatting, testable on trials made by hand. No LibTorch.

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "normlab/detail/compiled.hpp"
#include "normlab/detail/format.hpp"
#include "normlab/study/trial.hpp"

namespace normlab::study::detail {

/// Seconds between two "YYYY-MM-DD HH:MM:SS[.ffffff]" datetimes; nullopt when either is absent.
inline std::optional<double> datetime_seconds(const std::string& text) {
  int y, mo, d, h, mi;
  double s;
  if (std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%lf", &y, &mo, &d, &h, &mi, &s) != 6) return std::nullopt;
  // days_from_civil (Howard Hinnant): naive times, as pandas subtracts them.
  y -= mo <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = static_cast<unsigned>((153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1);
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const double days = era * 146097.0 + doe - 719468.0;
  return days * 86400.0 + h * 3600.0 + mi * 60.0 + s;
}

/// A duration as pandas prints a Timedelta: "0 days 00:00:01.234567".
inline std::string pandas_timedelta(double seconds) {
  long long micros = std::llround(seconds * 1e6);
  const bool negative = micros < 0;
  if (negative) micros = -micros;
  const long long days = micros / 86400000000LL;
  micros %= 86400000000LL;
  char buf[64];
  const long long secs = micros / 1000000, frac = micros % 1000000;
  if (frac)
    std::snprintf(buf, sizeof buf, "%s%lld days %02lld:%02lld:%02lld.%06lld", negative ? "-" : "", days, secs / 3600,
                  secs / 60 % 60, secs % 60, frac);
  else
    std::snprintf(buf, sizeof buf, "%s%lld days %02lld:%02lld:%02lld", negative ? "-" : "", days, secs / 3600,
                  secs / 60 % 60, secs % 60);
  return buf;
}

/// A CSV field, quoted (with doubled quotes) only when it holds a comma, a quote or a line break.
inline std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

/// Writes `trials` (ordered by number) as CSV: the header line, then one line per trial.
NORMLAB_INLINE void write_trials_csv(std::ostream& out, const std::vector<FrozenTrial>& trials);

#if NORMLAB_DEFINE_HERE
NORMLAB_INLINE void write_trials_csv(std::ostream& out, const std::vector<FrozenTrial>& all) {
  std::map<std::string, bool> param_is_int;
  for (const FrozenTrial& t : all)
    for (const auto& [name, d] : t.distributions) param_is_int[name] = std::holds_alternative<search::IntDistribution>(d);
  out << "number,value,datetime_start,datetime_complete,duration";
  for (const auto& [name, is_int] : param_is_int) out << ',' << csv_field("params_" + name);
  out << ",state\n";
  for (const FrozenTrial& t : all) {
    out << t.number << ',';
    if (t.value) out << normlab::detail::python_float_repr(*t.value);
    out << ',' << t.datetime_start << ',' << t.datetime_complete << ',';
    const auto a = datetime_seconds(t.datetime_start), b = datetime_seconds(t.datetime_complete);
    if (a && b) out << pandas_timedelta(*b - *a);
    for (const auto& [name, is_int] : param_is_int) {
      out << ',';
      auto it = t.params.find(name);
      if (it == t.params.end()) continue;
      if (is_int) out << static_cast<long long>(std::llround(it->second));
      else out << normlab::detail::python_float_repr(it->second);
    }
    out << ',' << to_string(t.state) << '\n';
  }
}
#endif

}  // namespace normlab::study::detail
