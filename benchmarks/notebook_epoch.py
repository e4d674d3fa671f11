#!/usr/bin/python3
"""Times the notebook's own MNIST protocol (Python, PyTorch 1.13) epoch by epoch.

    /usr/bin/python3 benchmarks/notebook_epoch.py --data data --dataset fashion-mnist \
        --threads 2 --epochs 2 --train-limit 10000 --test-limit 2000

Net, train and test are the notebook's, imported from scripts/golden/notebook_golden.py; main() is
the notebook's CPU branch with subsets. Prints one line per epoch, `epoch=K seconds=S accuracy=A`.
"""
import argparse
import os
import sys
import time

import torch
import torch.optim as optim
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torchvision import datasets, transforms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "golden"))
from notebook_golden import Net, train, test  # noqa: E402  (the notebook's code)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="data")
    ap.add_argument("--dataset", default="fashion-mnist", choices=["mnist", "fashion-mnist"])
    ap.add_argument("--mean", type=float, default=0.1307)
    ap.add_argument("--std", type=float, default=0.3081)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--test-limit", type=int, default=0)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(1998)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((a.mean,), (a.std,))])
    cls = datasets.MNIST if a.dataset == "mnist" else datasets.FashionMNIST
    train_set = cls(a.data, train=True, download=False, transform=transform)
    test_set = cls(a.data, train=False, download=False, transform=transform)
    if a.train_limit:
        train_set = torch.utils.data.Subset(train_set, range(a.train_limit))
    if a.test_limit:
        test_set = torch.utils.data.Subset(test_set, range(a.test_limit))
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=64)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000)
    device = torch.device("cpu")
    model = Net().to(device)
    model.conv1.bias.data -= a.mean
    model.conv1.weight.data /= a.std
    optimizer = optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = ReduceLROnPlateau(optimizer, 'max')
    for epoch in range(1, a.epochs + 1):
        start = time.perf_counter()
        train(model, device, train_loader, optimizer, epoch, verbose=False)
        result = test(model, device, test_loader, verbose=False)
        accuracy = result[0] if isinstance(result, tuple) else result
        scheduler.step(accuracy)
        print(f"epoch={epoch} seconds={time.perf_counter() - start:.3f} accuracy={accuracy:.4f}", flush=True)


if __name__ == "__main__":
    main()
