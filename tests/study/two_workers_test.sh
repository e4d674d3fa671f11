#!/usr/bin/env bash
# Two mnist_study processes started at once with the same (default) flags on one study file
# propose no identical (mean, std): each claims its own worker number and sampler seed.
#   two_workers_test.sh MNIST_STUDY_EXE DATA_DIR WORK_DIR
set -euo pipefail
exe=$1 data=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
db="$work/workers.sqlite3"
flags=(--data "$data" --storage "sqlite:///$db" --epochs 1 --train-limit 128 --test-limit 100 --threads 1
       --trials 4 --sampler random)
"$exe" "${flags[@]}" >"$work/a.log" 2>&1 &
a=$!
"$exe" "${flags[@]}" >"$work/b.log" 2>&1 &
b=$!
wait "$a" || { cat "$work/a.log"; exit 1; }
wait "$b" || { cat "$work/b.log"; exit 1; }
q() { sqlite3 "$db" "$1"; }
total=$(q "SELECT count(*) FROM trials WHERE state='COMPLETE'")
distinct=$(q "SELECT count(*) FROM (SELECT DISTINCT m.param_value, s.param_value FROM trials t
              JOIN trial_params m ON m.trial_id=t.trial_id AND m.param_name='mean'
              JOIN trial_params s ON s.trial_id=t.trial_id AND s.param_name='std' WHERE t.state='COMPLETE')")
workers=$(q "SELECT count(*) FROM study_user_attributes WHERE key LIKE 'normlab_worker_%'")
seeds=$(q "SELECT count(DISTINCT json_extract(value_json, '$.seed')) FROM study_user_attributes WHERE key LIKE 'normlab_worker_%'")
echo "complete=$total distinct points=$distinct workers=$workers distinct seeds=$seeds"
[ "$total" -ge 8 ] || { echo "FAIL: expected 8 complete trials (2 enqueued + 6 sampled)"; exit 1; }
[ "$distinct" = "$total" ] || { echo "FAIL: the two workers proposed identical points"; q "SELECT number, param_name, param_value FROM trials JOIN trial_params USING (trial_id)"; exit 1; }
[ "$workers" = 2 ] && [ "$seeds" = 2 ] || { echo "FAIL: expected two workers with two seeds"; exit 1; }
