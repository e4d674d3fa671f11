// libFuzzer: the state_dict unpickler (data.pkl) and the view check that guards as_strided.
// Every input either unpickles or throws StateDictError; every tensor it describes lies inside
// its storage, which is checked again here with 128-bit arithmetic.
#include <cstdint>

#include <normlab/models/state_dict.hpp>

namespace pickle = normlab::detail::pickle;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    pickle::Limits limits;
    limits.max_objects = 200'000;  // keeps each run small; the defaults are tested in the unit tests
    pickle::Unpickler u(reinterpret_cast<const char*>(data), size, limits);
    const auto root = u.run();
    if (root->kind != pickle::Value::Kind::Dict) return 0;
    for (const auto& [k, v] : root->entries) {
      if (v->kind != pickle::Value::Kind::Tensor) continue;
      const auto& t = v->stored;
      const auto numel = u.storages().at(t.storage).numel;
      __int128 last = t.offset, count = 1;
      for (std::size_t d = 0; d < t.sizes.size(); ++d) {
        count *= t.sizes[d];
        if (count > INT64_MAX) __builtin_trap();
        last += static_cast<__int128>(t.sizes[d] - 1) * t.strides[d];
      }
      if (t.offset > numel || (count > 0 && last >= numel)) __builtin_trap();
    }
  } catch (const normlab::StateDictError&) {
  }
  return 0;
}
