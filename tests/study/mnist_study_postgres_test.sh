#!/usr/bin/env bash
# Issue 12's acceptance, end to end with the real program: 4 mnist_study workers on one PostgreSQL
# study with --max-trials 8; the first is killed with SIGKILL in the middle of its first trial.
# The others fail its trial once its heartbeat lapses, run its (mean, std) again (--retry-failed),
# and the study ends with exactly 8 COMPLETE trials, numbers dense and unique, none RUNNING or
# WAITING. Then Optuna 3.1 (psycopg2) loads the study, reads every trial and continues it.
#   mnist_study_postgres_test.sh MNIST_STUDY_EXE DATA_DIR WORK_DIR
# The server: the one whose URL is in NORMLAB_TEST_POSTGRES_URL_FILE (ctest's fixture), else one
# started here (postgres_server.sh) and stopped at the end.
set -euo pipefail
exe=$1 data=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
py=${NORMLAB_PYTHON:-/usr/bin/python3}
rm -rf "$work" && mkdir -p "$work"
source "$here/postgres_fixture.sh"
use_postgres_server "$work/server"
url=$postgres_url
psql="$(bash "$here/postgres_server.sh" bindir)/psql"
name="mnist_workers_$$"
# A password in the URL (trust authentication ignores it): it must not show in `ps` or any log.
secret="not-shown-$$"
url=${url/postgres@/postgres:$secret@}
q() { "$psql" -X -A -t -q -d "$url" -c "$1"; }
flags=(--data "$data" --storage "$url" --study-name "$name" --epochs 3 --train-limit 640 --test-limit 200
       --threads 1 --trials 8 --max-trials 8 --heartbeat 1 --retry-failed --constant-liar)

"$exe" "${flags[@]}" >"$work/w0.log" 2>&1 &
victim=$!
# Wait until its first trial runs, then start the others and kill it mid-trial.
for _ in $(seq 1 600); do
  running=$(q "SELECT count(*) FROM trials t JOIN studies s USING (study_id)
               WHERE s.study_name = '$name' AND t.state = 'RUNNING'" 2>/dev/null || echo 0)
  [ "${running:-0}" -ge 1 ] && break
  kill -0 "$victim" 2>/dev/null || { echo "FAIL: the first worker ended before its first trial"; cat "$work/w0.log"; exit 1; }
  sleep 0.1
done
[ "${running:-0}" -ge 1 ] || { echo "FAIL: no trial started within 60 s"; cat "$work/w0.log"; exit 1; }
if tr '\0' ' ' < "/proc/$victim/cmdline" | grep -q "$secret"; then
  echo "FAIL: the password shows in the worker's command line: $(tr '\0' ' ' < "/proc/$victim/cmdline")"; exit 1
fi
pids=()
for w in 1 2 3; do
  "$exe" "${flags[@]}" >"$work/w$w.log" 2>&1 &
  pids+=($!)
done
kill -KILL "$victim"
wait "$victim" 2>/dev/null || true
for w in 1 2 3; do
  wait "${pids[$((w - 1))]}" || { echo "FAIL: worker $w failed"; cat "$work/w$w.log"; exit 1; }
done

where="FROM trials t JOIN studies s USING (study_id) WHERE s.study_name = '$name'"
complete=$(q "SELECT count(*) $where AND t.state = 'COMPLETE'")
failed=$(q "SELECT count(*) $where AND t.state = 'FAIL'")
unfinished=$(q "SELECT count(*) $where AND t.state IN ('RUNNING', 'WAITING')")
numbers=$(q "SELECT count(DISTINCT t.number) || ' ' || count(*) || ' ' || max(t.number) $where")
# The retry: a COMPLETE trial whose failed_trial names the killed one, with its parameters.
retried=$(q "SELECT count(*) $where AND t.state = 'COMPLETE' AND EXISTS (
               SELECT 1 FROM trial_system_attributes a JOIN trials f ON f.study_id = t.study_id
               WHERE a.trial_id = t.trial_id AND a.key = 'failed_trial' AND a.value_json = f.number::text
                 AND f.state = 'FAIL'
                 AND (SELECT array_agg(param_value ORDER BY param_name) FROM trial_params WHERE trial_id = f.trial_id)
                   = (SELECT array_agg(param_value ORDER BY param_name) FROM trial_params WHERE trial_id = t.trial_id))")
echo "complete=$complete failed=$failed running_or_waiting=$unfinished distinct/all/max number=$numbers retried=$retried"
[ "$complete" = 8 ] || { echo "FAIL: expected exactly 8 COMPLETE trials (--max-trials 8)"; exit 1; }
[ "$failed" = 1 ] || { echo "FAIL: expected the killed worker's trial, and only it, FAIL"; exit 1; }
[ "$unfinished" = 0 ] || { echo "FAIL: trials left RUNNING or WAITING"; exit 1; }
[ "$numbers" = "9 9 8" ] || { echo "FAIL: trial numbers are not 0..8, each once"; exit 1; }
[ "$retried" = 1 ] || { echo "FAIL: the killed trial's (mean, std) did not run again (--retry-failed)"; exit 1; }
! grep -l "$secret" "$work"/w*.log || { echo "FAIL: a worker printed the password"; exit 1; }
grep -h "failed\|retr" "$work"/w[123].log | head -5 || true

if ! "$py" -c "import optuna, psycopg2" 2>/dev/null; then
  echo "SKIP: $py cannot import optuna and psycopg2: Optuna did not load the study (the rest passed)"
  exit 0
fi
"$py" - "$url" "$name" <<'EOF'
import sys
import optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
url = "postgresql+psycopg2://" + sys.argv[1].split("://", 1)[1]
study = optuna.load_study(study_name=sys.argv[2], storage=url)
trials = study.get_trials(deepcopy=False)
states = sorted(t.state.name for t in trials)
assert states == ["COMPLETE"] * 8 + ["FAIL"], states
assert [t.number for t in trials] == list(range(9))
assert all(0 <= t.value <= 1 and set(t.params) == {"mean", "std"} for t in trials if t.state.name == "COMPLETE")
retry = [t for t in trials if "failed_trial" in t.system_attrs]
assert len(retry) == 1 and retry[0].system_attrs["retry_history"] == [retry[0].system_attrs["failed_trial"]]
study.sampler = optuna.samplers.TPESampler(seed=0)
study.optimize(lambda t: t.suggest_float("mean", -3, 3) + t.suggest_float("std", 0.1, 2, log=True), n_trials=1)
assert len(study.trials) == 10 and study.trials[-1].state.name == "COMPLETE"
print("optuna.load_study: 8 COMPLETE + 1 FAIL read, the retry named, one more trial added by Optuna")
EOF
