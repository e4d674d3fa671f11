// compensate::Notebook adjusts conv1 to an input (z - mean) / std; a normalizer whose (mean, std)
// enter otherwise (here a power) does not declare affine_in_values, so the Pipeline refuses the pair.
#include <normlab/pipeline.hpp>

struct PowerScaler {
  PowerScaler(normlab::NormalizationValues v, torch::Device) : std_(v.std[0]) {}
  torch::Tensor operator()(const torch::Tensor& raw) const { return raw.to(torch::kFloat32).div(255).pow(std_); }
  double std_;
};
struct Power {
  using normlab_policy = normlab::policy::Normalization;
  using normalizer = PowerScaler;
  static constexpr const char* name = "Power";
  static normlab::NormalizationValues values() { return normlab::NormalizationValues::uniform(0, 1); }
};

int main() {
  using Wrong = normlab::Pipeline<Power, normlab::LeNet, normlab::compensate::Notebook>;
  (void)sizeof(Wrong);
}
