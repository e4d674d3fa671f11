#!/usr/bin/env bash
# seed_mnist on a quiet machine and on a busy one (one `yes > /dev/null` per core, started and
# ended here), three ways:
#   normlab defaults    OpenMP threads sleep when idle (OMP_WAIT_POLICY=PASSIVE, set by
#                       device::prefer_passive_openmp) and are placed by measurement
#                       (device/thread_placement.hpp: spread over the cores or packed onto one)
#   kernel placement    threads sleep, the kernel places them (NORMLAB_THREAD_PLACEMENT=kernel)
#   libgomp default     idle threads spin first, the kernel places them (NORMLAB_KEEP_OPENMP_DEFAULTS=1)
# Each setting runs RUNS times, quiet and busy; prints each wall time and each busy run's ratio to
# the setting's median quiet run. A fair share of the cores among twice as many busy processes is 2x.
#   benchmarks/busy_machine.sh          # MNIST, 4,000 / 1,000 images, 1 epoch, RUNS=3
set -euo pipefail
cd "$(dirname "$0")/.."
EXE=${EXE:-build/examples/seed_mnist}
DATA=${DATA:-data} TRAIN_LIMIT=${TRAIN_LIMIT:-4000} TEST_LIMIT=${TEST_LIMIT:-1000} RUNS=${RUNS:-3}
[ -x "$EXE" ] || { echo "build first: scripts/setup.sh" >&2; exit 1; }
[ -d "$DATA/MNIST/raw" ] || DATA=tests/data
args=(--data "$DATA" --epochs 1 --train-limit "$TRAIN_LIMIT" --test-limit "$TEST_LIMIT" --device cpu)
cores=$(nproc)
hogs=()
stop_hogs() { for p in "${hogs[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; hogs=(); }
trap stop_hogs EXIT
labels=("normlab defaults" "kernel placement" "libgomp default")
settings=("X=1" "NORMLAB_THREAD_PLACEMENT=kernel" "NORMLAB_KEEP_OPENMP_DEFAULTS=1")
declare -A times
timed() {  # load, setting index: appends the wall time in seconds to times[load,index]
  local t0 t1 out
  t0=$(date +%s.%N)
  out=$(env -u OMP_WAIT_POLICY -u NORMLAB_THREAD_PLACEMENT -u NORMLAB_KEEP_OPENMP_DEFAULTS ${settings[$2]} \
        "$EXE" "${args[@]}" 2>/dev/null | grep '^correct=')
  t1=$(date +%s.%N)
  local s; s=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
  times[$1,$2]="${times[$1,$2]:-} $s"
  printf '%7s s  %-5s %-17s (%s)\n' "$s" "$1" "${labels[$2]}" "${out%% *}"
}
echo "== $EXE ${args[*]} (threads: normlab's default, $cores cores); CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$EXE" "${args[@]}" > /dev/null 2>&1  # warm-up: page cache, so the first timed run is not the cold one
for ((r = 0; r < RUNS; ++r)); do for k in 0 1 2; do timed quiet "$k"; done; done
for ((i = 0; i < cores; ++i)); do yes > /dev/null & hogs+=($!); done
sleep 1
for ((r = 0; r < RUNS; ++r)); do for k in 0 1 2; do timed busy "$k"; done; done
stop_hogs
for k in 0 1 2; do
  python3 - "${labels[$k]}" "${times[quiet,$k]}" "${times[busy,$k]}" <<'PY'
import statistics, sys
label, quiet, busy = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
q = statistics.median(quiet)
ratios = ", ".join(f"{b / q:.2f}x" for b in busy)
print(f"{label:17s} quiet {min(quiet):.2f}-{max(quiet):.2f} s, busy {min(busy):.2f}-{max(busy):.2f} s; "
      f"busy / median quiet: {ratios} (a fair share is 2x)")
PY
done
