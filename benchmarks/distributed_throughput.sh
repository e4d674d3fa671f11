#!/usr/bin/env bash
# Trials per second of one study shared by 1, 4 and 8 worker processes on a trivially cheap
# objective, side by side: normlab on SQLite, normlab on PostgreSQL, and Optuna 3.1's own RDB
# storage (psycopg2) on the same PostgreSQL server (docs/distributed.md).
#
#   benchmarks/distributed_throughput.sh [--worker build/examples/study_worker] [--total 200]
#                                        [--workers "1 4 8"]
#
# Each run: a fresh study (a new SQLite file, a new PostgreSQL database); W workers started at once,
# each running TOTAL / W trials with the random sampler (so that the storage, not the sampler, is
# what is measured; no heartbeat, no budget); trials/s = TOTAL / the slowest worker's optimize()
# time (start-up, imports and connecting are not counted). The PostgreSQL server is a throwaway one
# (tests/study/postgres_server.sh: initdb on a free port, fsync off), stopped at the end. Needs
# the postgresql server binaries, and for the Optuna column /usr/bin/python3 with optuna and psycopg2.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
worker=$root/build/examples/study_worker
total=200
counts="1 4 8"
while [ $# -gt 0 ]; do
  case "$1" in
    --worker) worker=$2; shift 2 ;;
    --total) total=$2; shift 2 ;;
    --workers) counts=$2; shift 2 ;;
    *) echo "usage: $0 [--worker PATH] [--total N] [--workers \"1 4 8\"]" >&2; exit 2 ;;
  esac
done
[ -x "$worker" ] || { echo "no $worker: build it (ninja -C build study_worker)" >&2; exit 1; }
py=/usr/bin/python3
work=$(mktemp -d)
chmod 755 "$work"  # the server runs as the postgres user when this runs as root
server=$work/server
trap 'bash "$root/tests/study/postgres_server.sh" stop "$server" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
admin=$(bash "$root/tests/study/postgres_server.sh" start "$server")
base=${admin%/*}
have_optuna=1
"$py" -c "import optuna, psycopg2" 2>/dev/null || have_optuna=0

newdb() {
  "$py" - "$admin" "$1" <<'EOF'
import sys
import psycopg2
con = psycopg2.connect(sys.argv[1])
con.autocommit = True
con.cursor().execute(f"CREATE DATABASE {sys.argv[2]}")
EOF
}

# The slowest worker's seconds in one run: each worker prints its optimize() time.
run_normlab() {  # URL WORKERS
  local url=$1 n=$2 k
  for k in $(seq 1 "$n"); do
    "$worker" --storage "$url" --study-name bench --sampler random --seed "$k" --trials $((total / n)) --quiet &
  done | sed -n 's/.* in \([0-9.]*\) s .*/\1/p' | sort -g | tail -1
}
run_optuna() {  # URL WORKERS
  local url=$1 n=$2 k
  for k in $(seq 1 "$n"); do
    "$py" - "$url" "$k" $((total / n)) <<'EOF' &
import sys, time
import optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
url, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for attempt in range(20):  # workers starting together may race to create the study
    try:
        study = optuna.create_study(study_name="bench", storage=url, load_if_exists=True, direction="minimize",
                                    sampler=optuna.samplers.RandomSampler(seed=seed))
        break
    except Exception:
        time.sleep(0.1)
start = time.perf_counter()
study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2 + (t.suggest_float("y", -5, 5) + 2) ** 2, n_trials=n)
print(f"optuna worker ran {n} trial(s) in {time.perf_counter() - start:.3f} s")
EOF
  done | sed -n 's/.* in \([0-9.]*\) s.*/\1/p' | sort -g | tail -1
}
rate() { awk -v n="$total" -v s="$1" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }'; }

echo "trials/s of one study, $total trials in all (random sampler, cheap objective); $(nproc) CPU(s), $(uname -m)"
printf "%-8s %16s %20s %24s\n" workers "normlab SQLite" "normlab PostgreSQL" "Optuna 3.1 PostgreSQL"
for n in $counts; do
  s_sqlite=$(run_normlab "sqlite:///$work/sqlite_$n.sqlite3" "$n")
  newdb "normlab_$n"
  s_pg=$(run_normlab "$base/normlab_$n" "$n")
  o="-"
  if [ "$have_optuna" = 1 ]; then
    newdb "optuna_$n"
    o=$(rate "$(run_optuna "postgresql+psycopg2://${base#postgresql://}/optuna_$n" "$n")")
  fi
  printf "%-8s %16s %20s %24s\n" "$n" "$(rate "$s_sqlite")" "$(rate "$s_pg")" "$o"
done
echo "PostgreSQL $("$(bash "$root/tests/study/postgres_server.sh" bindir)/postgres" --version | awk '{print $3}'), $( [ "$have_optuna" = 1 ] && "$py" -c 'import optuna, sqlalchemy, psycopg2; print("Optuna", optuna.__version__, "SQLAlchemy", sqlalchemy.__version__, "psycopg2", psycopg2.__version__.split()[0])')"
