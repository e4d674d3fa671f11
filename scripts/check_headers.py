#!/usr/bin/env python3
"""Checks that every public header of normlab compiles on its own (ctest headers.self_contained).

    python3 scripts/check_headers.py --torch-flags build/tests/headers_check/torch.flags \\
        --notorch-flags build/tests/headers_check/notorch.flags --work build/tests/headers_check

For each header under include/normlab/, `c++ -std=c++20 -fsyntax-only` on a one-file program that
includes it twice (a missing `#pragma once` shows up as a redefinition), with the include paths and
definitions of the CMake targets (tests/CMakeLists.txt writes them, one argument a line, into the two
.flags files) and WITHOUT normlab's shared precompiled header, which would hide a missing include.

- Headers that need no LibTorch (nothing they include, directly or through other normlab headers,
  names <torch/...>, <ATen/...> or <c10/...>) compile with the torch-free target's flags, which hold
  no LibTorch path, and must read no LibTorch file (checked with -H: Debian puts ATen/ and c10/ in
  /usr/include, so the include path alone cannot keep them out). search/, study/, plot/, policy.hpp,
  interrupt.hpp and detail/ must be among them.
- The others compile with normlab_pch's flags and `-include` of a precompiled <torch/torch.h> (made
  once in --work; only that third-party header, never a normlab one): parsing LibTorch takes ~11 s a
  file. Because that precompiled header would hide a forgotten torch include, a textual check asks
  that every header whose code names torch::, at:: or c10:: includes a LibTorch header itself.

The two headers meant for the middle of a file (search/detail/separate_roundings_begin.hpp and
_end.hpp: #pragma brackets, no include guard by design) compile as a pair. Runs os.cpu_count()
compilers at once. Only the Python standard library. Exit 1 on any problem, with the compiler's words.
"""

import argparse
import concurrent.futures
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
INCLUDE_DIR = os.path.join(ROOT, "include")

NO_TORCH_UNITS = {"policy.hpp", "interrupt.hpp", "detail", "search", "study", "plot"}
MID_FILE_PAIR = ("normlab/search/detail/separate_roundings_begin.hpp",
                 "normlab/search/detail/separate_roundings_end.hpp")
# (header, the start of the problem's line, why it stays and what removes it): a problem that must
# stay for a while, printed as "known problem" on every run and as "stale" once it is gone.
KNOWN_PROBLEMS = [
    ("normlab/train/variant_trainer.hpp", "does not compile on its own",
     "it calls device::set_threads and device::keep_freed_memory without including "
     "normlab/device/device.hpp; the header is being reworked on another branch (issue 10), which adds it"),
]

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
TORCH_HEADER = re.compile(r"^(torch|ATen|c10|caffe2)/")
TORCH_NAME = re.compile(r"(?<![\w:])(torch|at|c10)::")
TORCH_PATH = re.compile(r"/(torch|ATen|c10|caffe2)/")
CAIRO_HEADER = re.compile(r"^cairo")
LIBPQ_HEADER = re.compile(r"^libpq-fe\.h$")


def strip_comments_and_strings(text):
    """The code of a C++ file without comments, string and character literals (for TORCH_NAME)."""
    pattern = re.compile(r'//[^\n]*|/\*.*?\*/|R"(?P<d>[^(\s]*)\(.*?\)(?P=d)"|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                         re.S)
    return pattern.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def read_flags(*paths):
    """The arguments of these files, in order, each once (CMake repeats -I/usr/include)."""
    flags = []
    for path in paths:
        with open(path) as f:
            flags += [line.strip() for line in f if line.strip() not in ("", "-I", "-D")]
    return list(dict.fromkeys(flags))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compiler", default=os.environ.get("CXX", "c++"))
    parser.add_argument("--torch-flags", required=True, help="one argument a line: normlab_pch's flags")
    parser.add_argument("--notorch-flags", required=True, help="one argument a line: normlab::plot's")
    parser.add_argument("--work", required=True, help="a scratch folder (the build tree's)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--no-cairo", action="store_true", help="skip the headers that include cairo")
    parser.add_argument("--no-libpq", action="store_true", help="skip the headers that include libpq (<libpq-fe.h>)")
    parser.add_argument("--std", default="c++20")
    parser.add_argument("only", nargs="*", help="check only the headers whose path holds one of these")
    args = parser.parse_args()
    start = time.monotonic()
    os.makedirs(os.path.join(args.work, "units"), exist_ok=True)

    # The headers, what each includes, and the textual checks.
    headers = {}
    for dirpath, _, files in os.walk(os.path.join(INCLUDE_DIR, "normlab")):
        for name in files:
            if name.endswith(".hpp"):
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, INCLUDE_DIR).replace(os.sep, "/")
                with open(path, encoding="utf-8") as f:
                    headers[rel] = f.read()
    includes = {rel: INCLUDE.findall(text) for rel, text in headers.items()}

    def closure(rel, seen=None):
        seen = set() if seen is None else seen
        for inc in includes[rel]:
            if inc in headers and inc not in seen:
                seen.add(inc)
                closure(inc, seen)
        return seen

    problems = []
    needs_torch, needs_cairo, needs_libpq = {}, {}, {}
    for rel in sorted(headers):
        reach = [rel] + sorted(closure(rel))
        needs_torch[rel] = any(TORCH_HEADER.match(i) for r in reach for i in includes[r])
        needs_cairo[rel] = any(CAIRO_HEADER.match(i) for r in reach for i in includes[r])
        needs_libpq[rel] = any(LIBPQ_HEADER.match(i) for r in reach for i in includes[r])
        unit = rel.split("/")[1]
        if unit in NO_TORCH_UNITS and needs_torch[rel]:
            problems.append(f"{rel}: reaches LibTorch, but {unit} builds without it (docs/layers.md)")
        if TORCH_NAME.search(strip_comments_and_strings(headers[rel])) and \
                not any(TORCH_HEADER.match(i) for i in includes[rel]):
            problems.append(f"{rel}: names torch::, at:: or c10:: but includes no LibTorch header itself "
                            "(add #include <torch/torch.h>)")

    # A LibTorch header may include torch-free ones that need cairo's paths (plot/): both sets.
    torch_flags = read_flags(args.torch_flags, args.notorch_flags)
    notorch_flags = read_flags(args.notorch_flags)
    base = [args.compiler, f"-std={args.std}", "-fsyntax-only"]
    # GCC collects garbage less often (as normlab::compiled's targets do): each LibTorch unit holds
    # ~600 MB that every collection walks; ~1 s of its 4-12 s. Compile time only.
    version = subprocess.run([args.compiler, "--version"], capture_output=True, text=True).stdout
    gcc_params = ["--param=ggc-min-expand=100", "--param=ggc-min-heapsize=1048576"] \
        if "Free Software Foundation" in version else []

    # The precompiled <torch/torch.h>: made once, kept while its command line is the same (GCC
    # ignores a stale one, with the -Winvalid-pch warning below, and parses the header instead).
    pch_dir = os.path.join(args.work, "torch_pch")
    os.makedirs(pch_dir, exist_ok=True)
    pch_header = os.path.join(pch_dir, "torch.hpp")
    pch_command = [args.compiler, f"-std={args.std}", *torch_flags, "-x", "c++-header", pch_header,
                   "-o", pch_header + ".gch"]
    stamp = hashlib.sha256("\0".join(pch_command).encode()).hexdigest()
    stamp_path = pch_header + ".stamp"

    def run(command):
        """(exit code, stderr lines, CPU seconds): the compiler's own CPU time (its rusage), which
        the machine's load does not inflate as it does the wall time."""
        with tempfile.TemporaryFile(mode="w+") as err:
            child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(child.pid, 0)
            err.seek(0)
            return os.waitstatus_to_exitcode(status), err.read().splitlines(), usage.ru_utime + usage.ru_stime

    def make_pch():
        if os.path.exists(pch_header + ".gch") and os.path.exists(stamp_path) and open(stamp_path).read() == stamp:
            return None
        with open(pch_header, "w") as f:
            f.write("// LibTorch alone, precompiled by scripts/check_headers.py (never a normlab header)\n"
                    "#pragma once\n#include <torch/torch.h>\n")
        code, lines, cpu["(precompiled <torch/torch.h>)"] = run(pch_command)
        if code != 0:
            return "precompiling <torch/torch.h> failed:\n" + "\n".join(lines[:40])
        with open(stamp_path, "w") as f:
            f.write(stamp)
        return None

    def unit_source(rel):
        if rel == MID_FILE_PAIR[0]:
            lines = [f"#include <{MID_FILE_PAIR[0]}>", f"#include <{MID_FILE_PAIR[1]}>"] * 2
        else:
            lines = [f"#include <{rel}>"] * 2
        name = rel.replace("/", "__").replace(".hpp", ".cpp")
        path = os.path.join(args.work, "units", name)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def compile_one(rel):
        source = unit_source(rel)
        if needs_torch[rel]:
            command = [*base, *gcc_params, *torch_flags, "-Winvalid-pch", "-include", pch_header, source]
        else:
            command = [*base, *notorch_flags, "-H", source]
        code, lines, cpu[rel] = run(command)
        # -H prints each file read as ". path", ".. path", ...; the rest is the compiler's diagnostics.
        read = [l.lstrip(".").strip() for l in lines if re.match(r"^\.+ ", l)]
        words = [l for l in lines if not re.match(r"^\.+ ", l) and not l.startswith("Multiple include guards")
                 and not os.path.isfile(l)]
        errors = []
        if code != 0:
            errors.append("does not compile on its own:\n" + "\n".join(words[:40]))
        elif not needs_torch[rel] and any(TORCH_PATH.search(p) and not p.startswith(INCLUDE_DIR) for p in read):
            first = next(p for p in read if TORCH_PATH.search(p) and not p.startswith(INCLUDE_DIR))
            errors.append(f"reads LibTorch ({first}) though no header it includes names it")
        elif any("invalid-pch" in l or "not used because" in l for l in words):
            print(f"note: {rel}: the precompiled <torch/torch.h> was not used (slower, still checked)")
        return rel, errors

    # An umbrella (nothing but #includes of normlab headers: normlab.hpp) is self-contained when
    # the headers it includes are, which are checked one by one: it is not compiled (15 s of CPU).
    def umbrella(rel):
        text = re.sub(r"//[^\n]*|/\*.*?\*/", "", headers[rel], flags=re.S)
        code = [l.strip() for l in text.splitlines() if l.strip()]
        return all(l == "#pragma once" or (INCLUDE.match(l) and INCLUDE.match(l).group(1) in headers)
                   for l in code) and any(INCLUDE.match(l) for l in code)

    cpu = {}
    umbrellas = [rel for rel in sorted(headers) if umbrella(rel)]
    todo = [rel for rel in sorted(headers) if rel != MID_FILE_PAIR[1] and rel not in umbrellas]
    if args.only:
        todo = [rel for rel in todo if any(o in rel for o in args.only)]
    skipped = []
    if args.no_cairo:
        skipped = [rel for rel in todo if needs_cairo[rel]]
        todo = [rel for rel in todo if not needs_cairo[rel]]
    if args.no_libpq:
        skipped += [rel for rel in todo if needs_libpq[rel]]
        todo = [rel for rel in todo if not needs_libpq[rel]]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        # LibTorch's precompiled header first (one core), the torch-free headers meanwhile.
        pch = pool.submit(make_pch) if any(needs_torch[r] for r in todo) else None
        jobs = [pool.submit(compile_one, r) for r in todo if not needs_torch[r]]
        pch_error = pch.result() if pch else None
        if pch_error:
            problems.append(pch_error)
        else:
            jobs += [pool.submit(compile_one, r) for r in todo if needs_torch[r]]
        for job in jobs:
            rel, errors = job.result()
            problems += [f"{rel}: {e}" for e in errors]

    torch_count = sum(1 for r in todo if needs_torch[r])
    for rel in skipped:
        print(f"SKIP {rel}: needs cairo, which this build did not find")
    new = []
    for p in problems:
        known = next((k for k in KNOWN_PROBLEMS if p.startswith(f"{k[0]}: {k[1]}")), None)
        if known:
            print(f"known problem {known[0]}: {known[1]} ({known[2]})")
        else:
            new.append(p)
            print(f"PROBLEM {p}")
    for header, start_of, _ in KNOWN_PROBLEMS:
        if header in todo and not any(p.startswith(f"{header}: {start_of}") for p in problems):
            print(f"stale KNOWN_PROBLEMS entry: {header}: {start_of} (fixed: delete the entry)")
    with open(os.path.join(args.work, "cpu_seconds.txt"), "w") as f:
        f.writelines(f"{cpu[r]:.2f} {'torch' if needs_torch.get(r, True) else 'notorch'} {r}\n"
                     for r in sorted(cpu, key=cpu.get, reverse=True))
    slowest = sorted(cpu, key=cpu.get, reverse=True)[:5]
    print("slowest (CPU s): " + ", ".join(f"{r.removeprefix('normlab/')} {cpu[r]:.1f}" for r in slowest))
    print(f"{len(todo)} headers compiled on their own ({len(todo) - torch_count} without LibTorch, "
          f"{torch_count} over a precompiled <torch/torch.h>); umbrellas, not compiled: "
          f"{', '.join(r.removeprefix('normlab/') for r in umbrellas) or 'none'}; {len(skipped)} skipped; "
          f"{len(new)} problem(s), {len(problems) - len(new)} known. Compilers' CPU {sum(cpu.values()):.0f} s, "
          f"wall {time.monotonic() - start:.0f} s with {args.jobs} jobs")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
