// A Scheduler policy written LibTorch's way: its state steps itself with step(metric). The Pipeline
// calls step(state, test_accuracy, test_loss) once per epoch, so it says so in one sentence.
#include <normlab/pipeline.hpp>

struct LibTorchStyle {
  using normlab_policy = normlab::policy::Scheduler;
  static constexpr const char* name = "libtorch-style";
  static torch::optim::StepLR make(torch::optim::Optimizer& o) { return torch::optim::StepLR(o, 1); }
  static void step(torch::optim::StepLR& s) { s.step(); }
};

int main() {
  using Wrong = normlab::Pipeline<normlab::LeNet, LibTorchStyle>;
  (void)sizeof(Wrong);
}
