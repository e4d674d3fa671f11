// Must not compile: "normlab::Pipeline requires exactly one Model policy (got 2)".
#include <normlab/normlab.hpp>
int main() { normlab::Pipeline<normlab::LeNet, normlab::Adadelta<>, normlab::LeNet> p; (void)p; }
