#!/usr/bin/env bash
# examples/normalization_report end to end on the fixture data (the smoke design, shrunk):
#  - its files are there, report.md and report.html (pictures inline), the contract's CSV columns,
#    its last line `verdict=...`;
#  - two runs with the same seeds into two folders give byte-identical CSVs; a rerun into the same
#    folder trains nothing and rewrites the same CSVs;
#  - a row of trials.csv is what seed_mnist prints for the same flags;
#  - the fANOVA importances in report.md are what Optuna 3.1 computes from report.sqlite3 (Python
#    run here); without Python's optuna/sklearn, report.md must say it could not compute them.
# usage: normalization_report_example_test.sh REPORT_EXE SEED_MNIST_EXE DATA_DIR WORK_DIR SOURCE_DIR
set -euo pipefail
exe=$1 seed_mnist=$2 data=$3 work=$4 src=$5
rm -rf "$work" && mkdir -p "$work"
flags=(--data "$data" --dataset mnist --profile smoke --grid 2 --seeds 2 --noise-seeds 2 --tpe-trials 3
       --epochs 1 --train-limit 192 --test-limit 100 --compensations exact,notebook --threads 1 --device cpu)
fail() { echo "FAIL: $*" >&2; exit 1; }

"$exe" "${flags[@]}" --out "$work/a" > "$work/a.out" 2> "$work/a.err" || { cat "$work/a.err"; fail "first run"; }
"$exe" "${flags[@]}" --out "$work/b" > "$work/b.out" 2> "$work/b.err" || { cat "$work/b.err"; fail "second run"; }
tail -n 1 "$work/a.out" | grep -q '^verdict=with the exact compensation, mean ' || fail "last line: $(tail -n 1 "$work/a.out")"
for f in report.md report.html trials.csv noise_floor.csv anova.csv tpe.csv report.sqlite3; do
  [ -s "$work/a/$f" ] || fail "no $f"
done
head -n 1 "$work/a/trials.csv" | grep -q 'compensation,seed,mean,std,accuracy' || fail "trials.csv header"
[ "$(($(wc -l < "$work/a/trials.csv") - 1))" = 16 ] || fail "trials.csv should hold 2 x 2 x 2 x 2 runs"
[ "$(grep -c ',COMPLETE,' "$work/a/tpe.csv")" -ge 6 ] || fail "tpe.csv: 3 complete trials per compensation"
if grep -q 'contour-exact.png' "$work/a/report.md"; then  # a build with plots
  grep -q 'src="data:image/png;base64,' "$work/a/report.html" || fail "report.html has no inline picture"
  grep -q '](noise_floor-exact.png)' "$work/a/report.md" || fail "no noise-floor histogram"
fi
for f in trials.csv noise_floor.csv anova.csv tpe.csv; do
  cmp "$work/a/$f" "$work/b/$f" || fail "$f differs between two runs with the same seeds"
done
grep -q '^\[[0-9]*/' "$work/a.err" || fail "the first run printed no per-run progress"

# Two workers on one report folder at once (issue 12): every run trained once, by one of them, and
# the same numbers as the single run's (each run depends only on its point and seed).
"$exe" "${flags[@]}" --out "$work/c" --heartbeat 1 > "$work/c1.out" 2> "$work/c1.err" &
w1=$!
"$exe" "${flags[@]}" --out "$work/c" --heartbeat 1 > "$work/c2.out" 2> "$work/c2.err" || { cat "$work/c2.err"; fail "worker 2"; }
wait "$w1" || { cat "$work/c1.err"; fail "worker 1"; }
for f in trials.csv noise_floor.csv anova.csv; do
  cmp "$work/a/$f" "$work/c/$f" || fail "$f of two workers differs from the single run's"
done
ls -a "$work/c" | grep -q '^\.staging' && fail "a staging folder was left in the report folder"
runs1=$(grep -c '^\[[0-9]*/.*accuracy' "$work/c1.err" || true)
runs2=$(grep -c '^\[[0-9]*/.*accuracy' "$work/c2.err" || true)
[ "$((runs1 + runs2))" = 24 ] || fail "two workers trained $runs1 + $runs2 grid and noise runs, not 24 (16 grid + 8 noise)"
if command -v sqlite3 > /dev/null; then
  per_study=$(sqlite3 "$work/c/report.sqlite3" "SELECT s.study_name || ':' || count(*) FROM trials t JOIN studies s USING (study_id)
                                                WHERE t.state = 'COMPLETE' GROUP BY s.study_name ORDER BY s.study_name" | tr '\n' ' ')
  [ "$per_study" = "report-grid-exact:8 report-grid-notebook:8 report-noise-exact:4 report-noise-notebook:4 report-tpe-exact:3 report-tpe-notebook:3 " ] ||
    fail "COMPLETE trials per study with two workers: $per_study"
fi
echo "two workers: $runs1 + $runs2 runs, the single run's CSVs"

cp "$work/a/trials.csv" "$work/trials.first.csv"
"$exe" "${flags[@]}" --out "$work/a" > "$work/rerun.out" 2> "$work/rerun.err" || fail "rerun"
! grep -q '^\[[0-9]*/' "$work/rerun.err" || fail "the rerun trained again: $(grep -m1 '^\[' "$work/rerun.err")"
cmp "$work/a/trials.csv" "$work/trials.first.csv" || fail "the rerun changed trials.csv"

# Row 6 of trials.csv with seed_mnist's flags.
IFS=, read -r comp seed mean std accuracy correct total diverged < <(sed -n 7p "$work/a/trials.csv")
out=$("$seed_mnist" --data "$data" --dataset mnist --epochs 1 --train-limit 192 --test-limit 100 --threads 1 \
      --device cpu --seed "$seed" --mean "$mean" --std "$std" --compensation "$comp")
echo "$out" | grep -q "correct=$correct total=$total" || fail "seed_mnist gave '$out' for the row $comp,$seed,$mean,$std,$correct"

if /usr/bin/python3 -c 'import optuna, sklearn' 2>/dev/null; then
  /usr/bin/python3 "$src/scripts/interop/fanova_importance.py" "sqlite:///$work/a/report.sqlite3" \
    report-tpe-exact report-tpe-notebook > "$work/fanova.csv"
  for comp in exact notebook; do
    m=$(awk -F, -v s="report-tpe-$comp" '$1 == s && $2 == "mean" {printf "%.3f", $3}' "$work/fanova.csv")
    d=$(awk -F, -v s="report-tpe-$comp" '$1 == s && $2 == "std" {printf "%.3f", $3}' "$work/fanova.csv")
    [ -n "$m" ] && [ -n "$d" ] || fail "fanova_importance.py printed no importances for $comp: $(cat "$work/fanova.csv")"
    grep -q "^| $comp | 3 | .* | $m | $d | " "$work/a/report.md" ||
      fail "report.md's $comp row does not show Optuna's fANOVA ($m, $d): $(grep "^| $comp | 3 " "$work/a/report.md")"
  done
  echo "fANOVA importances match Optuna's: $(tr '\n' ' ' < "$work/fanova.csv")"
else
  grep -q "fANOVA importances: not computed" "$work/a/report.md" || fail "report.md does not say fANOVA is missing"
  echo "NOTE: /usr/bin/python3 has no optuna or sklearn: checked that report.md says so instead of Optuna's numbers"
fi
echo "normalization_report: files, identical reruns, seed_mnist row and fANOVA check out"
