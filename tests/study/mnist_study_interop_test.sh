#!/usr/bin/env bash
# Python interoperability of a study written by build/examples/mnist_study (needs Debian's
# python3-optuna 3.1 and python3-matplotlib): Optuna loads it with every trial, param, value and
# state intact, draws Optuna's own plot_contour, continues it with TPE; mnist_study then resumes
# the same file and sees every trial.
#   mnist_study_interop_test.sh MNIST_STUDY_EXE DATA_DIR WORK_DIR
set -euo pipefail
exe=$1 data=$2 work=$3
py=/usr/bin/python3
"$py" -c "import optuna, matplotlib" 2>/dev/null || { echo "SKIP: /usr/bin/python3 has no optuna/matplotlib"; exit 0; }
rm -rf "$work" && mkdir -p "$work"
db="$work/interop.sqlite3"
common=(--data "$data" --storage "sqlite:///$db" --study-name MNIST --epochs 2 --train-limit 512
        --test-limit 200 --threads 2 --pruner median)

"$exe" "${common[@]}" --trials 8 --csv "$work/first.csv" >"$work/first.log" 2>&1 || { cat "$work/first.log"; exit 1; }

MPLBACKEND=Agg "$py" - "$db" "$work/first.csv" "$work" <<'PY'
import csv, math, sys
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
db, csv_path, work = sys.argv[1:4]
study = optuna.load_study(study_name="MNIST", storage=f"sqlite:///{db}")
trials = study.get_trials(deepcopy=False)
rows = list(csv.DictReader(open(csv_path)))
assert len(trials) == len(rows) == 8, (len(trials), len(rows))
assert study.direction == optuna.study.StudyDirection.MAXIMIZE
for t, r in zip(trials, rows):
    assert t.number == int(r["number"]), (t.number, r)
    assert t.state.name == r["state"], (t.state, r["state"])
    if t.state == optuna.trial.TrialState.COMPLETE:
        assert 0.0 <= t.value <= 1.0
        assert math.isclose(t.value, float(r["value"]), rel_tol=0, abs_tol=1e-12), (t.value, r["value"])
    for name in ("mean", "std"):
        assert math.isclose(t.params[name], float(r["params_" + name]), rel_tol=1e-15), (name, t.params, r)
    d = t.distributions
    assert d["mean"] == optuna.distributions.FloatDistribution(-3, 3), d
    assert d["std"] == optuna.distributions.FloatDistribution(0.1, 2, log=True), d
    assert t.intermediate_values, "each epoch's accuracy is an intermediate value"
    if t.state == optuna.trial.TrialState.COMPLETE:
        assert t.user_attrs["total"] == 200 and 0 <= t.user_attrs["correct"] <= 200, t.user_attrs
# The kernels the trials ran with, as a study user attribute (docs/parity.md).
k = study.user_attrs["normlab_kernels"]
assert k["device"] == "cpu" and k["threads"] == 2 and k["openblas_core"] and k["aten_capability"], k
# The notebook's two points were enqueued first.
assert (trials[0].params["mean"], trials[0].params["std"]) == (0.1307, 0.3081), trials[0].params
assert (trials[1].params["mean"], trials[1].params["std"]) == (0.0, 1.0), trials[1].params
from optuna.visualization.matplotlib import plot_contour
ax = plot_contour(study, params=["mean", "std"], target_name="Accuracy")
ax.figure.savefig(f"{work}/optuna_contour.png")

def objective(trial):
    mean = trial.suggest_float("mean", -3, 3)
    std = trial.suggest_float("std", 0.1, 2, log=True)
    return 0.5 - 0.01 * (mean - 0.13) ** 2
study.sampler = optuna.samplers.TPESampler(seed=1)
study.optimize(objective, n_trials=3)
print(f"python: loaded 8 trials intact, drew plot_contour, added 3 TPE trials -> {len(study.trials)}")
PY

"$exe" "${common[@]}" --trials 1 >"$work/second.log" 2>&1 || { cat "$work/second.log"; exit 1; }
grep -q "11 trial(s) so far" "$work/second.log" || { echo "mnist_study did not see the 11 trials:"; cat "$work/second.log"; exit 1; }
total=$(sqlite3 "$db" "SELECT count(*), count(DISTINCT number) FROM trials")
[ "$total" = "12|12" ] || { echo "expected 12 distinct trials, got $total"; exit 1; }
echo "interop: Optuna read and continued the study; normlab resumed it with all 12 trials"
