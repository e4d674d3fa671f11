// Must not compile: "normlab::Pipeline requires exactly one Model policy (got 0)".
#include <normlab/normlab.hpp>
int main() { normlab::Pipeline<normlab::Normalize<0.5, 0.5>, normlab::Adadelta<>> p; (void)p; }
