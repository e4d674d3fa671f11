// One of two translation units that include every public header (tests/CMakeLists.txt generates
// all_headers.hpp): a non-inline function or variable defined in a header is then defined in both,
// and linking this program fails with a "multiple definition" error naming it.
#include <cstdio>

#include "all_headers.hpp"

int headers_in_other_unit();

int main() {
  if (headers_in_other_unit() != kPublicHeaders) return 1;
  std::printf("two units linked: %d headers\n", kPublicHeaders);
  return 0;
}
