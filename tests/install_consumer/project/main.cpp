// A user's program: an installed normlab found by find_package, used without anything else.
#include <iostream>
#include <normlab/normlab.hpp>

int main() {
  torch::manual_seed(1998);
  auto net = normlab::LeNet::make();
  auto conv = normlab::LeNet::first_conv(net);
  normlab::compensate::Exact::apply(conv, normlab::Normalize<0.1307, 0.3081>::values());
  auto out = net->forward(torch::zeros({2, 1, 28, 28}));
  std::cout << "consumer ok: output " << out.sizes() << "\n";
  return out.size(1) == 10 ? 0 : 1;
}
