#!/usr/bin/env bash
# Installs everything normlab needs on Debian 12 (run as root, or with sudo available), then
# configures and builds it in ./build. Safe to re-run: it installs only what is missing.
#   scripts/setup.sh            # library, examples, tests, benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config zlib1g-dev
          libtorch-dev libopenblas0-openmp libboost-dev librange-v3-dev catch2 libbenchmark-dev
          libsqlite3-dev sqlite3 libcli11-dev libcairo2-dev libjpeg62-turbo-dev libpng-dev
          libpq-dev postgresql  # PostgreSQL storage (libpq) and the server its tests start (docs/distributed.md)
          python3 python3-optuna python3-matplotlib python3-torch python3-torchvision python3-pil
          python3-psycopg2 python3-sklearn python3-scipy dataset-fashion-mnist)
          # Python and Fashion-MNIST: for the interoperability tests, and the report's fANOVA (sklearn)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build_type=${NORMLAB_BUILD_TYPE:-Release}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" ${NORMLAB_CMAKE_ARGS:-}
cmake --build build -j "${NORMLAB_JOBS:-$(nproc)}"
