#!/usr/bin/env python3
"""Runs or checks every command that README.md and docs/*.md show, so that no stale command survives.

    scripts/check_docs_commands.py [--build build] [--list] [FILE ...]

Commands are taken from ```sh blocks, from indented blocks whose first word is a program, and from
inline `code` that starts with a program and has arguments. Each one is

- run, in a scratch directory, when it is one of our programs (build*/examples/*): with the
  documented flags, a placeholder argument (DIR, resnet18.pt) replaced by a fixture or dropped, and
  flags that shrink the work (--epochs 1, a few trials, a data subset) added only where the command
  does not give them. Comment lines under a command that show output (`# correct=898 total=1000`)
  must appear in its output. A command for CUDA must fail with a sentence about CUDA where there is
  no GPU;
- run for what it can check quickly otherwise: Google Benchmark programs list their cases with the
  documented flags, Python scripts print --help and must know every documented flag, the g++ command
  of plots.md compiles and runs, `normlab_tests "[tags]"` must name existing tags;
- checked, not run, when running it means installing packages, downloading, rebuilding the tree or
  minutes of work (scripts/*.sh, benchmarks/*.sh, cmake, ninja, ctest): the file exists and is
  executable, `bash -n` passes, each flag and environment variable it is given appears in it, each
  -DNORMLAB_* option is declared by the CMake files, each ninja/--target target exists in the build.
scripts/main.sh's arguments are passed to the mnist_study command at its end and run like it.
Exit status 1 when any command fails, with the file and line of each failure.
"""
import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*(?:time\s+)?"
                     r"(build[\w-]*/|benchmarks/|scripts/|cmake\b|ninja\b|ctest\b|g\+\+|/tmp/|"
                     r"/usr/bin/python3\b|python3\b)")
# Work-shrinking flags per program, added only when the command does not give the flag itself.
SHRINK = {
    "seed_mnist": ["--epochs", "1", "--train-limit", "600", "--test-limit", "200"],
    "mnist_study": ["--trials", "2", "--epochs", "1", "--train-limit", "300", "--test-limit", "100"],
    "resnet_study": ["--trials", "2"],
    "resnet_eval": [],
    "tour": [],
    "search_benchmark": [],
    "normalization_report": ["--grid", "2", "--seeds", "2", "--noise-seeds", "2", "--tpe-trials", "2", "--epochs", "1",
                             "--compensations", "exact", "--train-limit", "128", "--test-limit", "100"],
}
PLACEHOLDER_VALUES = {"DIR", "N", "PER_CLASS", "PNG_FRACTION", "SECONDS", "NAME"}


def extract(path):
    """(line, command, expected output tokens) for each command in one Markdown file."""
    lines = open(path, encoding="utf-8").read().split("\n")
    found = []
    fence = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            i += 1
            continue
        indented = fence is None and line.startswith("    ") and (i == 0 or lines[i - 1].strip() == ""
                                                                or lines[i - 1].startswith("    "))
        if fence in ("sh", "bash") or (indented and PROGRAM.match(line.strip())):
            start = i
            text = line.strip()
            while text.endswith("\\") and i + 1 < len(lines):
                i += 1
                text = text[:-1].rstrip() + " " + lines[i].strip()
            command = strip_comment(text)
            if command and PROGRAM.match(command):
                expected = []
                j = i + 1
                while j < len(lines) and lines[j].strip().startswith("# ") and "=" in lines[j]:
                    expected += [t for t in lines[j].strip()[2:].split() if "=" in t and t != "..."]
                    j += 1
                found.append((start + 1, command, expected))
            i += 1
            continue
        if fence is None and line.strip():
            # inline `code` may wrap: read the whole paragraph, then give each span its first line
            first = i
            paragraph = []
            while i < len(lines) and lines[i].strip() and not lines[i].startswith("```"):
                paragraph.append(lines[i])
                i += 1
            text = "\n".join(paragraph)
            for m in re.finditer(r"`([^`]+)`", text):
                span = " ".join(m.group(1).split())
                if PROGRAM.match(span) and " " in span and not re.search(r"<\w+>", span):
                    found.append((first + 1 + text.count("\n", 0, m.start()), span, []))
            continue
        i += 1
    return found


def strip_comment(text):
    """The command without a trailing # comment (a # inside quotes or a word stays)."""
    out, quote = [], None
    for k, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (k == 0 or text[k - 1].isspace()):
            break
        out.append(c)
    return "".join(out).strip()


class Checker:
    def __init__(self, build):
        self.build = os.path.abspath(build)
        self.work = tempfile.mkdtemp(prefix="normlab-docs-")
        for name in ("tests", "scripts", "benchmarks", "include", "examples", "cmake"):
            os.symlink(os.path.join(ROOT, name), os.path.join(self.work, name))
        os.symlink(os.path.join(ROOT, "tests", "data"), os.path.join(self.work, "data"))
        os.makedirs(os.path.join(self.work, "docs", "img"))
        os.makedirs(os.path.join(self.work, "results"))  # scripts/main.sh makes it before its study
        self.folder = os.path.join(self.work, "folder")
        images = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "images", "*.jpg")) +
                        glob.glob(os.path.join(ROOT, "tests", "data", "images", "*.png")))
        for k, image in enumerate(images):  # two classes, as tests/models/resnet_examples.cmake does
            d = os.path.join(self.folder, f"class_{k % 2}")
            os.makedirs(d, exist_ok=True)
            shutil.copy(image, d)
        self.cmake_options = self._cmake_options()
        self.targets = self._ninja_targets()
        self.tags = None

    def _cmake_options(self):
        names = set()
        for f in [os.path.join(ROOT, "CMakeLists.txt")] + glob.glob(os.path.join(ROOT, "*", "CMakeLists.txt")) + \
                glob.glob(os.path.join(ROOT, "cmake", "*.cmake")):
            text = open(f, encoding="utf-8").read()
            names |= set(re.findall(r"option\((\w+)", text))
            names |= set(re.findall(r"set\((\w+)[^)]*CACHE", text))
            names |= set(re.findall(r"\b(NORMLAB_\w+)\b", text))
        return names

    def _ninja_targets(self):
        try:
            out = subprocess.run(["ninja", "-C", self.build, "-t", "targets", "all"], capture_output=True,
                                 text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return set()
        return {os.path.basename(line.split(":")[0]) for line in out.splitlines()}

    def run(self, argv, env=None, timeout=600):
        merged = dict(os.environ)
        merged.update(env or {})
        p = subprocess.run(argv, cwd=self.work, env=merged, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout + p.stderr

    # -- one command ------------------------------------------------------------------------------
    def check(self, command, expected):
        words = shlex.split(command)
        env = {}
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            k, v = words.pop(0).split("=", 1)
            env[k] = v
        if words and words[0] == "time":
            words.pop(0)
        if not words:
            return None, "empty command"
        program = words[0]
        if re.match(r"build[\w-]*/examples/", program):
            return self.example(os.path.basename(program), words[1:], env, expected)
        if re.match(r"build[\w-]*/benchmarks/", program):
            return self.benchmark(os.path.basename(program), words[1:], env)
        if re.match(r"build[\w-]*/tests/normlab_tests", program):
            return self.test_tags(words[1:])
        if program == "scripts/main.sh":
            return self.main_sh(words[1:], env)
        if program == "scripts/test.sh" and words[1:]:  # its arguments go to ctest
            ok, note = self.shell_script(program, [], env)
            rc, out = self.run(["ctest", "--test-dir", self.build, "-N"] + words[1:])
            n = re.search(r"Total Tests: (\d+)", out)
            ok = ok and rc == 0 and n is not None and int(n.group(1)) > 0
            return ok, f"ctest {' '.join(words[1:])} selects {n.group(1) if n else 0} tests (checked, not run)"
        if program.startswith(("scripts/", "benchmarks/")) and program.endswith(".sh"):
            return self.shell_script(program, words[1:], env)
        if program in ("python3", "/usr/bin/python3") or program.endswith(".py"):
            script = words[1] if program in ("python3", "/usr/bin/python3") else program
            rest = words[2:] if program in ("python3", "/usr/bin/python3") else words[1:]
            return self.python(script, rest)
        if program == "cmake":
            return self.cmake(words[1:])
        if program == "ninja":
            return self.ninja(words[1:])
        if program == "ctest":
            rc, out = self.run(["ctest", "--test-dir", self.build, "-N"])
            return (rc == 0 and "Total Tests:" in out), "ctest -N lists the tests (checked, not run)"
        if program == "g++":
            return self.gxx(command)
        if program.startswith("/tmp/"):
            return None, "runs what the command before it built (run there)"
        return False, f"no rule for '{program}'"

    def example(self, name, args, env, expected):
        exe = os.path.join(self.build, "examples", name)
        if not os.access(exe, os.X_OK):
            return False, f"{exe} was not built"
        args, notes = self.fill_placeholders(args)
        if "--help" not in args:
            given = {a for a in args if a.startswith("--")}
            shrink = SHRINK.get(name, [])
            for k in range(0, len(shrink), 2):
                if shrink[k] not in given:
                    args += shrink[k:k + 2]
            if name in ("mnist_study", "resnet_study") and not any(a.startswith("--storage") for a in args):
                args += ["--storage", f"sqlite:///{self.work}/{name}-{abs(hash(tuple(args)))}.sqlite3"]
        rc, out = self.run([exe] + args, env)
        wants_cuda = any(re.match(r"cuda", a) for a in args) and "--device" in args
        if wants_cuda and not os.path.exists("/dev/nvidia0"):
            ok = rc != 0 and "CUDA" in out
            return ok, "refuses --device cuda with a sentence (no GPU here)" if ok else f"exit {rc}:\n{out[-2000:]}"
        if rc != 0:
            return False, f"exit {rc}: {' '.join([name] + args)}\n{out[-2000:]}"
        missing = [t for t in expected if t not in out]
        if missing:
            return False, f"output lacks {missing}:\n{out[-2000:]}"
        return True, "ran" + (f" (expected output {' '.join(expected)} found)" if expected else "") + notes

    def fill_placeholders(self, args):
        out, notes, k = [], "", 0
        while k < len(args):
            a = args[k]
            if a == "DIR":
                out.append(self.folder)
                notes += "; DIR = a two-class folder of tests/data/images"
            elif a == "--weights" and k + 1 < len(args) and not os.path.exists(os.path.join(self.work, args[k + 1])):
                notes += f"; {args[k + 1]} (torchvision's download) dropped: seeded weights"
                k += 2
                continue
            else:
                out.append(a)
            k += 1
        return out, notes

    def benchmark(self, name, args, env):
        exe = os.path.join(self.build, "benchmarks", name)
        if not os.access(exe, os.X_OK):
            return False, f"{exe} was not built"
        rc, out = self.run([exe] + args + ["--benchmark_list_tests=true"], env)
        return rc == 0 and out.strip() != "", f"lists its cases with these flags (exit {rc})" + (
            "" if rc == 0 else "\n" + out[-1500:])

    def test_tags(self, args):
        if self.tags is None:
            # Catch2 2.x exits with the number of tags listed, so the status says nothing here
            rc, out = self.run([os.path.join(self.build, "tests", "normlab_tests"), "--list-tags"])
            self.tags = set(re.findall(r"\[[^\]]+\]", out))
        wanted = [t for a in args for t in re.findall(r"\[[^\]]+\]", a)]
        if not args:
            return os.path.exists(os.path.join(self.build, "tests", "normlab_tests")), "the test program exists (runs under ctest)"
        unknown = [t for t in wanted if t not in self.tags]
        return not unknown and bool(wanted), f"tags {wanted} exist" if not unknown else f"unknown tags {unknown}"

    def main_sh(self, args, env):
        text = open(os.path.join(ROOT, "scripts", "main.sh"), encoding="utf-8").read().replace("\\\n", " ")
        last = [l for l in text.splitlines() if l.strip().startswith("build/examples/")][-1]
        words = [w for w in shlex.split(last.replace('"$@"', "")) if w]
        ok, note = self.shell_script("scripts/main.sh", [], env)
        if not ok:
            return ok, note
        ok, note = self.example(os.path.basename(words[0]), words[1:] + args, env, [])
        return ok, "its mnist_study command with these arguments " + note

    def shell_script(self, script, args, env):
        path = os.path.join(ROOT, script)
        if not os.path.isfile(path):
            return False, f"{script} does not exist"
        if not os.access(path, os.X_OK):
            return False, f"{script} is not executable"
        rc, out = self.run(["bash", "-n", path])
        if rc != 0:
            return False, f"bash -n {script}: {out}"
        text = open(path, encoding="utf-8").read()
        unknown = [a for a in args if a.startswith("-") and not self.flag_in(a, text)]
        unknown += [k for k in env if k not in text and k not in ("OMP_WAIT_POLICY", "OPENBLAS_CORETYPE")]
        if unknown:
            return False, f"{script} does not know {unknown}"
        return True, "exists, parses, knows its flags (checked, not run)"

    @staticmethod
    def flag_in(flag, text):
        if flag.startswith("--"):
            return flag.split("=")[0] in text
        return re.search(r"getopts\s+\"[^\"]*" + re.escape(flag[1:2]), text) is not None or flag in text

    def python(self, script, args):
        path = os.path.join(ROOT, script)
        if not os.path.isfile(path):
            return False, f"{script} does not exist"
        text = open(path, encoding="utf-8").read()
        if "argparse" not in text:  # --help would run it, and generators rewrite committed files
            rc, out = self.run(["/usr/bin/python3", "-m", "py_compile", path])
            flags = [a.strip("[]").split("=")[0] for a in args if a.strip("[").startswith("-")]
            unknown = [f for f in flags if f not in text]
            ok = rc == 0 and not unknown
            return ok, "compiles, knows its flags (checked, not run: it rewrites committed files)" if ok else \
                f"{script}: py_compile exit {rc}, unknown flags {unknown}\n{out[-1000:]}"
        rc, out = self.run(["/usr/bin/python3", path, "--help"])
        if rc != 0:
            return False, f"{script} --help: exit {rc}\n{out[-1500:]}"
        flags = [a.strip("[]").split("=")[0] for a in args if a.strip("[").startswith("--")]
        unknown = [f for f in flags if f not in out]
        return not unknown, "--help knows its flags (checked, not run)" \
            if not unknown else f"{script} --help does not list {unknown}"

    def cmake(self, args):
        unknown = []
        for a in args:
            m = re.match(r"-D(\w+)=", a)
            if m and m.group(1).startswith("NORMLAB_") and m.group(1) not in self.cmake_options:
                unknown.append(m.group(1))
        if "--target" in args:
            t = args[args.index("--target") + 1]
            if self.targets and t not in self.targets:
                unknown.append(f"target {t}")
        if "-S" in args and args[args.index("-S") + 1] not in (".", "normlab"):
            unknown.append("source dir " + args[args.index("-S") + 1])
        return not unknown, "options and targets exist (checked, not run: it configures or builds a tree)" \
            if not unknown else f"unknown {unknown}"

    def ninja(self, args):
        wanted = [a for a in args if not a.startswith("-") and "/" not in a and a not in ("&&",)]
        if "-C" in args:
            wanted = [a for a in wanted if a != args[args.index("-C") + 1]]
        wanted = [a for a in wanted if not a.startswith("build")]
        unknown = [t for t in wanted if self.targets and t not in self.targets]
        return not unknown, f"targets {wanted} exist (checked, not built)" if not unknown else f"unknown {unknown}"

    def gxx(self, command):
        rc, out = self.run(["bash", "-c", command.replace("-Iinclude", f"-I{ROOT}/include")])
        return rc == 0, "compiled" if rc == 0 else out[-2000:]


def split_chain(command):
    """'a && b' -> ['a', 'b']: each part is checked on its own."""
    return [c.strip() for c in command.split("&&")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--list", action="store_true", help="only list the commands found")
    ap.add_argument("files", nargs="*")
    opts = ap.parse_args()
    files = opts.files or [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    checker = None if opts.list else Checker(opts.build)
    failures = checked = 0
    for f in files:
        rel = os.path.relpath(f, ROOT)
        for line, command, expected in extract(f):
            for part in split_chain(command):
                if opts.list:
                    print(f"{rel}:{line}: {part}")
                    continue
                started = time.monotonic()
                try:
                    ok, note = checker.check(part, expected)
                except subprocess.TimeoutExpired:
                    ok, note = False, "timed out"
                if ok is None:
                    print(f"  skip {rel}:{line}: {part}  ({note})")
                    continue
                checked += 1
                print(f"{'  ok  ' if ok else 'FAIL  '}{rel}:{line}: {part}\n        {note} "
                      f"[{time.monotonic() - started:.1f} s]", flush=True)
                failures += not ok
    if not opts.list:
        print(f"{checked} commands checked, {failures} failed")
        shutil.rmtree(checker.work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
