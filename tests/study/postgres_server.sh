#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: a new cluster (initdb) in DIR, started with pg_ctl on
# a free TCP port of 127.0.0.1, its socket in DIR too; nothing outside DIR is touched.
#   postgres_server.sh start DIR   prints and writes DIR/url: postgresql://postgres@127.0.0.1:PORT/postgres
#   postgres_server.sh restart DIR restarts it (fast shutdown: every connection is cut)
#   postgres_server.sh stop DIR    stops it (fast shutdown) and removes DIR
#   postgres_server.sh bindir      prints the folder of initdb/pg_ctl, or exits 77 when there is none
# PostgreSQL refuses to run as root: as root the server runs as the system user `postgres` (created
# when missing, as Debian's postgresql package does) through runuser. Authentication is `trust` on
# 127.0.0.1, except for the role normlab_pw, which must give its password (scram-sha-256): the tests
# check that a password reaches libpq from the URL, PGPASSWORD or ~/.pgpass.
# Exit status 77 (ctest's SKIP_RETURN_CODE) when no PostgreSQL server binaries are installed.
set -euo pipefail

bindir() {
  local d
  for d in "${NORMLAB_PG_BINDIR:-}" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

as_server_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $(( 20000 + RANDOM % 20000 ))
}

cmd=${1:-}
case "$cmd" in
  bindir)
    bindir || { echo "SKIP: no PostgreSQL server binaries (initdb, pg_ctl); Debian: apt-get install postgresql" >&2; exit 77; }
    ;;
  start)
    dir=${2:?usage: postgres_server.sh start DIR}
    bin=$(bindir) || { echo "SKIP: no PostgreSQL server binaries (initdb, pg_ctl); Debian: apt-get install postgresql"; exit 77; }
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    if [ -f "$dir/data/postmaster.pid" ]; then "$0" stop "$dir" || true; fi
    rm -rf "$dir" && mkdir -p "$dir"
    if ! as_server_user test -x "$(dirname "$dir")"; then
      echo "postgres_server.sh: the server's user cannot enter $(dirname "$dir") (chmod a+x it)" >&2
      exit 1
    fi
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    chmod 700 "$dir"
    as_server_user "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
    cat >"$dir/data/pg_hba.conf" <<'EOF'
local all all                  trust
host  all normlab_pw 127.0.0.1/32 scram-sha-256
host  all all        127.0.0.1/32 trust
EOF
    [ "$(id -u)" = 0 ] && chown postgres: "$dir/data/pg_hba.conf"
    for attempt in 1 2 3 4 5; do
      port=$(free_port)
      if as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
           -o "-p $port -c listen_addresses=127.0.0.1 -k $dir -c fsync=off -c max_connections=200" start \
           >"$dir/pg_ctl.log" 2>&1; then
        echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/url"
        chmod 644 "$dir/url"
        cat "$dir/url"
        exit 0
      fi
    done
    cat "$dir/pg_ctl.log" "$dir/server.log" 2>/dev/null
    exit 1
    ;;
  restart)
    dir=${2:?usage: postgres_server.sh restart DIR}
    bin=$(bindir)
    as_server_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 60 restart >"$dir/pg_ctl.log" 2>&1 ||
      { cat "$dir/pg_ctl.log" "$dir/server.log"; exit 1; }
    ;;
  stop)
    dir=${2:?usage: postgres_server.sh stop DIR}
    bin=$(bindir) || exit 0
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_server_user "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: postgres_server.sh start DIR | restart DIR | stop DIR | bindir" >&2
    exit 2
    ;;
esac
