#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang under AddressSanitizer + UBSan and runs
# each for SECONDS (default 60) on a copy of its committed seed corpus; exits non-zero on the first
# finding, whose reproducer libFuzzer leaves in build-fuzz/findings/<name>/ (crash-*, leak-*, ...).
#   scripts/fuzz.sh [SECONDS] [NAME ...]      NAME: pickle idx image json (default: all four)
# A finding becomes a regression test: the input, committed beside the reader's test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(pickle idx image json)
build=${NORMLAB_FUZZ_BUILD:-build-fuzz}
jobs=${NORMLAB_FUZZ_BUILD_JOBS:-2}

if [ ! -f "$build/build.ninja" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DNORMLAB_BUILD_FUZZERS=ON -DNORMLAB_BUILD_TESTS=OFF -DNORMLAB_BUILD_EXAMPLES=OFF \
    -DNORMLAB_BUILD_BENCHMARKS=OFF >/dev/null
fi
targets=()
for n in "${names[@]}"; do targets+=("fuzz_$n"); done
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for n in "${names[@]}"; do
  corpus="$build/corpus/$n" findings="$build/findings/$n"
  mkdir -p "$corpus" "$findings"
  cp -n tests/fuzz/corpus/"$n"/* "$corpus"/ 2>/dev/null || true
  echo "== fuzz_$n: ${seconds} s"
  if "$build/tests/fuzz/fuzz_$n" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" 2>"$build/fuzz_$n.log"; then
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$build/fuzz_$n.log" | tail -2
  else
    status=1
    echo "fuzz_$n: FINDING (see $build/fuzz_$n.log and $findings/)" >&2
    tail -40 "$build/fuzz_$n.log" >&2
  fi
done
exit $status
