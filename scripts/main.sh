#!/usr/bin/env bash
# The main job: sets everything up (packages, data, build), then runs the notebook's normalization
# study on the default data (MNIST in ./data): a TPE search over (mean, std) stored in
# results/optuna-MNIST.sqlite3 (Optuna 3.1's format), with a contour plot of accuracy over
# (mean, std) in results/. Re-running resumes the study (it stops at 24 complete trials).
# Extra arguments go to build/examples/mnist_study (e.g. --profile notebook for the full protocol).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/get-data.sh data
mkdir -p results
build/examples/mnist_study --data data --dataset mnist --threads "$(nproc)" \
  --storage sqlite:///results/optuna-MNIST.sqlite3 --study-name MNIST --trials 24 --max-trials 24 \
  --plot results/mnist_contour.svg --csv results/mnist_trials.csv "$@"
