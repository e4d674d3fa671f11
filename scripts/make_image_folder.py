#!/usr/bin/python3
"""Build a real ImageFolder (train/ and val/, one sub-folder per class) from Fashion-MNIST.

    /usr/bin/python3 scripts/make_image_folder.py --out /tmp/fmnist-folder [--per-class 100]
        [--val-per-class 20] [--seed 1998] [--png-fraction 0.5] [--data DIR]

A stand-in for the notebook's ImageNet folder with the same shape of problem for the image path:
JPEG and PNG files of varied, non-square sizes, decoded, resized and cropped by the notebook's
transforms. Python standard library + Pillow only (Debian's python3-pil); no torch needed.

Input: the IDX files of Fashion-MNIST, gzip-compressed or raw, from --data (default: the first of
data/FashionMNIST/raw, made by scripts/get-data.sh, and /usr/share/datasets/fashion-mnist, Debian's
dataset-fashion-mnist). train/ takes the first --per-class images of each class from the training
file, val/ the first --val-per-class (default per-class // 5, at least 1) from the test file.

Folders: Fashion-MNIST's class names, with "/" and " " made "_": T-shirt_top, Trouser, Pullover,
Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle_boot. ImageFolder numbers classes by sorted folder
name, so its indices are not Fashion-MNIST's labels (Ankle_boot is 0).

Each 28x28 picture is coloured (a random foreground colour over a random dark background, blended
by the grey level), upscaled with Pillow's bicubic filter to a random size of 180..400 pixels per
side (independently: non-square; a side under 224 is common) and saved as <index>.jpg (quality
75..95, 4:2:0) or, with probability --png-fraction (default 0.5; 0 gives an all-JPEG folder like
ImageNet), <index>.png (RGB); about 1 in 12 PNGs is greyscale ("L") and 1 in 12 a 256-colour
palette ("P") image. Everything comes from one random.Random(seed) drawn in a fixed
order, and Pillow's encoders are deterministic, so the same arguments give byte-identical files.
"""
import argparse
import gzip
import os
import random
import struct
import sys
import time

from PIL import Image

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
DEFAULT_DATA = [os.path.join(ROOT, 'data', 'FashionMNIST', 'raw'), '/usr/share/datasets/fashion-mnist']
CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
           'Ankle boot']


def folder_name(label):
    return CLASSES[label].replace('/', '_').replace(' ', '_')


def open_idx(data_dir, stem):
    for name in (stem + '.gz', stem):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            with (gzip.open if name.endswith('.gz') else open)(path, 'rb') as f:
                return f.read(), path
    return None, None


def read_idx(data_dir, stem, dims):
    data, path = open_idx(data_dir, stem)
    if data is None:
        sys.exit('make_image_folder: no {0} or {0}.gz in {1}'.format(stem, data_dir))
    if len(data) < 4 + 4 * dims or data[:4] != bytes([0, 0, 8, dims]):
        sys.exit('make_image_folder: {} is not a {}-dimensional IDX file of bytes'.format(path, dims))
    shape = struct.unpack('>' + 'I' * dims, data[4:4 + 4 * dims])
    body = data[4 + 4 * dims:]
    count = 1
    for d in shape:
        count *= d
    if len(body) != count:
        sys.exit('make_image_folder: {} holds {} bytes of data, its header says {}'.format(path, len(body), count))
    return shape, body


def find_data(arg):
    candidates = [arg] if arg else DEFAULT_DATA
    for d in candidates:
        if open_idx(d, 'train-images-idx3-ubyte')[0] is not None:
            return d
    sys.exit('make_image_folder: Fashion-MNIST not found in {} (run scripts/get-data.sh, or pass --data DIR)'
             .format(', '.join(candidates)))


def picture(rng, pixels):
    """One 28x28 grey picture (bytes) as a coloured, upscaled PIL image."""
    fg = [rng.randint(90, 255) for _ in range(3)]
    bg = [rng.randint(0, 70) for _ in range(3)]
    rgb = bytearray(28 * 28 * 3)
    for i, g in enumerate(pixels):
        for c in range(3):
            rgb[3 * i + c] = (bg[c] * (255 - g) + fg[c] * g + 127) // 255
    w, h = rng.randint(180, 400), rng.randint(180, 400)
    return Image.frombytes('RGB', (28, 28), bytes(rgb)).resize((w, h), Image.BICUBIC)


def write_split(rng, out, split, shape, images, labels, per_class, png_fraction):
    n, rows, cols = shape
    size = rows * cols
    taken = [0] * len(CLASSES)
    written = 0
    for c in range(len(CLASSES)):
        os.makedirs(os.path.join(out, split, folder_name(c)), exist_ok=True)
    for i in range(n):
        label = labels[i]
        if taken[label] >= per_class:
            if min(taken) >= per_class:
                break
            continue
        taken[label] += 1
        img = picture(rng, images[i * size:(i + 1) * size])
        base = os.path.join(out, split, folder_name(label), '{:05d}'.format(i))
        if rng.random() < 1.0 - png_fraction:
            img.save(base + '.jpg', quality=rng.randint(75, 95))
        else:
            kind = rng.random()
            if kind < 1 / 12:
                img = img.convert('L')
            elif kind < 2 / 12:
                img = img.convert('P', palette=Image.ADAPTIVE, colors=256)
            img.save(base + '.png')
        written += 1
    short = [folder_name(c) for c in range(len(CLASSES)) if taken[c] < per_class]
    if short:
        sys.exit('make_image_folder: not enough {} images for {}'.format(split, ', '.join(short)))
    return written


def main():
    ap = argparse.ArgumentParser(description='Build an ImageFolder (train/, val/) of JPEG and PNG files from Fashion-MNIST.')
    ap.add_argument('--out', required=True, help='folder to create (train/ and val/ go inside)')
    ap.add_argument('--per-class', type=int, default=100, help='training images per class (default 100)')
    ap.add_argument('--val-per-class', type=int, default=None, help='validation images per class (default per-class // 5, at least 1)')
    ap.add_argument('--seed', type=int, default=1998, help='seed of the sizes, colours and formats (default 1998)')
    ap.add_argument('--png-fraction', type=float, default=0.5, help='share of PNG files, 0..1 (default 0.5)')
    ap.add_argument('--data', default=None, help='folder holding the Fashion-MNIST IDX files')
    args = ap.parse_args()
    if args.per_class <= 0:
        ap.error('--per-class must be positive')
    val_per_class = args.val_per_class if args.val_per_class is not None else max(1, args.per_class // 5)
    if val_per_class <= 0:
        ap.error('--val-per-class must be positive')
    if not 0.0 <= args.png_fraction <= 1.0:
        ap.error('--png-fraction must lie in 0..1')

    data_dir = find_data(args.data)
    for split in ('train', 'val'):
        if os.path.exists(os.path.join(args.out, split)) and os.listdir(os.path.join(args.out, split)):
            sys.exit('make_image_folder: {} is not empty; remove it or choose another --out'
                     .format(os.path.join(args.out, split)))
    start = time.time()
    rng = random.Random(args.seed)
    counts = []
    for split, prefix, per_class in (('train', 'train', args.per_class), ('val', 't10k', val_per_class)):
        shape, images = read_idx(data_dir, prefix + '-images-idx3-ubyte', 3)
        lshape, labels = read_idx(data_dir, prefix + '-labels-idx1-ubyte', 1)
        if lshape[0] != shape[0]:
            sys.exit('make_image_folder: {} images but {} labels in {}'.format(shape[0], lshape[0], data_dir))
        counts.append(write_split(rng, args.out, split, shape, images, labels, per_class, args.png_fraction))
    print('make_image_folder: {} train + {} val images in {} ({} classes, from {}, {:.1f} s)'.format(
        counts[0], counts[1], args.out, len(CLASSES), data_dir, time.time() - start))


if __name__ == '__main__':
    main()
