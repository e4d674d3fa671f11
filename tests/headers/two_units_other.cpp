// The second translation unit of the link test (two_units_main.cpp says why).
#include "all_headers.hpp"

int headers_in_other_unit() { return kPublicHeaders; }
