// A Normalization policy that names its values but not the class that applies them.
#include <normlab/pipeline.hpp>

struct OnlyValues {
  using normlab_policy = normlab::policy::Normalization;
  static constexpr const char* name = "OnlyValues";
  static normlab::NormalizationValues values() { return normlab::NormalizationValues::uniform(0, 1); }
};

int main() {
  using Incomplete = normlab::Pipeline<OnlyValues, normlab::LeNet>;
  (void)sizeof(Incomplete);
}
