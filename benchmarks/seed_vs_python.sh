#!/usr/bin/env bash
# Runs the notebook's seed protocol in C++ (build/examples/seed_mnist) and in Python (the notebook's
# own code, benchmarks/notebook_epoch.py) side by side: same data, subset, thread count and epochs.
# Prints each side's seconds per epoch (train + test) and the C++/Python ratio.
#   benchmarks/seed_vs_python.sh                      # Fashion-MNIST, 10,000 train / 2,000 test, 2 threads
#   TRAIN_LIMIT=0 TEST_LIMIT=0 benchmarks/seed_vs_python.sh   # the full 60,000-image epoch
#   CPP_FLAGS="--fast 1" benchmarks/seed_vs_python.sh           # extra seed_mnist flags (fast mode)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data} DATASET=${DATASET:-fashion-mnist} THREADS=${THREADS:-2} EPOCHS=${EPOCHS:-2}
TRAIN_LIMIT=${TRAIN_LIMIT:-10000} TEST_LIMIT=${TEST_LIMIT:-2000}
read -r -a cpp_flags <<< "${CPP_FLAGS:-}"  # extra flags for the C++ side only
EXE=${EXE:-build/examples/seed_mnist}
[ -x "$EXE" ] || { echo "build first: scripts/setup.sh" >&2; exit 1; }
dpkg-query -W python3-torchvision >/dev/null 2>&1 || {
  echo "installing python3-torch and python3-torchvision for the Python side"
  apt-get install -y -qq python3-torch python3-torchvision >/dev/null; }

args=(--data "$DATA" --dataset "$DATASET" --threads "$THREADS" --epochs "$EPOCHS"
      --train-limit "$TRAIN_LIMIT" --test-limit "$TEST_LIMIT")
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
echo "== C++ (normlab): $EXE ${args[*]} ${cpp_flags[*]}"
"$EXE" "${args[@]}" --device cpu "${cpp_flags[@]}" >"$log/cpp" 2>&1
cat "$log/cpp"
cpp=$(sed -n 's/^epoch \([0-9]*\)\/.* \([0-9.]*\) s$/\2/p' "$log/cpp")
echo "== Python (the notebook's code): benchmarks/notebook_epoch.py ${args[*]}"
/usr/bin/python3 benchmarks/notebook_epoch.py "${args[@]}" >"$log/py" 2>&1
cat "$log/py"
py=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' "$log/py")
# Epoch 1 includes warm-up on both sides; report the mean over all epochs and over epochs >= 2.
/usr/bin/python3 - "$cpp" "$py" <<'PY'
import sys
cpp = [float(x) for x in sys.argv[1].split()]
py = [float(x) for x in sys.argv[2].split()]
mean = lambda v: sum(v) / len(v)
print(f"seconds per epoch: C++ {mean(cpp):.2f}, Python {mean(py):.2f}, ratio C++/Python {mean(cpp)/mean(py):.3f}")
if len(cpp) > 1:
    print(f"epochs >= 2:       C++ {mean(cpp[1:]):.2f}, Python {mean(py[1:]):.2f}, ratio C++/Python {mean(cpp[1:])/mean(py[1:]):.3f}")
PY
