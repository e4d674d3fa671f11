#!/usr/bin/env bash
# Ctrl-C during mnist_study loses nothing: the running trial stops between batches, is recorded as
# FAIL ("interrupted by SIGINT") and queued again; the process exits with 130; the next run of the
# same command reruns the interrupted trial with its parameters, and every queued point completes.
#   sigint_resume_test.sh MNIST_STUDY_EXE DATA_DIR WORK_DIR
set -euo pipefail
exe=$1 data=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
db="$work/sigint.sqlite3"
common=(--data "$data" --storage "sqlite:///$db" --study-name MNIST --train-limit 2000 --test-limit 500
        --threads 1 --heartbeat 1)
q() { sqlite3 "$db" "$1"; }

"$exe" "${common[@]}" --epochs 4 --trials 3 >"$work/first.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do  # until the first trial has been training for a second
  [ -f "$db" ] && [ "$(q "SELECT count(*) FROM trials WHERE state='RUNNING'" 2>/dev/null || echo 0)" = 1 ] && break
  sleep 0.1
done
sleep 1
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
cat "$work/first.log"
[ "$rc" = 130 ] || { echo "FAIL: mnist_study exited with $rc after SIGINT, expected 130"; exit 1; }
[ "$(q "SELECT state FROM trials WHERE number=0")" = FAIL ] || { echo "FAIL: trial 0 is not FAIL"; q "SELECT number, state FROM trials"; exit 1; }
reason=$(q "SELECT value_json FROM trial_system_attributes a JOIN trials t USING (trial_id) WHERE t.number=0 AND a.key='fail_reason'")
[ "$reason" = '"interrupted by SIGINT"' ] || { echo "FAIL: fail_reason is $reason"; exit 1; }
[ "$(q "SELECT count(*) FROM trials WHERE state='RUNNING'")" = 0 ] || { echo "FAIL: a trial was left RUNNING"; exit 1; }
retry=$(q "SELECT t.number FROM trials t JOIN trial_system_attributes a USING (trial_id) WHERE a.key='failed_trial' AND a.value_json='0' AND t.state='WAITING'")
[ -n "$retry" ] || { echo "FAIL: the interrupted trial was not queued again"; q "SELECT number, state FROM trials"; exit 1; }
echo "after SIGINT: trial 0 FAIL (interrupted by SIGINT), trial $retry WAITING to retry it; exit 130"

"$exe" "${common[@]}" --epochs 1 --trials 2 >"$work/second.log" 2>&1 || { cat "$work/second.log"; exit 1; }
[ "$(q "SELECT state FROM trials WHERE number=$retry")" = COMPLETE ] || { echo "FAIL: the retry did not run"; cat "$work/second.log"; q "SELECT number, state FROM trials"; exit 1; }
same=$(q "SELECT count(*) FROM trial_params a JOIN trials ta USING (trial_id), trial_params b JOIN trials tb ON tb.trial_id=b.trial_id
          WHERE ta.number=0 AND tb.number=$retry AND a.param_name=b.param_name AND a.param_value=b.param_value")
[ "$same" = 2 ] || { echo "FAIL: the retry's (mean, std) differ from the interrupted trial's"; exit 1; }
[ "$(q "SELECT count(*) FROM trials WHERE state='WAITING'")" = 0 ] || { echo "FAIL: queued trials left"; exit 1; }
echo "resume: trial $retry COMPLETE with trial 0's (mean, std); nothing left WAITING or RUNNING"
