#!/usr/bin/env bash
# Decode + transform throughput: normlab's ImageBatchLoader against torchvision 0.14's
# DataLoader(ImageFolder(root, transform=notebook transform), batch_size=64, num_workers=W), on the
# same folder of JPEG and PNG files (made by scripts/make_image_folder.py in a temporary folder),
# with the same W. Prints both rates (images/s, best of R passes after a warm-up pass; a pass
# includes starting its workers, as a DataLoader epoch does), their ratio, and the largest pixel
# difference between the two outputs on the first 128 images.
#
#   benchmarks/image_loader_vs_torchvision.sh [-w WORKERS] [-n PER_CLASS] [-p PNG_FRACTION]
#                                             [-r REPEAT] [-b BUILD_DIR]
#
# Defaults: -w 2, -n 60 (600 training images), -p 0.5 (half PNG; 0: all JPEG, like ImageNet),
# -r 3, -b build. Needs Debian's /usr/bin/python3
# (python3-torch, python3-torchvision, python3-pil) and builds the image_loader_benchmark target
# if it is missing. Both sides produce the notebook's float batches: torchvision's workers run
# Resize(256), ToTensor(), CenterCrop(224), Normalize((0,)*3, (1,)*3) per image; normlab's workers
# produce uint8 batches that BatchNormalizer turns into the same floats on the CPU (the loader-only
# rate is printed too). Run it on an otherwise idle machine: the rates move with other load.
set -euo pipefail
cd "$(dirname "$0")/.."

workers=2 per_class=60 png=0.5 repeat=3 build=build
while getopts "w:n:p:r:b:h" opt; do
  case $opt in
    w) workers=$OPTARG ;;
    n) per_class=$OPTARG ;;
    p) png=$OPTARG ;;
    r) repeat=$OPTARG ;;
    b) build=$OPTARG ;;
    *) sed -n '2,18p' "$0"; exit 2 ;;
  esac
done

python=/usr/bin/python3
exe=$build/benchmarks/image_loader_benchmark
if [ ! -x "$exe" ]; then
  echo "image_loader_vs_torchvision: building $exe"
  cmake --build "$build" --target image_loader_benchmark
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
$python scripts/make_image_folder.py --out "$tmp/folder" --per-class "$per_class" --png-fraction "$png" >&2
root=$tmp/folder/train
check=128

normlab_out=$("$exe" --root "$root" --workers "$workers" --batch-size 64 --repeat "$repeat" \
                     --dump "$tmp/normlab.u8" --dump-count "$check")
echo "$normlab_out" | grep -v '^normlab_images_per_s'
normlab_rate=$(echo "$normlab_out" | awk '/^normlab_images_per_s/ {print $2}')

$python - "$root" "$workers" "$repeat" "$tmp/normlab.u8" "$check" "$normlab_rate" <<'EOF'
import sys, time
import numpy as np
import torch
from torchvision import datasets, transforms as T

root, workers, repeat, dump, check, normlab_rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
torch.set_num_threads(1)
notebook = T.Compose([T.Resize(256), T.ToTensor(), T.CenterCrop(224), T.Normalize((0.0,) * 3, (1.0,) * 3)])
dataset = datasets.ImageFolder(root, transform=notebook)

def one_pass():
    start, n = time.perf_counter(), 0
    for images, labels in torch.utils.data.DataLoader(dataset, batch_size=64, num_workers=workers):
        n += len(labels)
    return time.perf_counter() - start, n

one_pass()  # warm-up, as on the normlab side
best, n = min(one_pass() for _ in range(repeat))
rate = n / best
print('torchvision: {} images, workers {}, batch 64: {:.1f} images/s (best of {}; {:.3f} s a pass)'.format(
    n, workers, rate, repeat, best))
print('ratio normlab / torchvision: {:.2f}x'.format(normlab_rate / rate))

# The same pixels? torchvision without Normalize, as uint8, against normlab's first images.
plain = datasets.ImageFolder(root, transform=T.Compose([T.Resize(256), T.ToTensor(), T.CenterCrop(224)]))
ours = np.fromfile(dump, dtype=np.uint8).reshape(-1, 3, 224, 224)
worst = 0
for i in range(len(ours)):
    theirs = torch.round(plain[i][0] * 255).to(torch.uint8).numpy()
    worst = max(worst, int(np.abs(theirs.astype(np.int16) - ours[i].astype(np.int16)).max()))
print('largest pixel difference on the first {} images: {}/255'.format(len(ours), worst))
EOF
