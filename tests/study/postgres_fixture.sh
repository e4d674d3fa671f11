# Sourced by the PostgreSQL test scripts: `use_postgres_server DIR` sets $postgres_url to the server
# of ctest's fixture (the URL in NORMLAB_TEST_POSTGRES_URL_FILE), else starts a throwaway one in DIR
# (postgres_server.sh) and stops it when the script exits.
use_postgres_server() {
  local script
  script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/postgres_server.sh"
  if [ -n "${NORMLAB_TEST_POSTGRES_URL_FILE:-}" ]; then
    postgres_url=$(cat "$NORMLAB_TEST_POSTGRES_URL_FILE")
  else
    postgres_url=$(bash "$script" start "$1")
    # shellcheck disable=SC2064  # the paths are fixed now
    trap "bash '$script' stop '$1'" EXIT
  fi
}
