// Must not compile: std <= 0 is caught at compile time.
#include <normlab/normlab.hpp>
int main() { (void)normlab::Normalize<0.1307, -0.3081>::values(); }
