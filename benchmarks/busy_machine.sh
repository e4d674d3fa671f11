#!/usr/bin/env bash
# seed_mnist on a quiet machine and on a busy one (one `yes > /dev/null` per core, started and
# ended here), with normlab's defaults (OpenMP threads sleep when idle: OMP_WAIT_POLICY=PASSIVE,
# set by device::prefer_passive_openmp) and with libgomp's own default (idle threads spin first:
# NORMLAB_KEEP_OPENMP_DEFAULTS=1). Prints each wall time and its ratio to the quiet run.
# A fair share of the cores among twice as many busy processes is a ratio of 2.
#   benchmarks/busy_machine.sh        # MNIST fixture-sized run: 4,000 / 1,000 images, 1 epoch
set -euo pipefail
cd "$(dirname "$0")/.."
EXE=${EXE:-build/examples/seed_mnist}
DATA=${DATA:-data} TRAIN_LIMIT=${TRAIN_LIMIT:-4000} TEST_LIMIT=${TEST_LIMIT:-1000}
[ -x "$EXE" ] || { echo "build first: scripts/setup.sh" >&2; exit 1; }
[ -d "$DATA/MNIST/raw" ] || DATA=tests/data
args=(--data "$DATA" --epochs 1 --train-limit "$TRAIN_LIMIT" --test-limit "$TEST_LIMIT" --device cpu)
cores=$(nproc)
hogs=()
stop_hogs() { for p in "${hogs[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; hogs=(); }
trap stop_hogs EXIT
timed() {  # label, then the environment's changes; sets $last to the wall time in seconds
  local label=$1; shift
  local t0 t1 out
  t0=$(date +%s.%N)
  out=$(env -u OMP_WAIT_POLICY "$@" "$EXE" "${args[@]}" 2>/dev/null | grep '^correct=')
  t1=$(date +%s.%N)
  last=$(python3 -c "print(round($t1 - $t0, 2))")
  printf '%7.2f s  %s  (%s)\n' "$last" "$label" "$out"
}
echo "== $EXE ${args[*]} (threads: normlab's default, $cores cores); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$EXE" "${args[@]}" > /dev/null 2>&1  # warm-up: page cache, so the first timed run is not the cold one
timed "quiet, normlab defaults" X=1; quiet=$last
timed "quiet, libgomp default" NORMLAB_KEEP_OPENMP_DEFAULTS=1; quiet_spin=$last
for ((i = 0; i < cores; ++i)); do yes > /dev/null & hogs+=($!); done
sleep 1
timed "busy ($cores x yes), normlab defaults" X=1; busy=$last
timed "busy ($cores x yes), libgomp default" NORMLAB_KEEP_OPENMP_DEFAULTS=1; busy_spin=$last
stop_hogs
python3 - "$quiet" "$quiet_spin" "$busy" "$busy_spin" <<'PY'
import sys
q, qs, b, bs = map(float, sys.argv[1:])
print(f"busy / quiet: normlab defaults {b / q:.2f}x, libgomp default {bs / qs:.2f}x (a fair share is 2x)")
PY
