// normlab/study/json.hpp: JSON as Python's json module reads and writes it, and Optuna's
// distribution_json in all the forms Optuna 3.1 reads.
#include "normlab/study/json.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

using normlab::study::distribution_from_json;
using normlab::study::Json;
using normlab::study::json_quote;
using normlab::study::JsonError;
namespace search = normlab::search;

TEST_CASE("json: texts json.dumps wrote read back and dump to the same bytes", "[study][json]") {
  // Each of these is exactly what Python's json.dumps writes for the value.
  const char* texts[] = {
      "null", "true", "false", "0", "-12", "1.0", "0.1", "-3.0", "1e-05", "1.5e+16", "NaN", "Infinity",
      "-Infinity", "\"hello\"", "\"x\\u00e9\\n\\t\\\"q\\\"\\\\\"", "\"\\ud83d\\ude00\"", "[]", "{}",
      "[1, 2.5, \"x\", null, [true, {}]]",
      "{\"mean\": 0.5, \"std\": 1}",
      "{\"b\": 1, \"a\": {\"z\": [], \"y\": -0.0}}",
      "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, \"low\": -3.0, \"high\": 3.0, \"log\": false}}",
      "9007199254740993",
  };
  for (const char* text : texts) {
    INFO(text);
    CHECK(Json::parse(text).dump() == text);
  }
}

TEST_CASE("json: kinds, ints kept apart from floats, key order, duplicates", "[study][json]") {
  const Json j = Json::parse(" { \"a\" : 1 ,\n \"b\":1.0, \"c\" : [ ] , \"a\": 2 } ");
  REQUIRE(j.is_object());
  CHECK(j.at("a").is_int());
  CHECK(j.at("a").as_int() == 2);  // json.loads keeps the last duplicate, in the first one's place
  CHECK(j.as_object().front().first == "a");
  CHECK(j.at("b").kind() == Json::Kind::Float);
  CHECK(j.at("b").as_int() == 1);  // an integral float converts, as int(1.0)
  CHECK(j.at("c").as_array().empty());
  CHECK(j.find("zz") == nullptr);
  CHECK(j.dump() == "{\"a\": 2, \"b\": 1.0, \"c\": []}");
  CHECK(std::isnan(Json::parse("NaN").as_double()));
  CHECK(Json::parse("-Infinity").as_double() == -HUGE_VAL);
  CHECK(Json::parse("\"\\u00e9\\ud83d\\ude00\"").as_string() == "\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(Json::parse("1e400").as_double() == HUGE_VAL);
  CHECK(Json::parse("0.30000000000000004").as_double() == 0.1 + 0.2);
  CHECK_THROWS_AS(Json::parse("1").as_string(), JsonError);
  CHECK_THROWS_AS(Json::parse("1.5").as_int(), JsonError);
}

TEST_CASE("json: building values and json_quote match json.dumps", "[study][json]") {
  Json o = Json::object({{"epochs", 14}, {"lr", 1.0}, {"name", "LeNet"}, {"ok", true}, {"none", nullptr}});
  o.set("tags", Json::array({"a", 2, 0.5}));
  o.set("epochs", 15);  // replaced in place
  CHECK(o.dump() == "{\"epochs\": 15, \"lr\": 1.0, \"name\": \"LeNet\", \"ok\": true, \"none\": null, "
                    "\"tags\": [\"a\", 2, 0.5]}");
  CHECK(json_quote("The value nan is not acceptable.") == "\"The value nan is not acceptable.\"");
  CHECK(json_quote("caf\xc3\xa9 \x01 /") == "\"caf\\u00e9 \\u0001 /\"");
  CHECK(json_quote("\xff") == "\"\\ufffd\"");  // invalid UTF-8 becomes U+FFFD
}

TEST_CASE("json: malformed text is refused with the offset", "[study][json]") {
  const char* bad[] = {"", "{", "[1,]", "{\"a\" 1}", "{a: 1}", "\"abc", "01x", "tru", "1 2", "\"\\q\"", "-", "1."};
  for (const char* text : bad) {
    INFO(text);
    CHECK_THROWS_AS(Json::parse(text), JsonError);
  }
  CHECK_THROWS_WITH(Json::parse("[1, }"), Catch::Contains("offset 4"));
}

TEST_CASE("json: distribution_json in Optuna's canonical form round-trips byte for byte", "[study][json]") {
  const char* canonical[] = {
      "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, \"low\": -3.0, \"high\": 3.0, \"log\": false}}",
      "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": null, \"low\": 0.1, \"high\": 2.0, \"log\": true}}",
      "{\"name\": \"FloatDistribution\", \"attributes\": {\"step\": 0.25, \"low\": 0.0, \"high\": 1.0, \"log\": false}}",
      "{\"name\": \"IntDistribution\", \"attributes\": {\"log\": false, \"step\": 1, \"low\": 1, \"high\": 5}}",
      "{\"name\": \"IntDistribution\", \"attributes\": {\"log\": true, \"step\": 1, \"low\": 1, \"high\": 64}}",
  };
  for (const char* text : canonical) {
    INFO(text);
    CHECK(search::to_json(distribution_from_json(text)) == text);
  }
  const auto d = std::get<search::FloatDistribution>(distribution_from_json(canonical[1]));
  CHECK(d.low == 0.1);
  CHECK(d.high == 2.0);
  CHECK(d.log);
  CHECK(!d.step);
}

TEST_CASE("json: legacy and abbreviated distribution_json read as the new distributions", "[study][json]") {
  using F = search::FloatDistribution;
  using I = search::IntDistribution;
  CHECK(distribution_from_json("{\"name\": \"UniformDistribution\", \"attributes\": {\"low\": -1.0, \"high\": 1.0}}") ==
        search::Distribution(F{-1, 1, false, std::nullopt}));
  CHECK(distribution_from_json("{\"name\": \"LogUniformDistribution\", \"attributes\": {\"low\": 0.01, \"high\": 1.0}}") ==
        search::Distribution(F{0.01, 1, true, std::nullopt}));
  CHECK(distribution_from_json(
            "{\"name\": \"DiscreteUniformDistribution\", \"attributes\": {\"low\": 0.0, \"high\": 1.0, \"q\": 0.5}}") ==
        search::Distribution(F{0, 1, false, 0.5}));
  CHECK(distribution_from_json(
            "{\"name\": \"IntUniformDistribution\", \"attributes\": {\"low\": 1, \"high\": 9, \"step\": 2}}") ==
        search::Distribution(I{1, 9, false, 2}));
  CHECK(distribution_from_json("{\"name\": \"IntLogUniformDistribution\", \"attributes\": {\"low\": 1, \"high\": 8}}") ==
        search::Distribution(I{1, 8, true, 1}));
  // The abbreviated form, whitespace and key order as anyone writes them.
  CHECK(distribution_from_json("{\"type\":\"float\",\"low\":0.1,\"high\":2,\"log\":true}") ==
        search::Distribution(F{0.1, 2, true, std::nullopt}));
  CHECK(distribution_from_json("{\"high\": 3, \"type\": \"int\", \"low\": 0}") == search::Distribution(I{0, 3, false, 1}));
  CHECK(distribution_from_json("{\"type\": \"float\", \"low\": 0, \"high\": 1, \"step\": 0.1}") ==
        search::Distribution(F{0, 1, false, 0.1}));
}

TEST_CASE("json: unknown and categorical distributions are refused clearly", "[study][json]") {
  CHECK_THROWS_WITH(
      distribution_from_json("{\"name\": \"CategoricalDistribution\", \"attributes\": {\"choices\": [\"sgd\", \"adam\"]}}"),
      Catch::Contains("CategoricalDistribution is not supported"));
  CHECK_THROWS_WITH(distribution_from_json("{\"type\": \"categorical\", \"choices\": [1, 2]}"),
                    Catch::Contains("CategoricalDistribution is not supported"));
  CHECK_THROWS_WITH(distribution_from_json("{\"name\": \"BetaDistribution\", \"attributes\": {}}"),
                    Catch::Contains("unknown distribution class \"BetaDistribution\""));
  CHECK_THROWS_WITH(distribution_from_json("{\"type\": \"normal\"}"), Catch::Contains("unknown distribution type"));
  CHECK_THROWS_WITH(distribution_from_json("{\"name\": \"FloatDistribution\", \"attributes\": {\"low\": 0}}"),
                    Catch::Contains("has no key \"high\""));
  CHECK_THROWS_AS(distribution_from_json("[1]"), JsonError);
  CHECK_THROWS_AS(distribution_from_json("{\"low\": 1}"), JsonError);
}
