// normlab::compiled: the definitions that a user of the compiled library only sees declared
// (include/normlab/detail/compiled.hpp), compiled once. Built from the same header lines as the
// header-only mode, with the user's flags, so both modes compute the same bits.
//
// With NORMLAB_COMPILED_SOURCE the opted-in functions are defined here out of line, and
// NORMLAB_COMPILED_TEMPLATE lines are explicit instantiation definitions (LeNet's train and test
// epochs and its notebook compensation). Everything these reach is compiled here too.
#ifndef NORMLAB_COMPILED_SOURCE
#error "src/compiled.cpp is built by CMake's normlab::compiled target, which defines NORMLAB_COMPILED_SOURCE"
#endif

#include <normlab/normlab.hpp>
#include <normlab/batched_study.hpp>
#if NORMLAB_COMPILED_PLOT
#include <normlab/plot/contour.hpp>
#endif
