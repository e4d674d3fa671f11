#!/usr/bin/env bash
# SIGKILL mnist_study in the middle of a trial, start it again with the same command, and check that
# no finished trial was lost, the killed trial was marked FAIL (heartbeat), and the requested count
# of complete trials was reached, with no duplicated trial number.
#   kill_resume_test.sh MNIST_STUDY_EXE DATA_DIR WORK_DIR
set -euo pipefail
exe=$1 data=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
db="$work/kill.sqlite3"
cmd=("$exe" --data "$data" --storage "sqlite:///$db" --study-name kill --trials 6 --max-trials 4
     --epochs 3 --train-limit 640 --test-limit 200 --threads 1 --heartbeat 1 --sampler random
     --enqueue-notebook 0)
count() { sqlite3 "$db" "SELECT count(*) FROM trials WHERE state='$1'" 2>/dev/null || echo 0; }

"${cmd[@]}" >"$work/first.log" 2>&1 &
pid=$!
# Wait until at least one trial is complete and the next one is running, then kill mid-trial.
for _ in $(seq 1 600); do
  if [ "$(count COMPLETE)" -ge 1 ] && [ "$(count RUNNING)" -ge 1 ]; then break; fi
  sleep 0.1
done
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
complete_before=$(count COMPLETE)
running_before=$(count RUNNING)
echo "killed: $complete_before complete, $running_before running"
[ "$complete_before" -ge 1 ] && [ "$running_before" -eq 1 ] || { cat "$work/first.log"; exit 1; }
values_before=$(sqlite3 "$db" "SELECT t.number, v.value FROM trials t JOIN trial_values v USING (trial_id) WHERE t.state='COMPLETE' ORDER BY t.number")

sleep 3  # longer than the grace period (2 heartbeats)
"${cmd[@]}" >"$work/second.log" 2>&1 || { cat "$work/second.log"; exit 1; }

complete_after=$(count COMPLETE)
failed_after=$(count FAIL)
numbers=$(sqlite3 "$db" "SELECT count(*), count(DISTINCT number), min(number), max(number) FROM trials")
echo "resumed: $complete_after complete, $failed_after failed; trials count|distinct|min|max = $numbers"
values_after=$(sqlite3 "$db" "SELECT t.number, v.value FROM trials t JOIN trial_values v USING (trial_id) WHERE t.state='COMPLETE' ORDER BY t.number" | head -n "$complete_before")
[ "$values_before" = "$values_after" ] || { echo "finished trials changed:"; echo "$values_before"; echo "$values_after"; exit 1; }
[ "$complete_after" -eq 4 ] || { echo "expected 4 complete trials (--max-trials 4)"; cat "$work/second.log"; exit 1; }
[ "$failed_after" -eq 1 ] || { echo "expected the killed trial to be FAIL"; exit 1; }
IFS='|' read -r n distinct lo hi <<<"$numbers"
[ "$n" -eq "$distinct" ] && [ "$lo" -eq 0 ] && [ "$hi" -eq $((n - 1)) ] || { echo "trial numbers not 0..n-1 without duplicates"; exit 1; }
[ "$(count RUNNING)" -eq 0 ] || { echo "a RUNNING trial was left behind"; exit 1; }
echo "kill/resume: no finished trial lost, killed trial FAIL, 4 complete"
