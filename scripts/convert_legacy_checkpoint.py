#!/usr/bin/python3
"""Convert a legacy-format PyTorch checkpoint to the zip format that normlab reads.

torch.save wrote a different, non-zip format before PyTorch 1.6 (and still does with
_use_new_zipfile_serialization=False); older torchvision weight downloads are in it. normlab's
C++ reader (include/normlab/models/state_dict.hpp) reads only the zip format, so convert such a
file once, with any Python that has torch:

    /usr/bin/python3 scripts/convert_legacy_checkpoint.py resnet18-5c106cde.pth resnet18.pt

The content is unchanged: torch.save(torch.load(src, map_location='cpu'), dst,
_use_new_zipfile_serialization=True).
"""

import argparse
import sys


def main():
    parser = argparse.ArgumentParser(
        description="Re-save a (legacy-format) torch.save file in the zip format that normlab's "
                    "C++ state_dict reader reads.")
    parser.add_argument("src", help="the checkpoint to convert (any format torch.load reads)")
    parser.add_argument("dst", help="where to write the zip-format copy")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("convert_legacy_checkpoint: this Python has no torch (Debian: apt-get install python3-torch)")
    try:
        obj = torch.load(args.src, map_location="cpu")
    except Exception as e:  # noqa: BLE001 -- report whatever torch.load says, in one line
        sys.exit(f"convert_legacy_checkpoint: cannot load '{args.src}': {e}")
    torch.save(obj, args.dst, _use_new_zipfile_serialization=True)
    kind = f"a state_dict of {len(obj)} entries" if isinstance(obj, dict) else type(obj).__name__
    print(f"wrote {args.dst} (zip format; {kind}) from {args.src}")


if __name__ == "__main__":
    main()
