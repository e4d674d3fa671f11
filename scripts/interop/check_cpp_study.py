#!/usr/bin/env python3
"""The Python half of tests/study/optuna_interop_test.sh: Optuna 3.1 reads a study database that
normlab wrote (tests/study/interop_tool.cpp), checks it trial by trial, draws plot_contour on it,
continues it with TPE, and writes what it then sees for normlab to check in turn.

    check_cpp_study.py --db DB --manifest MANIFEST.json --expected-out EXPECTED.json
                       [--plot contour.png] [--v320 V320_DB]
    check_cpp_study.py --url postgresql://... --reference-url postgresql://.../empty_db ...
                       (the same on PostgreSQL: the schema is compared with the one Optuna
                       creates in the empty database REFERENCE_URL; --v320 is then a URL too)

Exit status 0 when everything matched.
"""
import argparse
import json
import math
import os
import sqlite3
import sys
import tempfile
import warnings

import optuna
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from optuna_dump import dump_storage  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)

failures = []


def expect(ok, what):
    if not ok:
        failures.append(what)
        print(f"check_cpp_study: MISMATCH: {what}", file=sys.stderr)


def same_float(a, b):
    if a is None or b is None:
        return a is None and b is None
    return (math.isnan(a) and math.isnan(b)) or a == b


def schema(db):
    con = sqlite3.connect(db)
    rows = sorted(con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall(), key=str)
    version = con.execute("SELECT * FROM version_info").fetchall()
    alembic = con.execute("SELECT * FROM alembic_version").fetchall()
    con.close()
    return rows, version, alembic


def pg_schema(url):
    """What PostgreSQL's catalog says of a database's public schema: columns with their types and
    defaults, constraints, indexes, ENUM labels, sequences, and the version rows."""
    import psycopg2
    con = psycopg2.connect("postgresql://" + url.split("://", 1)[1])
    cur = con.cursor()
    out = {}
    for key, sql in {
        "columns": "SELECT table_name, column_name, ordinal_position, data_type, udt_name, character_maximum_length, "
                   "numeric_precision, is_nullable, column_default FROM information_schema.columns "
                   "WHERE table_schema = 'public' ORDER BY 1, 3",
        "constraints": "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                       "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
        "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        "enums": "SELECT t.typname, e.enumlabel, e.enumsortorder FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid "
                 "ORDER BY 1, 3",
        "sequences": "SELECT sequence_name, data_type, start_value, increment FROM information_schema.sequences "
                     "WHERE sequence_schema = 'public' ORDER BY 1",
        "version_info": "SELECT * FROM version_info",
        "alembic_version": "SELECT * FROM alembic_version",
    }.items():
        cur.execute(sql)
        out[key] = [list(map(str, r)) for r in cur.fetchall()]
    con.close()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db")
    ap.add_argument("--url")
    ap.add_argument("--reference-url")
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--expected-out", required=True)
    ap.add_argument("--plot")
    ap.add_argument("--v320")
    args = ap.parse_args()
    if bool(args.db) == bool(args.url):
        ap.error("give --db (SQLite) or --url (PostgreSQL)")
    target = args.url or args.db
    url = "postgresql+psycopg2://" + args.url.split("://", 1)[1] if args.url else f"sqlite:///{args.db}"

    # 1. The schema is the one Optuna 3.1 creates, byte for byte (SQLite) or catalog entry for
    #    catalog entry (PostgreSQL).
    if args.url:
        if not args.reference_url:
            ap.error("--url needs --reference-url (an empty database for Optuna to create its schema in)")
        optuna.create_study(storage="postgresql+psycopg2://" + args.reference_url.split("://", 1)[1], study_name="ref")
        ref, mine = pg_schema(args.reference_url), pg_schema(args.url)
        for key in ref:
            expect(mine[key] == ref[key], f"PostgreSQL {key} differ from a database Optuna 3.1 creates:\n"
                                          f"  normlab: {mine[key]}\n  Optuna:  {ref[key]}")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            ref = os.path.join(tmp, "ref.sqlite3")
            optuna.create_study(storage=f"sqlite:///{ref}", study_name="ref")
            ref_rows, ref_version, ref_alembic = schema(ref)
        rows, version, alembic = schema(args.db)
        expect(rows == ref_rows, "sqlite_master differs from a file Optuna 3.1 creates")
        expect(version == ref_version, f"version_info {version} != {ref_version}")
        expect(alembic == ref_alembic, f"alembic_version {alembic} != {ref_alembic}")

    # 2. Every trial reads back as normlab wrote it.
    manifest = json.load(open(args.manifest))
    got = dump_storage(target)
    expect([s["name"] for s in got["studies"]] == [s["name"] for s in manifest["studies"]], "study names")
    for want_study, got_study in zip(manifest["studies"], got["studies"]):
        name = want_study["name"]
        expect(got_study["direction"] == want_study["direction"], f"{name}: direction")
        expect(len(got_study["trials"]) == len(want_study["trials"]), f"{name}: number of trials")
        for w, g in zip(want_study["trials"], got_study["trials"]):
            where = f"{name} #{w['number']}"
            for key in ("trial_id", "number", "state", "params", "distributions", "user_attrs", "system_attrs",
                        "datetime_start", "datetime_complete"):
                expect(g[key] == w[key], f"{where}: {key}: Optuna {g[key]!r}, normlab {w[key]!r}")
            expect(same_float(g["value"], w["value"]), f"{where}: value {g['value']!r} != {w['value']!r}")
            expect(len(g["intermediate_values"]) == len(w["intermediate_values"]), f"{where}: intermediate values")
            for (gs, gv), (ws, wv) in zip(g["intermediate_values"], w["intermediate_values"]):
                expect(gs == ws and same_float(gv, wv), f"{where}: intermediate value {gs}: {gv} != {wv}")
            for k in w["params"]:
                expect(g["distribution_json"][k] == w["distributions"][k], f"{where}: stored distribution_json of {k}")

    # 3. Optuna's own objects: states, distributions, decoded attributes, the enqueued trial.
    study = optuna.load_study(study_name="MNIST", storage=url)
    trials = study.get_trials(deepcopy=False)
    states = [t.state for t in trials]
    expect(states == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.COMPLETE, TrialState.FAIL,
                      TrialState.COMPLETE, TrialState.COMPLETE, TrialState.WAITING], f"MNIST states {states}")
    expect(study.direction == optuna.study.StudyDirection.MAXIMIZE, "MNIST direction")
    expect(trials[0].distributions == {"mean": FloatDistribution(-3, 3), "std": FloatDistribution(0.1, 2, log=True)},
           f"MNIST distributions {trials[0].distributions}")
    expect(trials[0].user_attrs == {"note": {"epochs": 14, "tags": ["a", "caf\u00e9"], "ok": True}},
           f"user_attrs {trials[0].user_attrs}")
    expect(trials[1].value == 0.625 and trials[1].intermediate_values == {0: 0.5, 1: 0.625}, "PRUNED trial")
    expect(trials[2].system_attrs.get("fail_reason") == "boom", f"FAIL reason {trials[2].system_attrs}")
    expect(trials[4].system_attrs.get("fail_reason") == "The value nan is not acceptable.", "NaN FAIL reason")
    iv = trials[3].intermediate_values
    expect(iv[0] == math.inf and math.isnan(iv[1]) and iv[2] == -math.inf, f"intermediate values {iv}")
    expect(trials[7].system_attrs.get("fixed_params") == {"mean": 0.5, "std": 1.0}, "enqueued fixed_params")
    expect(study.best_trial.number in (0, 3, 5, 6), "best trial")
    ints = optuna.load_study(study_name="ints", storage=url)
    expect(ints.trials[0].distributions == {"n": IntDistribution(1, 5), "k": IntDistribution(1, 64, log=True),
                                            "x": FloatDistribution(0, 1, step=0.25)},
           f"ints distributions {ints.trials[0].distributions}")
    expect(all(isinstance(t.params["n"], int) for t in ints.trials), "ints are ints")

    # 4. Optuna's own plot_contour (matplotlib, Agg) on the C++-written study.
    try:
        import matplotlib
        matplotlib.use("Agg")
        from optuna.visualization.matplotlib import plot_contour
    except ImportError as e:
        print(f"check_cpp_study: SKIPPED plot_contour: {e} (apt-get install python3-matplotlib)")
    else:
        ax = plot_contour(study, params=["mean", "std"], target_name="Accuracy")
        expect(ax.get_xlabel() == "mean" and ax.get_ylabel() == "std", "contour axes")
        if args.plot:
            ax.figure.savefig(args.plot)
            expect(os.path.getsize(args.plot) > 1000, "contour picture written")

    # 5. Continue in Optuna with TPE: the enqueued trial is popped first, with its fixed params.
    tpe = optuna.samplers.TPESampler(seed=0, n_startup_trials=3)
    study = optuna.load_study(study_name="MNIST", storage=url, sampler=tpe)

    def objective(trial):
        mean = trial.suggest_float("mean", -3, 3)
        std = trial.suggest_float("std", 0.1, 2, log=True)
        trial.report(0.5, 0)
        return 0.99 - abs(mean - 0.13) / 10 - abs(math.log(std / 0.31)) / 10

    study.optimize(objective, n_trials=4)
    trials = study.get_trials(deepcopy=False)
    expect(len(trials) == 11, f"{len(trials)} trials after Optuna's 4")
    expect([t.number for t in trials] == list(range(11)), "numbers after Optuna's 4")
    expect(trials[7].state == TrialState.COMPLETE and trials[7].params == {"mean": 0.5, "std": 1.0},
           f"the enqueued trial: {trials[7].state} {trials[7].params}")
    expect(all(t.state == TrialState.COMPLETE for t in trials[8:]), "Optuna's new trials")

    # 6. A file stamped for Optuna >= 3.2 is refused by Optuna 3.1, as the notes say.
    if args.v320:
        try:
            v320 = args.v320 if "://" in args.v320 else f"sqlite:///{args.v320}"
            optuna.load_study(study_name="MNIST", storage=v320.replace("postgresql://", "postgresql+psycopg2://"))
            expect(False, "Optuna 3.1 opened a v3.2.0.a file")
        except RuntimeError as e:
            expect("Please try updating optuna" in str(e), f"v3.2.0.a refusal: {e}")

    with open(args.expected_out, "w") as f:
        json.dump(dump_storage(target), f, indent=1)

    if failures:
        print(f"check_cpp_study: {len(failures)} mismatch(es)", file=sys.stderr)
        return 1
    print(f"check_cpp_study: Optuna {optuna.__version__} read every trial normlab wrote, plotted it, "
          f"and continued it to {len(trials)} trials")
    return 0


if __name__ == "__main__":
    sys.exit(main())
