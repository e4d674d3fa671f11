#!/usr/bin/env python3
"""Checks that normlab's headers include one way: each folder only folders below it (docs/layers.md).

    python3 scripts/check_layers.py            # one line per folder: what it includes; then problems
    python3 scripts/check_layers.py --edges    # also every include across folders, file by file

Reads every header under include/normlab/ and fails (exit 1) on:
  - an include that points up, or sideways (to another folder of the same layer);
  - a header that is in no layer (a new folder or top-level header: add it to LAYERS and docs/layers.md);
  - LibTorch (<torch/...>, <ATen/...>, <c10/...>) in a folder that must build without it;
  - an include of a normlab header after the first namespace of a file (an include at the bottom of a
    file that breaks a cycle: move the shared piece down instead).
The violations that today's code still has are listed in KNOWN_VIOLATIONS, each with the issue-10
item that removes it; they are printed as "known violation" and do not fail the check. An entry that no
longer occurs is printed as "stale" so that it gets deleted.
Only the Python standard library; run from anywhere.
"""

import argparse
import os
import re
import sys

# Bottom to top. A header may include headers of its own folder and of any lower layer. Within a layer
# the folders are independent (no sideways include), except in the vocabulary layer, whose few headers
# are one unit. A top-level header (include/normlab/x.hpp) is its own unit, named "x.hpp".
LAYERS = [
    ("vocabulary", ["policy.hpp", "interrupt.hpp", "choose.hpp", "detail"]),
    ("search, image", ["search", "image"]),
    ("study", ["study"]),
    ("the policies' own code", ["normalize", "optim", "schedule", "data", "device"]),
    ("models, compensation", ["models", "compensate"]),
    ("train", ["train"]),  # with the run vocabulary, train/run.hpp (RunOptions, RunResult, errors)
    ("pipeline", ["pipeline.hpp"]),
    ("what researchers read", ["plot", "cli", "normalization_study.hpp", "batched_study.hpp"]),
    ("report", ["report"]),  # a study's summaries and pictures, the ANOVA and the verdict: no LibTorch
    ("the answer report", ["normalization_report.hpp"]),  # trains the report's design: pipeline + report
    ("umbrella", ["normlab.hpp"]),
]
SIDEWAYS_OK = {"vocabulary"}

# Units that build without LibTorch (their CMake targets, normlab::search / normlab::study /
# normlab::plot, do not link it).
NO_TORCH = {"policy.hpp", "interrupt.hpp", "choose.hpp", "detail", "search", "study", "plot", "report"}
TORCH_INCLUDE = re.compile(r"^\s*#\s*include\s*<(torch|ATen|c10|caffe2)/")

# Headers that are meant to be included in the middle of a file: they hold only #pragma lines that
# bracket a stretch of code (no contracted a + b * c).
MID_FILE_HEADERS = {
    "normlab/search/detail/separate_roundings_begin.hpp",
    "normlab/search/detail/separate_roundings_end.hpp",
}

# (including file, included file, kind, why it is still here). Each one goes when its issue-10 item
# is done; those files belong to that work, so they are not changed here.
KNOWN_VIOLATIONS = [
]

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
NAMESPACE = re.compile(r"^\s*namespace\b")


def unit_of(rel):
    """'normlab/search/detail/x.hpp' -> 'search'; 'normlab/pipeline.hpp' -> 'pipeline.hpp'."""
    parts = rel.split("/")
    return parts[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edges", action="store_true", help="print every include across folders")
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."),
                        help="the repository (default: this script's)")
    args = parser.parse_args()
    include_dir = os.path.normpath(os.path.join(args.root, "include"))

    rank, layer_name = {}, {}
    for i, (name, units) in enumerate(LAYERS):
        for u in units:
            rank[u], layer_name[u] = i, name

    headers = []
    for dirpath, _, files in os.walk(os.path.join(include_dir, "normlab")):
        for f in files:
            if f.endswith((".hpp", ".h")):
                headers.append(os.path.relpath(os.path.join(dirpath, f), include_dir).replace(os.sep, "/"))
    headers.sort()
    if not headers:
        print(f"check_layers: no headers under {include_dir}/normlab", file=sys.stderr)
        return 2

    problems, known, seen_known = [], [], set()
    uses = {}  # unit -> {included unit: count}
    edges = []
    known_index = {(a, b): (kind, why) for a, b, kind, why in KNOWN_VIOLATIONS}

    def report(src, dst, kind, line, text):
        key = (src, dst)
        if key in known_index and known_index[key][0] == kind:
            seen_known.add(key)
            known.append(f"known violation ({kind}): {src}:{line} includes {dst}\n"
                         f"    {known_index[key][1]}")
        else:
            problems.append(f"{src}:{line}: {text}")

    for rel in headers:
        unit = unit_of(rel)
        if unit not in rank:
            problems.append(f"{rel}: '{unit}' is in no layer: add it to LAYERS in scripts/check_layers.py "
                            f"and to docs/layers.md")
            continue
        seen_namespace = False
        with open(os.path.join(include_dir, rel), encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if NAMESPACE.match(line):
                    seen_namespace = True
                if unit in NO_TORCH and TORCH_INCLUDE.match(line):
                    problems.append(f"{rel}:{number}: includes LibTorch ({line.strip()}), but {unit} "
                                    f"builds without it (docs/layers.md)")
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(2)
                if m.group(1) == '"' and not target.startswith("normlab/"):
                    local = os.path.normpath(os.path.join(os.path.dirname(rel), target)).replace(os.sep, "/")
                    if os.path.exists(os.path.join(include_dir, local)):
                        target = local
                if not target.startswith("normlab/"):
                    continue
                if not os.path.exists(os.path.join(include_dir, target)):
                    problems.append(f"{rel}:{number}: includes {target}, which does not exist")
                    continue
                if seen_namespace and target not in MID_FILE_HEADERS:
                    report(rel, target, "late", number,
                           f"includes {target} after the file's code began (an include at the bottom of "
                           f"a file to break a cycle): move the shared piece down instead")
                dst_unit = unit_of(target)
                if dst_unit == unit:
                    continue
                uses.setdefault(unit, {}).setdefault(dst_unit, 0)
                uses[unit][dst_unit] += 1
                edges.append((rel, number, target))
                if dst_unit not in rank:
                    continue  # reported as a header in no layer
                if rank[dst_unit] > rank[unit]:
                    report(rel, target, "up", number,
                           f"includes {target}: points up, from '{layer_name[unit]}' ({unit}) to "
                           f"'{layer_name[dst_unit]}' ({dst_unit})")
                elif rank[dst_unit] == rank[unit] and layer_name[unit] not in SIDEWAYS_OK:
                    report(rel, target, "sideways", number,
                           f"includes {target}: points sideways, from {unit} to {dst_unit} (same layer "
                           f"'{layer_name[unit]}'); move the shared piece below both")

    print("normlab layers, bottom to top (docs/layers.md); each folder and what it includes:")
    for i, (name, units) in enumerate(LAYERS):
        print(f"  {i} {name}")
        for u in units:
            label = u + ("/" if not u.endswith((".hpp", ".h")) else "")
            if not any(unit_of(h) == u for h in headers):
                print(f"      {label:<26} (no headers yet)")
                continue
            deps = uses.get(u, {})
            listed = ", ".join(f"{d}{'/' if not d.endswith('.hpp') else ''}" for d in
                               sorted(deps, key=lambda d: (rank.get(d, 99), d))) or "-"
            print(f"      {label:<26} -> {listed}")
    if args.edges:
        print("\nincludes across folders:")
        for rel, number, target in edges:
            print(f"  {rel}:{number} -> {target}")

    stale = [f"stale allow-list entry (no longer occurs: delete it from KNOWN_VIOLATIONS): {a} -> {b} ({kind})"
             for a, b, kind, _ in KNOWN_VIOLATIONS if (a, b) not in seen_known]
    print()
    for k in known:
        print(k)
    for s in stale:
        print(s)
    if problems:
        print(f"\n{len(problems)} layering problem(s):")
        for p in problems:
            print("  " + p)
        return 1
    print(f"\nlayers: OK ({len(headers)} headers; {len(known)} known violation(s) listed above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
