#!/usr/bin/env bash
# ResNet-18 weights between torchvision and normlab, both ways, through torch.save files:
#  (a) Python saves torchvision.models.resnet18(num_classes=10)'s state_dict (BN statistics moved
#      by a train-mode batch) with torch.save, and its eval-mode logits on the golden input;
#      normlab loads the file into models::resnet18 (tests/models/state_dict_tool.cpp) and must
#      print the same logits (to 1e-4);
#  (b) normlab saves its own resnet18 with save_state_dict; Python's torch.load (weights_only=True)
#      and load_state_dict(strict=True) read it into torchvision's resnet18, whose logits must equal
#      the ones normlab printed (to 1e-4).
#   resnet_state_dict_interop_test.sh STATE_DICT_TOOL [WORK_DIR]
# Skips (exit 0, a line starting with "SKIP:") when the Python (NORMLAB_PYTHON, default
# /usr/bin/python3) cannot import torchvision.
set -euo pipefail
tool=$1
py=${NORMLAB_PYTHON:-/usr/bin/python3}
if ! "$py" -c "import torch, torchvision" 2>/dev/null; then
  echo "SKIP: $py cannot import torch and torchvision (Debian: apt-get install python3-torchvision)"
  exit 0
fi
if [ $# -ge 2 ]; then
  work=$2
  rm -rf "$work" && mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
classes=10
size=64

# (a) Python writes, normlab reads.
"$py" - "$work" "$classes" "$size" <<'PY'
import sys, torch, torchvision
work, classes, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(7)
model = torchvision.models.resnet18(num_classes=classes)
model.train()
with torch.no_grad():
    model(torch.rand(2, 3, size, size))          # BN running statistics move away from 0 / 1
model.eval()
torch.save(model.state_dict(), f"{work}/python_resnet18.pt")
i = torch.arange(2 * 3 * size * size, dtype=torch.int64)
x = (((i * 7919) % 2003 - 1001).to(torch.float32) / 1024.0).reshape(2, 3, size, size)
with torch.no_grad():
    y = model(x)
with open(f"{work}/python_logits.txt", "w") as f:
    for row in y.tolist():
        f.write(" ".join("%.9g" % v for v in row) + "\n")
PY
"$tool" logits "$work/python_resnet18.pt" "$classes" "$size" > "$work/cpp_logits_of_python_weights.txt"

# (b) normlab writes, Python reads.
"$tool" save "$work/cpp_resnet18.pt" "$classes" "$size" > "$work/cpp_logits.txt"
"$py" - "$work" "$classes" "$size" <<'PY'
import sys, inspect, torch, torchvision
work, classes, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
kwargs = {"weights_only": True} if "weights_only" in inspect.signature(torch.load).parameters else {}
state = torch.load(f"{work}/cpp_resnet18.pt", map_location="cpu", **kwargs)
torch.manual_seed(99)
model = torchvision.models.resnet18(num_classes=classes)
model.load_state_dict(state, strict=True)
assert list(state.keys()) == list(model.state_dict().keys()), "state_dict order differs from torchvision's"
model.eval()
i = torch.arange(2 * 3 * size * size, dtype=torch.int64)
x = (((i * 7919) % 2003 - 1001).to(torch.float32) / 1024.0).reshape(2, 3, size, size)
with torch.no_grad():
    y = model(x)
with open(f"{work}/python_logits_of_cpp_weights.txt", "w") as f:
    for row in y.tolist():
        f.write(" ".join("%.9g" % v for v in row) + "\n")
PY

compare() {  # compare A B LABEL: same shape, max |difference| <= 1e-4
  "$py" - "$1" "$2" "$3" <<'PY'
import sys
a = [[float(v) for v in line.split()] for line in open(sys.argv[1]) if line.strip()]
b = [[float(v) for v in line.split()] for line in open(sys.argv[2]) if line.strip()]
assert len(a) == len(b) and all(len(r) == len(s) for r, s in zip(a, b)), f"{sys.argv[3]}: shapes differ"
worst = max(abs(x - y) for r, s in zip(a, b) for x, y in zip(r, s))
scale = max(abs(x) for r in b for x in r)
print(f"{sys.argv[3]}: max |logit difference| = {worst:.3g} (max |logit| {scale:.3g})")
sys.exit(0 if worst <= 1e-4 else 1)
PY
}
compare "$work/cpp_logits_of_python_weights.txt" "$work/python_logits.txt" "torchvision -> normlab"
compare "$work/python_logits_of_cpp_weights.txt" "$work/cpp_logits.txt" "normlab -> torchvision"
echo "PASSED: resnet18 state_dict round trip between normlab and torch $("$py" -c 'import torch; print(torch.__version__)')"
