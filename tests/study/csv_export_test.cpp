// normlab/study/csv_export.hpp: the columns and the formatting of Optuna 3.1's
// study.trials_dataframe().to_csv(index=False) (pandas 1.5's Timedelta text, Python's float repr,
// CSV quoting), on trials made by hand. study_test.cpp checks the same through Study::export_csv.
#include <catch2/catch.hpp>

#include <sstream>
#include <vector>

#include "normlab/study/csv_export.hpp"

namespace search = normlab::search;
using namespace normlab::study;
using namespace normlab::study::detail;

TEST_CASE("datetime_seconds counts seconds since 1970 as pandas subtracts naive datetimes", "[study][csv]") {
  CHECK(datetime_seconds("1970-01-01 00:00:00") == 0.0);
  CHECK(datetime_seconds("1969-12-31 23:59:59") == -1.0);
  CHECK(datetime_seconds("2000-02-29 12:00:00") == 951825600.0);  // a leap day
  const auto a = datetime_seconds("2024-01-02 03:04:05.000001"), b = datetime_seconds("2024-01-04 00:00:00.5");
  REQUIRE(a);
  REQUIRE(b);
  // 1 day, 20:55:54.999999 to midnight, then half a second.
  CHECK(*b - *a == Approx(161755.499999).margin(1e-6));
  CHECK_FALSE(datetime_seconds(""));  // a trial that has not started or finished
  CHECK_FALSE(datetime_seconds("2024-01-02"));
}

TEST_CASE("pandas_timedelta prints a duration as pandas prints a Timedelta", "[study][csv]") {
  CHECK(pandas_timedelta(0) == "0 days 00:00:00");
  CHECK(pandas_timedelta(61.5) == "0 days 00:01:01.500000");
  CHECK(pandas_timedelta(0.000001) == "0 days 00:00:00.000001");
  CHECK(pandas_timedelta(86400 + 3661) == "1 days 01:01:01");
  CHECK(pandas_timedelta(12 * 86400 + 0.25) == "12 days 00:00:00.250000");
}

TEST_CASE("csv_field quotes a field only when it holds a comma, a quote or a line break", "[study][csv]") {
  CHECK(csv_field("params_mean") == "params_mean");
  CHECK(csv_field("params_a,b") == "\"params_a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("two\nlines") == "\"two\nlines\"");
  CHECK(csv_field("cr\r") == "\"cr\r\"");
  CHECK(csv_field("") == "");
}

TEST_CASE("write_trials_csv writes trials_dataframe's columns, params sorted by name", "[study][csv]") {
  FrozenTrial done;
  done.number = 0;
  done.state = TrialState::Complete;
  done.value = 2.0;
  done.params = {{"lr,x", 1e-05}, {"batch", 64}};
  done.distributions = {{"lr,x", search::FloatDistribution{1e-6, 1e-2, true, std::nullopt}},
                        {"batch", search::IntDistribution{16, 128, false, 16}}};
  done.datetime_start = "2024-03-01 10:00:00.000000";
  done.datetime_complete = "2024-03-01 10:00:02.250000";
  FrozenTrial pruned;
  pruned.number = 1;
  pruned.state = TrialState::Pruned;
  pruned.value = 0.125;
  pruned.params = {{"batch", 16}};
  pruned.distributions = {{"batch", search::IntDistribution{16, 128, false, 16}}};
  pruned.datetime_start = "2024-03-01 10:00:03.000000";
  FrozenTrial running;
  running.number = 2;
  running.state = TrialState::Running;
  std::ostringstream csv;
  write_trials_csv(csv, {done, pruned, running});
  CHECK(csv.str() ==
        "number,value,datetime_start,datetime_complete,duration,params_batch,\"params_lr,x\",state\n"
        "0,2.0,2024-03-01 10:00:00.000000,2024-03-01 10:00:02.250000,0 days 00:00:02.250000,64,1e-05,COMPLETE\n"
        "1,0.125,2024-03-01 10:00:03.000000,,,16,,PRUNED\n"
        "2,,,,,,,RUNNING\n");
  std::ostringstream empty;
  write_trials_csv(empty, {});
  CHECK(empty.str() == "number,value,datetime_start,datetime_complete,duration,state\n");
}
