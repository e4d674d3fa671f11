#!/usr/bin/env bash
# The main job: sets everything up (packages, data, build), then runs the notebook's seed protocol
# on the default data (MNIST in ./data). Extra arguments go to build/examples/seed_mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/get-data.sh data
build/examples/seed_mnist --data data --dataset mnist --epochs 25 --threads "$(nproc)" "$@"
