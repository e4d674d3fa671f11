// Must not compile: an argument that is no policy.
#include <normlab/normlab.hpp>
int main() { normlab::Pipeline<normlab::LeNet, int> p; (void)p; }
