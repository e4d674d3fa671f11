// A study over (mean, std) of a Pipeline with a compile-time Normalize: its trials' run-time values
// would be refused, so the build stops with one sentence instead.
#include <normlab/normalization_study.hpp>
int main() {
  using Fixed = normlab::Pipeline<normlab::Normalize<0.1307, 0.3081>, normlab::LeNet, normlab::device::Cpu>;
  (void)normlab::normalization_objective<Fixed>(normlab::RunOptions{}, nullptr);
}
