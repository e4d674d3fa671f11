#pragma once
// Header-only (the default) or compiled (the optional normlab::compiled library), as fmt and spdlog
// offer both. docs/building.md, "Fast variant builds".
//
// Header-only: every definition below this header is `inline` and compiled in the user's own
// translation units, as always.
//
// Compiled: linking normlab::compiled defines NORMLAB_COMPILED (an INTERFACE compile definition).
// The functions that do not depend on the user's policies and are heavy to compile (search, study
// storage, JSON, plots, image decoding, data loading, LeNet's training and test steps, the fast
// K-variant kernels) are then only declared in the user's code: their definitions are compiled
// once, into the library (src/compiled.cpp, which defines NORMLAB_COMPILED_SOURCE). The same
// source lines compile in both modes, with the same flags, so results are the same bits.
//
// A function opts in with this pattern (declaration in the class, definition below it):
//
//   struct Thing { static Result load(const Path& p); };   // or a free function:
//   NORMLAB_INLINE Result load_thing(const Path& p);           // (inline only when header-only)
//   #if NORMLAB_DEFINE_HERE
//   NORMLAB_INLINE Thing::Result Thing::load(const Path& p) { ... }
//   #endif
//
// Function templates instantiated for LeNet (its training and test epochs, its compensation) are
// explicitly instantiated with NORMLAB_COMPILED_TEMPLATE: `extern template` for a user of the
// library, `template` in src/compiled.cpp, nothing (the line is skipped) when header-only.
//
// One program is built in one mode: do not mix header-only and compiled translation units.

#if defined(NORMLAB_COMPILED_SOURCE)
/// The library's own source: definitions are here, out of line (one strong symbol each).
#define NORMLAB_DEFINE_HERE 1
#define NORMLAB_INLINE
#elif defined(NORMLAB_COMPILED)
/// A user of normlab::compiled: declarations only; the library holds the definitions.
#define NORMLAB_DEFINE_HERE 0
#define NORMLAB_INLINE
#else
/// Header-only (the default): definitions are inline in every translation unit.
#define NORMLAB_DEFINE_HERE 1
#define NORMLAB_INLINE inline
#endif

#if defined(NORMLAB_COMPILED_SOURCE)
#define NORMLAB_COMPILED_TEMPLATE template
#elif defined(NORMLAB_COMPILED)
#define NORMLAB_COMPILED_TEMPLATE extern template
#endif
