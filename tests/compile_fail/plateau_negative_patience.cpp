// Must not compile: a negative patience is caught at compile time.
#include <normlab/normlab.hpp>
int main() {
  (void)normlab::Pipeline<normlab::LeNet,
                          normlab::ReduceOnPlateau<normlab::schedule::PlateauMode::max, 0.1, -1>>{};
}
