#!/usr/bin/env bash
# What a header change costs a user's compile: times examples/seed_mnist.cpp and
# benchmarks/one_pipeline.cpp (a one-pipeline user file) compiled header-only, without a
# precompiled header, at -O2, against this checkout's headers and against REV's (default: the
# commit before the issue-10 redesign), the two interleaved REPS times so that both see the same
# load. Prints the CPU, the load and user+sys CPU seconds side by side, with their ratio.
#
#   benchmarks/compile_time.sh [REV]      env: REPS (default 2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rev=${1:-543a66b}
reps=${REPS:-2}
work=$(mktemp -d /tmp/normlab_compile_time.XXXXXX)
trap 'git -C "$root" worktree remove --force "$work/before" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$root" worktree add -q --detach "$work/before" "$rev"

flags=(-std=c++20 -O2 -DNDEBUG -D_GLIBCXX_USE_CXX11_ABI=1 -isystem /usr/include/torch/csrc/api/include)
cpu() {  # cpu TREE FILE: user+sys seconds of one compile
  local out=$work/time.txt
  /usr/bin/time -f "%U %S" -o "$out" c++ "${flags[@]}" -I"$1/include" -I"$1/examples" -c "$2" -o "$work/x.o" \
    > "$work/log.txt" 2>&1 || { echo "compile_time.sh: $2 failed against $1:" >&2; tail -20 "$work/log.txt" >&2; exit 1; }
  awk '{ printf "%.1f", $1 + $2 }' "$out"
}

echo "CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; $(c++ --version | head -1)"
echo "before: $(git -C "$root" log -1 --format='%h %s' "$rev" | cut -c1-80)"
echo "after:  $(git -C "$root" log -1 --format='%h %s' HEAD | cut -c1-80) (+ uncommitted changes)"
printf '%-28s %10s %10s %7s  %s\n' file "before s" "after s" ratio load
for ((r = 1; r <= reps; r++)); do
  for file in examples/seed_mnist.cpp benchmarks/one_pipeline.cpp; do
    src_before=$work/before/$file
    [[ -f $src_before ]] || src_before=$root/$file  # one_pipeline.cpp did not exist then: the same file
    b=$(cpu "$work/before" "$src_before")
    a=$(cpu "$root" "$root/$file")
    printf '%-28s %10s %10s %7s  %s\n' "$file" "$b" "$a" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')" \
      "$(cut -d' ' -f1-3 /proc/loadavg)"
  done
done
