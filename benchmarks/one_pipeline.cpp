// A one-pipeline user file (benchmarks/compile_time.sh times it): the notebook's protocol with the
// exact compensation, run once on the committed test data.
#include <normlab/normlab.hpp>
using namespace normlab;
using Mine = Pipeline<Normalize<0.1307, 0.3081>, LeNet, Adadelta<>, ReduceOnPlateau<>, compensate::Exact, device::Cpu>;
int main() {
  RunOptions o;
  o.data_root = "tests/data";
  o.epochs = 1;
  o.train_limit = 256;
  o.test_limit = 100;
  return Mine{}.run(o).accuracy > 0.1 ? 0 : 1;
}
