#!/usr/bin/env python3
"""Writes tests/data/optuna/optuna31_small.sqlite3: a small study database made by Optuna 3.1 itself,
and optuna31_small.json: what Optuna reads back from it. normlab's tests open the database without
Python and compare every trial with the JSON.

    /usr/bin/python3 scripts/interop/make_optuna_fixture.py tests/data/optuna

Needs Optuna 3.1 (Debian's python3-optuna 3.1.0). The output is deterministic: the samplers are
seeded and every datetime is rewritten to a fixed value afterwards (Optuna writes local time).

Contents
- study "MNIST" (maximize; the notebook's space: mean in [-3, 3], std in [0.1, 2] log), RandomSampler(1998):
  #0 COMPLETE with a user attribute; #1 PRUNED after two reports (value = the last one);
  #2 FAIL from an exception; #3 FAIL from a NaN value; #4 COMPLETE with value +inf (INF_POS);
  #5 PRUNED whose last report is NaN (no value); #6 COMPLETE with +-inf and NaN intermediate values;
  #7 WAITING, from enqueue_trial({"mean": 0.5, "std": 1.0}).
- study "ints" (minimize): suggest_int n in [1, 5], k in [1, 64] log, x in [0, 1] step 0.25.
- study "legacy" (minimize): one trial whose distribution_json rows use the legacy class names and
  the abbreviated {"type": ...} form, which older Optuna wrote and Optuna 3.1 still reads.
"""
import json
import os
import sqlite3
import sys
import warnings

import optuna

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from optuna_dump import dump_storage  # noqa: E402

assert optuna.__version__.startswith("3.1"), f"needs Optuna 3.1, got {optuna.__version__}"
optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.filterwarnings("ignore", category=FutureWarning)  # the legacy distributions, on purpose

out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/data/optuna"
os.makedirs(out_dir, exist_ok=True)
db = os.path.join(out_dir, "optuna31_small.sqlite3")
if os.path.exists(db):
    os.remove(db)
url = f"sqlite:///{db}"

# --- MNIST -------------------------------------------------------------------------------------
mnist = optuna.create_study(direction="maximize", storage=url, study_name="MNIST",
                            sampler=optuna.samplers.RandomSampler(seed=1998))


def objective(trial):
    mean = trial.suggest_float("mean", -3, 3, log=False)
    std = trial.suggest_float("std", 0.1, 2, log=True)
    n = trial.number
    if n == 0:
        trial.set_user_attr("note", {"epochs": 14, "tags": ["a", "\u00e9"], "ok": True})
        return 0.25 + mean / 100
    if n == 1:
        trial.report(0.5, 0)
        trial.report(0.625, 1)
        raise optuna.TrialPruned()
    if n == 2:
        raise ValueError("boom")
    if n == 3:
        return float("nan")
    if n == 4:
        return float("inf")
    if n == 5:
        trial.report(0.5, 0)
        trial.report(float("nan"), 3)
        raise optuna.TrialPruned()
    trial.report(float("inf"), 0)
    trial.report(float("-inf"), 1)
    trial.report(float("nan"), 2)
    trial.report(0.75, 3)
    return std


mnist.optimize(objective, n_trials=7, catch=(ValueError,))
mnist.enqueue_trial({"mean": 0.5, "std": 1.0})

# --- ints --------------------------------------------------------------------------------------
ints = optuna.create_study(direction="minimize", storage=url, study_name="ints",
                           sampler=optuna.samplers.RandomSampler(seed=7))


def int_objective(trial):
    n = trial.suggest_int("n", 1, 5)
    k = trial.suggest_int("k", 1, 64, log=True)
    x = trial.suggest_float("x", 0, 1, step=0.25)
    return n + k + x


ints.optimize(int_objective, n_trials=3)

# --- legacy ------------------------------------------------------------------------------------
legacy = optuna.create_study(direction="minimize", storage=url, study_name="legacy",
                             sampler=optuna.samplers.RandomSampler(seed=3))


def legacy_objective(trial):
    a = trial.suggest_float("a", -1, 1)
    b = trial.suggest_float("b", 0.01, 1, log=True)
    c = trial.suggest_float("c", 0, 1, step=0.5)
    d = trial.suggest_int("d", 1, 9, step=2)
    e = trial.suggest_int("e", 1, 8, log=True)
    f = trial.suggest_float("f", -2, 2)
    g = trial.suggest_int("g", 0, 3)
    return a + b + c + d + e + f + g


legacy.optimize(legacy_objective, n_trials=1)
del mnist, ints, legacy

legacy_json = {
    "a": '{"name": "UniformDistribution", "attributes": {"low": -1.0, "high": 1.0}}',
    "b": '{"name": "LogUniformDistribution", "attributes": {"low": 0.01, "high": 1.0}}',
    "c": '{"name": "DiscreteUniformDistribution", "attributes": {"low": 0.0, "high": 1.0, "q": 0.5}}',
    "d": '{"name": "IntUniformDistribution", "attributes": {"low": 1, "high": 9, "step": 2}}',
    "e": '{"name": "IntLogUniformDistribution", "attributes": {"low": 1, "high": 8, "step": 1}}',
    "f": '{"type": "float", "low": -2.0, "high": 2.0}',
    "g": '{"type":"int","low":0,"high":3}',
}
con = sqlite3.connect(db)
legacy_trial = con.execute(
    "SELECT t.trial_id FROM trials t JOIN studies s ON s.study_id = t.study_id WHERE s.study_name = 'legacy'"
).fetchone()[0]
for name, text in legacy_json.items():
    con.execute("UPDATE trial_params SET distribution_json = ? WHERE trial_id = ? AND param_name = ?",
                (text, legacy_trial, name))
# Fixed datetimes (Optuna's format, naive): deterministic output.
for (trial_id,) in con.execute("SELECT trial_id FROM trials ORDER BY trial_id").fetchall():
    start = f"2024-01-02 03:04:{trial_id:02d}.{trial_id * 111111 % 1000000:06d}"
    end = f"2024-01-02 03:05:{trial_id:02d}.{(trial_id * 222222 + 5) % 1000000:06d}"
    con.execute("UPDATE trials SET datetime_start = CASE WHEN datetime_start IS NULL THEN NULL ELSE ? END, "
                "datetime_complete = CASE WHEN datetime_complete IS NULL THEN NULL ELSE ? END "
                "WHERE trial_id = ?", (start, end, trial_id))
con.execute("DELETE FROM trial_heartbeats")
con.commit()
con.execute("PRAGMA page_size = 512")  # one page per table and index: keep the file small
con.execute("VACUUM")
con.close()

# --- what Optuna reads back ----------------------------------------------------------------------
expected = {"file": os.path.basename(db)}
expected.update(dump_storage(db))
with open(os.path.join(out_dir, "optuna31_small.json"), "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")
print(f"wrote {db} ({os.path.getsize(db)} bytes) and optuna31_small.json")
