#!/usr/bin/env python3
"""Writes the hostile files of issue 14 into a folder, to check by hand (or under /usr/bin/time)
that normlab's programs refuse each with a named error, exit code 1 and bounded memory:

    scripts/hostile_files.py OUT
    /usr/bin/time -f %M build/examples/resnet_eval --data tests/data/images-folder --classes 2 \
        --weights OUT/offset_2p63_minus_16.pt

Weights: torch.save-format zips (data.pkl + data/0 + version) written byte by byte, no torch needed.
  offset_2p63_minus_16.pt, offset_2p63_minus_2p40.pt, view_1MB_at_2p63_minus_2p18.pt: fc.bias views
      whose offset + (size-1)*stride wraps int64 (the out-of-bounds read normlab used to do);
  nest_tuple_1e5.pt ... nest_list_1e7.pt, nest_dict_*, nest_rebuild_1e5.pt: data.pkl nesting
      containers 10^5..10^7 deep (a stack overflow in a recursive reader);
  fc_3e6_rows.pt, fc_2p40_rows.pt: an fc.weight claiming 3,000,000 or 2^40 rows of 512 floats.
Images (in OUT/bombs/cls): bomb.png 30000x30000, bomb.jpg 20000x20000, headers only.
"""
import os
import struct
import sys
import zipfile
import zlib


def integer(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if -2**31 <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    return b"\x8a\x08" + struct.pack("<q", v)


def text(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def ints(v):
    return b"(" + b"".join(integer(i) for i in v) + b"t"


ORDERED_DICT = b"ccollections\nOrderedDict\n)R"


def tensor_pickle(entries):
    """entries: [(name, storage numel, offset, sizes, strides)], each on its own storage."""
    out = b"\x80\x02" + ORDERED_DICT + b"("
    for key, (name, numel, offset, sizes, strides) in enumerate(entries):
        out += text(name) + b"ctorch._utils\n_rebuild_tensor_v2\n("
        out += b"(" + text("storage") + b"ctorch\nFloatStorage\n" + text(str(key)) + text("cpu") + integer(numel) + b"tQ"
        out += integer(offset) + ints(sizes) + ints(strides) + b"\x89" + ORDERED_DICT + b"tR"
    return out + b"u."


def archive(path, pkl, storages=(16,)):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        for key, size in enumerate(storages):
            z.writestr(f"archive/data/{key}", bytes(size))
        z.writestr("archive/version", "3\n")


def png_header(width, height):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def main(out):
    os.makedirs(out, exist_ok=True)
    w = lambda name, pkl, storages=(16,): archive(os.path.join(out, name), pkl, storages)
    w("offset_2p63_minus_16.pt", tensor_pickle([("fc.bias", 4, 2**63 - 16, [2], [16])]))
    w("offset_2p63_minus_2p40.pt", tensor_pickle([("fc.bias", 4, 2**63 - 2**40, [2], [16])]))
    w("view_1MB_at_2p63_minus_2p18.pt", tensor_pickle([("fc.bias", 4, 2**63 - 2**18, [2**18], [1])]))
    for n, tag in ((10**5, "1e5"), (10**6, "1e6"), (10**7, "1e7")):
        w(f"nest_tuple_{tag}.pt", b"\x80\x02)" + b"\x85" * n + b".")
        w(f"nest_mark_tuple_{tag}.pt", b"\x80\x02" + b"(" * n + b")" + b"t" * n + b".")
        w(f"nest_list_{tag}.pt", b"\x80\x02" + b"]" * n + b"a" * n + b".")
        w(f"nest_dict_{tag}.pt", b"\x80\x02}" + b"K\x01}" * n + b"s" * n + b".")
        w(f"nest_rebuild_{tag}.pt", b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\nq\x01" + b"h\x01N" * n +
          b"ccollections\nOrderedDict\nN)\x87" + b"\x87" * n + b"R.")
    w("fc_3e6_rows.pt", tensor_pickle([("fc.weight", 3_000_000 * 512, 0, [3_000_000, 512], [512, 1]),
                                       ("fc.bias", 3_000_000, 0, [3_000_000], [1])]), (16, 16))
    w("fc_2p40_rows.pt", tensor_pickle([("fc.weight", 2**40 * 512, 0, [2**40, 512], [512, 1]),
                                        ("fc.bias", 2**40, 0, [2**40], [1])]), (16, 16))
    bombs = os.path.join(out, "bombs", "cls")
    os.makedirs(bombs, exist_ok=True)
    with open(os.path.join(bombs, "bomb.png"), "wb") as f:
        f.write(png_header(30000, 30000) + struct.pack(">I", 0) + b"IDAT" + struct.pack(">I", zlib.crc32(b"IDAT")))
    # A baseline JPEG header (DQT, SOF0 20000x20000, DHT, SOS) and no scan data.
    dqt = b"\xff\xdb\x00\x43\x00" + bytes([1] * 64)
    sof = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", 20000, 20000) + b"\x03\x01\x22\x00\x02\x11\x00\x03\x11\x00"
    dht = b"\xff\xc4\x00\x14\x00" + bytes([1] + [0] * 15) + b"\x00" + b"\xff\xc4\x00\x14\x10" + bytes([1] + [0] * 15) + b"\x00"
    sos = b"\xff\xda\x00\x0c\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"
    with open(os.path.join(bombs, "bomb.jpg"), "wb") as f:
        f.write(b"\xff\xd8" + dqt + sof + dht + sos + b"\x00" * 64 + b"\xff\xd9")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "hostile")
