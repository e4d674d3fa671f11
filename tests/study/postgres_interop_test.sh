#!/usr/bin/env bash
# Round trips of a study between normlab and Python's Optuna 3.1 (psycopg2) through PostgreSQL:
#  (a) normlab writes studies into a database (tests/study/interop_tool.cpp: COMPLETE, PRUNED with
#      intermediate values, FAIL, an enqueued WAITING trial); Optuna compares the schema with the one
#      it creates itself in an empty database (columns, types, defaults, constraints, indexes, ENUM
#      labels, sequences, version rows), reads every trial, plots it and continues it with TPE
#      (scripts/interop/check_cpp_study.py --url); normlab then reads what Optuna sees and continues;
#  (b) Optuna creates a study on PostgreSQL; normlab reads every trial as Optuna does and continues
#      it; Optuna then sees the trials normlab added, numbered on;
#  (c) Optuna 3.1 refuses a database normlab stamped for Optuna >= 3.2 (v3.2.0.a).
#   postgres_interop_test.sh INTEROP_TOOL WORK_DIR
# The server: the one whose URL is in NORMLAB_TEST_POSTGRES_URL_FILE (ctest's fixture), else one
# started here (tests/study/postgres_server.sh) and stopped at the end. Prints SKIP and exits 0 when
# the Python (NORMLAB_PYTHON, default /usr/bin/python3) has no optuna or psycopg2.
set -euo pipefail
tool=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
py=${NORMLAB_PYTHON:-/usr/bin/python3}
if ! "$py" -c "import optuna, psycopg2" 2>/dev/null; then
  echo "SKIP: $py cannot import optuna and psycopg2 (Debian: apt-get install python3-optuna python3-psycopg2)"
  exit 0
fi
rm -rf "$work" && mkdir -p "$work"
source "$here/postgres_fixture.sh"
use_postgres_server "$work/server"
admin=$postgres_url
base=${admin%/*}
tag=interop$$
"$py" - "$admin" "${tag}_written" "${tag}_reference" "${tag}_v320" "${tag}_optuna" <<'EOF'
import sys
import psycopg2
con = psycopg2.connect(sys.argv[1])
con.autocommit = True
for name in sys.argv[2:]:
    con.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
    con.cursor().execute(f"CREATE DATABASE {name}")
EOF

# (a) normlab writes, Optuna reads, plots and continues, normlab reads that and continues.
"$tool" write "$base/${tag}_written" "$work/manifest.json"
"$tool" write-v320 "$base/${tag}_v320"
MPLBACKEND=Agg "$py" "$src/scripts/interop/check_cpp_study.py" --url "$base/${tag}_written" \
  --reference-url "$base/${tag}_reference" --manifest "$work/manifest.json" \
  --expected-out "$work/optuna-sees.json" --plot "$work/contour.png" --v320 "$base/${tag}_v320"
"$tool" check "$base/${tag}_written" "$work/optuna-sees.json"

# (b) Optuna creates a study (TPE; COMPLETE, PRUNED, FAIL, WAITING), normlab reads and continues it.
"$py" - "$base/${tag}_optuna" "$work/optuna-made.json" "$src/scripts/interop" <<'EOF'
import json, math, sys, warnings
sys.path.insert(0, sys.argv[3])
import optuna
from optuna_dump import dump_storage
optuna.logging.set_verbosity(optuna.logging.ERROR)
url = "postgresql+psycopg2://" + sys.argv[1].split("://", 1)[1]
study = optuna.create_study(study_name="MNIST", storage=url, direction="maximize",
                            sampler=optuna.samplers.TPESampler(seed=3, n_startup_trials=2))
def objective(trial):
    mean = trial.suggest_float("mean", -3, 3)
    std = trial.suggest_float("std", 0.1, 2, log=True)
    trial.set_user_attr("epochs", 3)
    trial.report(0.5, 0)
    if trial.number == 2:
        raise optuna.TrialPruned()
    if trial.number == 3:
        raise ValueError("boom")
    return 0.99 - abs(mean - 0.13) / 10 - abs(math.log(std / 0.31)) / 10
study.optimize(objective, n_trials=6, catch=(ValueError,))
study.enqueue_trial({"mean": 0.5, "std": 1.0})
json.dump(dump_storage(sys.argv[1]), open(sys.argv[2], "w"), indent=1)
print(f"optuna: created MNIST with {len(study.trials)} trials on PostgreSQL")
EOF
"$tool" check "$base/${tag}_optuna" "$work/optuna-made.json"
"$py" - "$base/${tag}_optuna" <<'EOF'
import sys
import optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="MNIST", storage="postgresql+psycopg2://" + sys.argv[1].split("://", 1)[1])
trials = study.get_trials(deepcopy=False)
assert [t.number for t in trials] == list(range(8)), [t.number for t in trials]
assert trials[6].state == optuna.trial.TrialState.COMPLETE and trials[6].params == {"mean": 0.5, "std": 1.0}, trials[6]
assert trials[7].state == optuna.trial.TrialState.COMPLETE, trials[7]
assert [t.state.name for t in trials[:6]] == ["COMPLETE", "COMPLETE", "PRUNED", "FAIL", "COMPLETE", "COMPLETE"], trials
print(f"optuna: sees the {len(trials)} trials after normlab continued its study (the enqueued one popped by normlab)")
EOF

"$py" - "$admin" "${tag}_written" "${tag}_reference" "${tag}_v320" "${tag}_optuna" <<'EOF'
import sys
import psycopg2
con = psycopg2.connect(sys.argv[1])
con.autocommit = True
for name in sys.argv[2:]:
    con.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
EOF
echo "PASSED: normlab <-> Optuna $("$py" -c 'import optuna; print(optuna.__version__)') round trips through PostgreSQL"
