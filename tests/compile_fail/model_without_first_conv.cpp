// A Model policy that does not say which layer sees the normalized input.
#include <normlab/pipeline.hpp>

struct NoFirstConv {
  using normlab_policy = normlab::policy::Model;
  static constexpr const char* name = "no-first-conv";
  static normlab::models::LeNet make(int64_t classes) { return normlab::models::LeNet(classes); }
  static torch::Tensor loss(const torch::Tensor& out, const torch::Tensor& target,
                            torch::Reduction::Reduction r = torch::Reduction::Mean) {
    return torch::nll_loss(out, target, {}, r);
  }
};

int main() {
  using Wrong = normlab::Pipeline<NoFirstConv>;
  (void)sizeof(Wrong);
}
