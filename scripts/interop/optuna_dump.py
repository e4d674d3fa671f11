"""Every trial of every study in an Optuna RDB storage (an SQLite file, or a PostgreSQL database
through psycopg2), as Optuna 3.1 reads it, in the JSON form that normlab's tests compare with
(tests/study/storage_test.cpp, tests/study/interop_tool.cpp).

Each trial: trial_id, number, state, value (null, a float, Infinity), params (internal values),
distributions (canonical distribution_json, legacy names converted as Optuna converts them),
distribution_json (the stored text), intermediate_values ([step, value] pairs), user_attrs and
system_attrs (the stored JSON texts), datetime_start and datetime_complete (the stored texts).
"""
import sqlite3
import warnings

import optuna
from optuna.distributions import _convert_old_distribution_to_new_distribution, distribution_to_json


def _connect(target):
    """(SQLAlchemy URL, DB-API connection, how the SQL names a datetime column as text) for an SQLite
    file path or a PostgreSQL URL (postgresql://... or postgresql+psycopg2://...)."""
    if target.startswith(("postgresql", "postgres:")):
        import psycopg2
        libpq = "postgresql://" + target.split("://", 1)[1]
        url = "postgresql+psycopg2://" + target.split("://", 1)[1]
        return url, psycopg2.connect(libpq), "to_char({}, 'YYYY-MM-DD HH24:MI:SS.US')"
    return f"sqlite:///{target}", sqlite3.connect(target), "{}"


def dump_storage(target):
    """Every study of `target`: an SQLite file path, or a PostgreSQL URL."""
    url, con, as_text = _connect(target)
    cur = con.cursor()

    def rows(sql):
        cur.execute(sql)
        return cur.fetchall()

    raw = {t: (s or "", e or "") for t, s, e in rows(
        f"SELECT trial_id, {as_text.format('datetime_start')}, {as_text.format('datetime_complete')} FROM trials")}
    raw_dist = {(t, n): j for t, n, j in rows(
        "SELECT trial_id, param_name, distribution_json FROM trial_params")}
    raw_attrs = {}
    for table, kind in (("trial_user_attributes", "user_attrs"), ("trial_system_attributes", "system_attrs")):
        for t, k, v in rows(f'SELECT trial_id, "key", value_json FROM {table}'):
            raw_attrs.setdefault((t, kind), {})[k] = v
    con.close()

    out = {"optuna": optuna.__version__, "studies": []}
    storage = optuna.storages.RDBStorage(url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # legacy distributions, when a file has them
        for summary in optuna.get_all_study_summaries(storage):
            study = optuna.load_study(study_name=summary.study_name, storage=storage)
            trials = []
            for t in study.get_trials(deepcopy=False):
                trials.append({
                    "trial_id": t._trial_id,
                    "number": t.number,
                    "state": t.state.name,
                    "value": t.value,
                    "params": {k: float(v) for k, v in t.params.items()},
                    "distributions": {
                        k: distribution_to_json(_convert_old_distribution_to_new_distribution(d, True))
                        for k, d in t.distributions.items()},
                    "distribution_json": {k: raw_dist[(t._trial_id, k)] for k in t.params},
                    "intermediate_values": [[s, v] for s, v in sorted(t.intermediate_values.items())],
                    "user_attrs": raw_attrs.get((t._trial_id, "user_attrs"), {}),
                    "system_attrs": raw_attrs.get((t._trial_id, "system_attrs"), {}),
                    "datetime_start": raw[t._trial_id][0],
                    "datetime_complete": raw[t._trial_id][1],
                })
            out["studies"].append({"name": study.study_name, "direction": study.direction.name, "trials": trials})
    storage.remove_session()
    storage.engine.dispose()
    return out
