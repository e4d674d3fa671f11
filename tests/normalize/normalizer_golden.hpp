#pragma once
// The inputs and the rows of golden/normalizers.txt (scripts/golden/normalizer_golden.py), shared by
// the per-image and learned-affine tests.

#include <normlab/data/mnist.hpp>
#include <normlab/device/device.hpp>
#include <normlab/device/cpu_kernels.hpp>
#include <normlab/normalize/values.hpp>
#include <cstdio>
#include <map>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "../golden.hpp"
#include "../kernel_golden.hpp"

namespace normlab::testing {

/// The script's inputs by name: 16 fixture test images, an RGB byte pattern, a constant batch.
inline std::map<std::string, torch::Tensor> normalizer_inputs() {
  const auto mnist = data::Mnist::load(test_data_dir());
  return {{"mnist16", mnist.test.images.narrow(0, 0, 16).contiguous()},
          {"rgb_pattern", (torch::arange(3 * 3 * 8 * 8, torch::kInt64) * 37 + 11).remainder(256).to(torch::kUInt8).view({3, 3, 8, 8})},
          {"constant", torch::full({2, 1, 4, 4}, 77, torch::kUInt8)}};
}

inline std::string fingerprint(const torch::Tensor& t) {
  auto f = t.detach().contiguous().to(torch::kFloat32);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(fnv1a64(f.data_ptr<float>(), static_cast<std::size_t>(f.numel()) * 4)));
  return hex;
}

/// The golden rows of one normalizer (with one thread and the file's kernels: kernel_golden checks).
inline std::vector<std::map<std::string, std::string>> normalizer_golden_rows(const std::string& normalizer) {
  std::vector<std::map<std::string, std::string>> rows;
  for (const auto& row : golden_rows_at(kernel_golden("normalizers.txt", 1))) {
    auto fields = case_fields(row);
    if (fields.at("normalizer") == normalizer) rows.push_back(fields);
  }
  return rows;
}

inline NormalizationValues golden_values(const std::map<std::string, std::string>& f) {
  return NormalizationValues::uniform(std::stod(f.at("mean")), std::stod(f.at("std")));
}

}  // namespace normlab::testing
