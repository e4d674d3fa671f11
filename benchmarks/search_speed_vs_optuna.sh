#!/usr/bin/env bash
# normlab's TPE and Study against Optuna 3.1, side by side in one run, on this machine:
#  (a) one TPE proposal (the notebook's two parameters) with N finished trials, against Optuna's
#      time per trial in memory (study.ask() + 2 suggest_float + study.tell());
#  (b) one Study trial (ask + 2 suggest_float + tell) on an SQLite file with N finished trials,
#      against Optuna's time per trial on an SQLite file with N finished trials.
# Prints both sides' times and the ratios normlab / Optuna (targets: (a) <= 1/100, (b) <= 1/20);
# exit status 0 when both are met ((a) in wall or CPU time, (b) in wall time).
# Builds nothing: build the two benchmarks first, e.g.
#   cmake -S . -B build-perf -G Ninja -DCMAKE_BUILD_TYPE=Release -DNORMLAB_TEST_DIRS="search;study" \
#         -DNORMLAB_BUILD_EXAMPLES=OFF
#   ninja -C build-perf -j2 tpe_benchmark study_benchmark
#   benchmarks/search_speed_vs_optuna.sh [BUILD_DIR=build-perf] [N=200]
# Wall-clock times on both sides, and for (a) CPU time as well: on a loaded machine a benchmark
# that runs for seconds loses more wall time to other processes than Optuna's 50 separate ~3 ms
# trials, of which the median is taken; CPU time is immune to that. (b) counts the time waiting
# for the disk, so it stays in wall time. TPE: Google Benchmark's median of 5 repetitions. Study: 50 trials
# per run on a fresh study of N finished trials (median of 5 runs of their mean); Optuna: median
# of 50 trials on one such study. The measured trials are told FAIL on both sides, so the study
# keeps N finished trials. NORMLAB_PYTHON picks the Python with Optuna 3.1 (default /usr/bin/python3);
# NORMLAB_BENCH_DIR the folder of the SQLite files (default: a fresh temporary folder).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-perf}
n=${2:-200}
py=${NORMLAB_PYTHON:-/usr/bin/python3}
tpe=$build/benchmarks/tpe_benchmark
study=$build/benchmarks/study_benchmark
for exe in "$tpe" "$study"; do
  [ -x "$exe" ] || { echo "search_speed_vs_optuna.sh: $exe is missing: build tpe_benchmark and study_benchmark first" >&2; exit 2; }
done
"$py" -c "import optuna" 2>/dev/null || { echo "search_speed_vs_optuna.sh: $py cannot import optuna" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export NORMLAB_BENCH_DIR=${NORMLAB_BENCH_DIR:-$work}

echo "== $(date '+%F %T'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), N = $n finished trials"
gbench=(--benchmark_repetitions=5 --benchmark_report_aggregates_only=true --benchmark_format=json)
"$tpe" --benchmark_filter="^BM_TpeProposal/$n\$" "${gbench[@]}" >"$work/tpe.json"
"$study" --benchmark_filter="^BM_StudyTrial(Memory|Sqlite)/$n/" "${gbench[@]}" >"$work/study.json"
"$py" "$src/benchmarks/tpe_vs_optuna.py" "$n" 50 --storage memory | tee "$work/optuna_memory.txt"
"$py" "$src/benchmarks/tpe_vs_optuna.py" "$n" 50 --storage sqlite --db "$NORMLAB_BENCH_DIR/optuna_bench.sqlite3" |
  tee "$work/optuna_sqlite.txt"

"$py" - "$work" "$n" <<'EOF'
import json, sys
work, n = sys.argv[1], sys.argv[2]

def median_us(path, name, key='real_time'):
    for b in json.load(open(path))['benchmarks']:
        if b['name'] == name + '_median':
            scale = {'ns': 1e-3, 'us': 1.0, 'ms': 1e3, 's': 1e6}[b['time_unit']]
            return b[key] * scale
    raise SystemExit('no %s in %s' % (name, path))

def optuna_ms(path, key='per_trial_ms'):
    for line in open(path):
        if line.startswith(key + ' '):
            return float(line.split()[1])
    raise SystemExit('no %s in %s' % (key, path))

proposal = median_us(work + '/tpe.json', 'BM_TpeProposal/' + n)
proposal_cpu = median_us(work + '/tpe.json', 'BM_TpeProposal/' + n, 'cpu_time')
study_memory = median_us(work + '/study.json', 'BM_StudyTrialMemory/%s/iterations:50' % n)
study_sqlite = median_us(work + '/study.json', 'BM_StudyTrialSqlite/%s/iterations:50' % n)
optuna_memory = optuna_ms(work + '/optuna_memory.txt') * 1e3
optuna_memory_cpu = optuna_ms(work + '/optuna_memory.txt', 'per_trial_cpu_ms') * 1e3
optuna_sqlite = optuna_ms(work + '/optuna_sqlite.txt') * 1e3
a, a_cpu, b = proposal / optuna_memory, proposal_cpu / optuna_memory_cpu, study_sqlite / optuna_sqlite
print()
print('(a) memory: normlab TPE proposal %9.1f us | Optuna trial %9.1f us | wall ratio 1/%.0f (%.4f) %s'
      % (proposal, optuna_memory, 1 / a, a, 'OK (<= 1/100)' if a <= 0.01 else 'ABOVE 1/100'))
print('            in CPU time          %9.1f us |              %9.1f us |  CPU ratio 1/%.0f (%.4f) %s'
      % (proposal_cpu, optuna_memory_cpu, 1 / a_cpu, a_cpu, 'OK (<= 1/100)' if a_cpu <= 0.01 else 'ABOVE 1/100'))
print('(b) SQLite: normlab Study trial  %9.1f us | Optuna trial %9.1f us | wall ratio 1/%.0f (%.4f) %s'
      % (study_sqlite, optuna_sqlite, 1 / b, b, 'OK (<= 1/20)' if b <= 0.05 else 'ABOVE 1/20'))
print('    (normlab Study trial in memory: %.1f us, 1/%.0f of Optuna in memory)'
      % (study_memory, optuna_memory / study_memory))
sys.exit(0 if (a <= 0.01 or a_cpu <= 0.01) and b <= 0.05 else 1)
EOF
