#!/usr/bin/env bash
# How long a research project waits for one variant: builds benchmarks/variant_build/project (one
# file: two pipelines on an MNIST subset, a 4-trial TPE study in SQLite, a contour plot) header-only
# and with normlab::compiled, then times the rebuild after one template change (the variant's
# StepLr<1, 0.7> <-> StepLr<1, 0.5>), REPS times per mode, the modes interleaved so that both see
# the same machine load. Prints the CPU, the load and the times side by side (docs/performance.md).
#
#   benchmarks/variant_build.sh [WORK]       WORK: scratch folder (default build/variant_build)
#   env: REPS (default 2), JOBS (make -j, default 1: one file anyway), NICE (default 0),
#        NORMLAB_BUILD: an existing Release build tree of normlab with normlab::compiled built
#        (default: WORK/normlab, configured and built here, its time reported),
#        CMAKE_PREFIX_PATH: where LibTorch is, if not in a system path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mkdir -p "${1:-$root/build/variant_build}" && cd "${1:-$root/build/variant_build}" && pwd)
reps=${REPS:-2}
jobs=${JOBS:-1}
nice_level=${NICE:-0}
project=$root/benchmarks/variant_build/project
prefix_path=${CMAKE_PREFIX_PATH:-}

run_timed() {  # run_timed LABEL CMD...: runs CMD, prints "LABEL wall user+sys", sets $wall
  local out=$work/time.txt
  /usr/bin/time -f "%e %U %S" -o "$out" nice -n "$nice_level" "${@:2}" > "$work/$1.log" 2>&1 ||
    { echo "variant_build.sh: '$1' failed, see $work/$1.log" >&2; tail -20 "$work/$1.log" >&2; exit 1; }
  read -r wall user sys < "$out"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.1f", u + s }')
  printf '%-28s %7.1f s wall  %7.1f s cpu  (load %s)\n' "$1" "$wall" "$cpu" "$(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; compiler: $(c++ --version | head -1)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

lib=${NORMLAB_BUILD:-}
if [[ -z $lib ]]; then
  lib=$work/normlab
  cmake -S "$root" -B "$lib" -DCMAKE_BUILD_TYPE=Release -DNORMLAB_BUILD_TESTS=OFF -DNORMLAB_BUILD_EXAMPLES=OFF \
    -DNORMLAB_BUILD_BENCHMARKS=OFF -DNORMLAB_BUILD_COMPILED=ON "-DCMAKE_PREFIX_PATH=$prefix_path" > "$work/configure-normlab.log"
  run_timed "library build (normlab::compiled)" cmake --build "$lib" --target normlab_compiled -j "$jobs"
fi
[[ -f $lib/normlabConfig.cmake ]] || { echo "variant_build.sh: no normlabConfig.cmake in $lib" >&2; exit 1; }

declare -A first rebuild
for mode in header-only compiled; do
  src=$work/$mode/src
  rm -rf "$work/$mode"
  mkdir -p "$src"
  cp "$project/CMakeLists.txt" "$project/variant.cpp" "$src/"
  use=OFF; [[ $mode == compiled ]] && use=ON
  cmake -S "$src" -B "$work/$mode/build" -DCMAKE_BUILD_TYPE=Release -DUSE_COMPILED=$use \
    "-DCMAKE_PREFIX_PATH=$lib;$prefix_path" > "$work/configure-$mode.log"
  run_timed "$mode first build" cmake --build "$work/$mode/build" -j "$jobs"
  first[$mode]="$wall/$cpu"
done

gamma=0.7
for ((r = 1; r <= reps; r++)); do
  if [[ $gamma == 0.7 ]]; then new=0.5; else new=0.7; fi
  for mode in header-only compiled; do
    sed -i "s/#define VARIANT_SCHEDULE StepLr<1, $gamma>/#define VARIANT_SCHEDULE StepLr<1, $new>/" "$work/$mode/src/variant.cpp"
    grep -q "StepLr<1, $new>" "$work/$mode/src/variant.cpp"
    run_timed "$mode rebuild #$r" cmake --build "$work/$mode/build" -j "$jobs"
    rebuild[$mode]+="$wall/$cpu "
  done
  gamma=$new
done

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "seconds, wall/cpu (cpu: user + sys of the build; wall is what a user waits)"
printf '%-26s %-28s %s\n' "" "header-only" "normlab::compiled"
printf '%-26s %-28s %s\n' "first build" "${first[header-only]}" "${first[compiled]}"
printf '%-26s %-28s %s\n' "rebuild after StepLr edit" "${rebuild[header-only]}" "${rebuild[compiled]}"
