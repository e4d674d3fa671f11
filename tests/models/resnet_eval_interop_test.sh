#!/usr/bin/env bash
# build/examples/resnet_eval against the notebook's own evaluation code (Python, torchvision 0.14)
# on the same ImageFolder of real images (Fashion-MNIST written as PNG/JPEG of varied sizes) and the
# same state_dict saved by torchvision: same file order, same predictions, logits within 1e-3, at
# several (mean, std) with the notebook's conv1.weight /= std.
#   resnet_eval_interop_test.sh RESNET_EVAL_EXE WORK_DIR
set -euo pipefail
exe=$1 work=$2
here=$(cd "$(dirname "$0")/../.." && pwd)
py=/usr/bin/python3
"$py" -c "import torch, torchvision, PIL" 2>/dev/null || { echo "SKIP: /usr/bin/python3 has no torchvision/PIL"; exit 0; }
fmnist=/usr/share/datasets/fashion-mnist
[ -d "$here/data/FashionMNIST/raw" ] && fmnist="$here/data/FashionMNIST/raw"
[ -f "$fmnist/t10k-images-idx3-ubyte.gz" ] || { echo "SKIP: no Fashion-MNIST files (scripts/get-data.sh)"; exit 0; }
rm -rf "$work" && mkdir -p "$work"
"$py" "$here/scripts/make_image_folder.py" --out "$work/folder" --per-class 1 --val-per-class 3 --data "$fmnist" >/dev/null

"$py" - "$work" <<'PY'
import csv, sys
import torch, torchvision
from torchvision import datasets, transforms
work = sys.argv[1]
torch.manual_seed(0)
torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), f"{work}/resnet18.pt")
torch.set_num_threads(2)
for mean, std in [(0.0, 1.0), (0.45, 0.225), (-1.5, 3.0)]:
    # The notebook's transform and evaluation (its main() with epochs=1 trains nothing).
    transform = transforms.Compose([transforms.Resize(256), transforms.ToTensor(), transforms.CenterCrop(224),
                                    transforms.Normalize((mean, mean, mean), (std, std, std))])
    folder = datasets.ImageFolder(f"{work}/folder/val", transform=transform)
    loader = torch.utils.data.DataLoader(folder, batch_size=1000)
    model = torchvision.models.resnet18(num_classes=10)
    model.load_state_dict(torch.load(f"{work}/resnet18.pt"))
    model.conv1.weight.data /= std
    model.eval()
    rows = []
    with torch.no_grad():
        for data, target in loader:
            out = model(data)
            rows += list(zip(target.tolist(), out.argmax(1).tolist(), out.tolist()))
    with open(f"{work}/python_{mean}_{std}.csv", "w") as f:
        w = csv.writer(f)
        for (path, _), (t, p, logits) in zip(folder.samples, rows):
            w.writerow([path, t, p] + [repr(x) for x in logits])
PY

for point in "0.0 1.0" "0.45 0.225" "-1.5 3.0"; do
  set -- $point
  "$exe" --data "$work/folder/val" --weights "$work/resnet18.pt" --arch resnet18 --mean "$1" --std "$2" \
         --compensation notebook --threads 2 --device cpu --predictions "$work/cpp_$1_$2.csv" >"$work/cpp_$1_$2.log" 2>&1 \
    || { cat "$work/cpp_$1_$2.log"; exit 1; }
  "$py" - "$work/python_$1_$2.csv" "$work/cpp_$1_$2.csv" "$1" "$2" <<'PY'
import csv, sys
py_rows = list(csv.reader(open(sys.argv[1])))
cpp_rows = list(csv.reader(open(sys.argv[2])))[1:]
assert len(py_rows) == len(cpp_rows) > 0, (len(py_rows), len(cpp_rows))
worst = 0.0
for a, b in zip(py_rows, cpp_rows):
    assert a[0] == b[0], ("file order", a[0], b[0])
    assert a[1] == b[1], ("true class", a[0], a[1], b[1])
    assert a[2] == b[2], ("predicted class", a[0], a[2], b[2])
    worst = max(worst, max(abs(float(x) - float(y)) for x, y in zip(a[3:], b[3:])))
assert worst <= 1e-3, worst
print(f"mean={sys.argv[3]} std={sys.argv[4]}: {len(py_rows)} images, same predictions, max |logit diff| {worst:.2e}")
PY
done
