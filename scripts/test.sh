#!/usr/bin/env bash
# Sets everything up (packages, build) and runs every test. The tests read only committed fixture
# data (tests/data) and golden files (tests/golden): no Python, no download.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure -j "${NORMLAB_TEST_JOBS:-2}" "$@"
