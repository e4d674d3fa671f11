#!/usr/bin/env bash
# The main job: sets everything up (packages, data, build), then runs the notebook's normalization
# study on the default data (MNIST in ./data): a TPE search over (mean, std) stored in
# results/optuna-MNIST.sqlite3 (Optuna 3.1's format), with a contour plot of accuracy over
# (mean, std) in results/. Re-running resumes the study; it stops at 24 complete trials (the quick
# profile), and says so when there is nothing left to run.
# Extra arguments go to build/examples/mnist_study and win over the profile's values, e.g.
#   scripts/main.sh --max-trials 48        # extend the finished study by 24 trials
#   scripts/main.sh --profile notebook     # the notebook's 25-epoch, full-data, 200-trial study
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/get-data.sh data
mkdir -p results
build/examples/mnist_study --data data --dataset mnist \
  --storage sqlite:///results/optuna-MNIST.sqlite3 --study-name MNIST \
  --plot results/mnist_contour.svg --csv results/mnist_trials.csv "$@"
