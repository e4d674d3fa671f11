# Finds every dependency of normlab::normlab. Used both by our own build and by normlabConfig.cmake,
# so a consumer's find_package(normlab) finds exactly what we were built with. NORMLAB_NEEDS_TORCH
# OFF (find_package(normlab COMPONENTS study), set by normlabConfig.cmake) finds only what
# normlab::search, normlab::study and normlab::plot need.
include(CMakeFindDependencyMacro)
find_dependency(Threads)
find_dependency(SQLite3)  # study storage in Optuna's schema
find_package(range-v3 QUIET)
if(NOT DEFINED NORMLAB_NEEDS_TORCH OR NORMLAB_NEEDS_TORCH)
  find_dependency(ZLIB)
  find_dependency(JPEG)  # image decoding (libjpeg62-turbo-dev: the libjpeg Debian's Pillow links)
  find_dependency(PNG)   # image decoding (libpng-dev)
  find_dependency(Torch)  # Debian's LibTorch 1.13, or LibTorch 2.x (CUDA) through CMAKE_PREFIX_PATH
  # Boost.Hana and range-v3 are header-only: their packages when installed, otherwise a plain folder
  # of headers named by NORMLAB_DEPS_INCLUDE (see docs/building.md).
  find_package(Boost 1.71 QUIET)
  if(NOT (TARGET Boost::headers AND TARGET range-v3::range-v3)
     AND NOT (NORMLAB_DEPS_INCLUDE AND EXISTS "${NORMLAB_DEPS_INCLUDE}/boost/hana.hpp"
              AND EXISTS "${NORMLAB_DEPS_INCLUDE}/range/v3/all.hpp"))
    message(FATAL_ERROR
      "normlab needs Boost.Hana and range-v3: install libboost-dev and librange-v3-dev, or set "
      "NORMLAB_DEPS_INCLUDE to a folder that holds boost/hana.hpp and range/v3/all.hpp")
  endif()
endif()

# Plots (normlab::plot) draw with cairo, found through pkg-config; optional: without it the plot
# target is not defined and everything else still builds.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND AND NOT TARGET PkgConfig::normlab_cairo)
  pkg_check_modules(normlab_cairo QUIET IMPORTED_TARGET cairo)
endif()

# The PostgreSQL storage (study/postgres_storage.hpp) talks to the server through libpq, found
# through pkg-config (libpq-dev); optional: without it open_storage() says that postgresql:// URLs
# need a build with libpq, and everything else builds.
if(PkgConfig_FOUND AND NOT TARGET PkgConfig::normlab_libpq)
  pkg_check_modules(normlab_libpq QUIET IMPORTED_TARGET libpq)
endif()
