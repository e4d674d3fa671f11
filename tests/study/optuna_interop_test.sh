#!/usr/bin/env bash
# Round trip of a study between normlab and Python's Optuna 3.1 through one SQLite file:
#  (a) normlab writes it (tests/study/interop_tool.cpp): COMPLETE, PRUNED with intermediate
#      values, FAIL, and an enqueued WAITING trial, in the notebook's (mean, std) space;
#  (b) optuna.load_study reads it and checks every trial, param, value, state, intermediate value
#      and distribution, and draws optuna.visualization.matplotlib.plot_contour (Agg);
#  (c) Optuna continues it with TPESampler (it pops the enqueued trial first);
#  (d) normlab reopens the file and checks it sees every trial as Optuna does, then continues it.
# Also: Optuna 3.1 refuses a file normlab stamped for Optuna >= 3.2 (v3.2.0.a).
#   optuna_interop_test.sh INTEROP_TOOL [WORK_DIR]
# Skips (exit 0) only when the Python (NORMLAB_PYTHON, default /usr/bin/python3) has no optuna.
set -euo pipefail
tool=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
py=${NORMLAB_PYTHON:-/usr/bin/python3}
if ! "$py" -c "import optuna" 2>/dev/null; then
  echo "SKIPPED: $py cannot import optuna (Debian: apt-get install python3-optuna python3-matplotlib)"
  exit 0
fi
if [ $# -ge 2 ]; then
  work=$2
  rm -rf "$work" && mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
db="$work/normlab-written.sqlite3"

"$tool" write "$db" "$work/manifest.json"
"$tool" write-v320 "$work/v320.sqlite3"
MPLBACKEND=Agg "$py" "$src/scripts/interop/check_cpp_study.py" --db "$db" --manifest "$work/manifest.json" \
  --expected-out "$work/optuna-sees.json" --plot "$work/contour.png" --v320 "$work/v320.sqlite3"
"$tool" check "$db" "$work/optuna-sees.json"
echo "PASSED: normlab <-> Optuna $("$py" -c 'import optuna; print(optuna.__version__)') round trip"
