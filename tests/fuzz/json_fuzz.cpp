// libFuzzer: the study JSON parser (Optuna's attribute and distribution JSON in study files).
// Any bytes either parse or throw JsonError; what parses dumps and parses back to the same text.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <normlab/study/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto json = normlab::study::Json::parse(text);
    const auto dumped = json.dump();
    if (normlab::study::Json::parse(dumped).dump() != dumped) std::abort();  // dump is a fixed point
  } catch (const normlab::study::JsonError&) {
  }
  return 0;
}
