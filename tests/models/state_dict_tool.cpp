// The C++ side of tests/models/resnet_state_dict_interop_test.sh: moves torchvision ResNet-18
// weights between Python and normlab through torch.save files (models/state_dict.hpp).
//
//   state_dict_tool logits STATE_DICT.pt NUM_CLASSES SIZE
//       load Python's torch.save(resnet18(num_classes).state_dict()) into models::resnet18 (built
//       with another seed, so only the file can make it agree) and print its eval-mode logits on
//       the golden input resnet_input(2, SIZE), one row per line ('%.9g')
//   state_dict_tool save OUT.pt NUM_CLASSES SIZE
//       build models::resnet18 with seed 1998, move its BN statistics (two train-mode batches),
//       save_state_dict() it to OUT.pt and print its eval-mode logits as above
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include <normlab/models/resnet.hpp>
#include <normlab/models/state_dict.hpp>

namespace {

/// scripts/golden/resnet_golden.py's resnet_input(): ((i * 7919) % 2003 - 1001) / 1024, exact.
torch::Tensor resnet_input(int64_t n, int64_t size) {
  auto i = torch::arange(n * 3 * size * size, torch::kInt64);
  return ((i * 7919) % 2003 - 1001).to(torch::kFloat32).div(1024.0).reshape({n, 3, size, size});
}

void print_logits(normlab::models::ResNet& net, int64_t size) {
  torch::NoGradGuard no_grad;
  net->eval();
  const auto y = net->forward(resnet_input(2, size)).contiguous();
  for (int64_t r = 0; r < y.size(0); ++r) {
    for (int64_t c = 0; c < y.size(1); ++c) std::printf(c ? " %.9g" : "%.9g", y[r][c].item<float>());
    std::printf("\n");
  }
}

int usage() {
  std::cerr << "usage: state_dict_tool logits STATE_DICT.pt NUM_CLASSES SIZE\n"
               "       state_dict_tool save OUT.pt NUM_CLASSES SIZE\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) return usage();
  const std::string command = argv[1], path = argv[2];
  const int64_t classes = std::atoll(argv[3]), size = std::atoll(argv[4]);
  try {
    if (command == "logits") {
      torch::manual_seed(12345);
      auto net = normlab::models::resnet18(classes);
      normlab::load_state_dict(net, path);
      print_logits(net, size);
    } else if (command == "save") {
      torch::manual_seed(1998);
      auto net = normlab::models::resnet18(classes);
      {
        torch::NoGradGuard no_grad;
        net->train();
        for (int k = 0; k < 2; ++k) net->forward(torch::rand({2, 3, size, size}));
      }
      normlab::save_state_dict(net, path);
      print_logits(net, size);
    } else {
      return usage();
    }
  } catch (const std::exception& e) {
    std::cerr << "state_dict_tool: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
