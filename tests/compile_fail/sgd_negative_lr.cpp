// Must not compile: a negative learning rate is caught at compile time, not by a LibTorch backtrace.
#include <normlab/normlab.hpp>
int main() { (void)normlab::Pipeline<normlab::LeNet, normlab::Sgd<-0.01>>{}; }
