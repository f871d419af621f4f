#!/usr/bin/env bash
# Install the whole convnext-dense stack into a virtual environment, idempotently.
#
#   bash tools/install.sh            # creates/updates .venv/ at the repository root
#   VENV=/path/to/env bash tools/install.sh
#   FORCE_CUDA=1 bash tools/install.sh   # also build mmcv's CUDA ops (needs nvcc)
#
# Why this script exists: PyPI has no mmcv 2.x wheel for current torch, mmdet 3.3 and
# mmseg 1.2 refuse mmcv >= 2.2, and mmcv 2.1.0's source archive does not compile against
# torch >= 2.10 headers (C++20 required) nor install with setuptools >= 70. We build
# mmcv 2.1.0 once with those fixes and cache the wheel outside the repository, keyed by
# mmcv, torch, Python and CUDA versions, so later installs take seconds.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.14.1}"
TORCHVISION_VERSION="${TORCHVISION_VERSION:-0.29.1}"
MMCV_VERSION="${MMCV_VERSION:-2.1.0}"
CACHE_DIR="${CONVNEXT_DENSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/convnext-dense}"
MAX_JOBS="${MAX_JOBS:-$(nproc)}"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || die "no '$PYTHON' on PATH; install Python 3.11 (or set PYTHON=/path/to/python3.11)"
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 9)' 2>/dev/null \
  || die "Python >= 3.9 is required, found $("$PYTHON" --version 2>&1)"

if [ ! -x "$VENV/bin/python" ]; then
  step "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV" || die "could not create a venv; on Debian/Ubuntu install python3-venv"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

step "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
if "$PY" -c "import torch, torchvision, sys; sys.exit(0 if (torch.__version__.split('+')[0], torchvision.__version__.split('+')[0]) == ('$TORCH_VERSION', '$TORCHVISION_VERSION') else 1)" 2>/dev/null; then
  echo "already installed"
else
  "${PIP[@]}" install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi

# ---- mmcv with compiled ops -------------------------------------------------------------
PY_TAG=$("$PY" -c 'import sys; print(f"cp{sys.version_info.major}{sys.version_info.minor}")')
WANT_CUDA=0
if [ "${FORCE_CUDA:-0}" = "1" ]; then WANT_CUDA=1
elif command -v nvcc >/dev/null && "$PY" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then WANT_CUDA=1; fi
if [ "$WANT_CUDA" = 1 ]; then
  CUDA_TAG="cu$("$PY" -c 'import torch; print((torch.version.cuda or "none").replace(".", ""))')"
else
  CUDA_TAG="cpu"
fi
KEY="mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$PY_TAG-$CUDA_TAG"
WHEEL_DIR="$CACHE_DIR/wheels/$KEY"

mmcv_ok() {
  "$PY" - <<PYEOF 2>/dev/null
import sys, mmcv
from mmcv.ops import nms  # imports mmcv._ext
sys.exit(0 if mmcv.__version__ == "$MMCV_VERSION" else 1)
PYEOF
}

if mmcv_ok && [ "$WANT_CUDA" = 0 ]; then
  step "mmcv $MMCV_VERSION with compiled ops already installed"
else
  if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    step "building mmcv $MMCV_VERSION ($CUDA_TAG ops) from source; takes about 12 minutes on 2 cores, once"
    command -v gcc >/dev/null && command -v g++ >/dev/null \
      || die "no C/C++ compiler found; install one (Debian/Ubuntu: apt-get install build-essential)"
    INC=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
    [ -f "$INC/Python.h" ] || die "Python headers missing ($INC/Python.h); install them (Debian/Ubuntu: apt-get install python3-dev)"
    # mmcv 2.1.0's setup.py imports pkg_resources (gone from setuptools >= 70); the later
    # install of this package brings setuptools back up to what torch asks for.
    "${PIP[@]}" install -q "setuptools<70" wheel ninja packaging
    BUILD=$(mktemp -d)
    trap 'rm -rf "$BUILD"' EXIT
    "${PIP[@]}" download --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$BUILD" \
      || die "could not download the mmcv $MMCV_VERSION source archive from the package registry"
    tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
    SRC="$BUILD/mmcv-$MMCV_VERSION"
    # torch >= 2.10 headers require C++20; mmcv 2.1.0 hard-codes c++14/c++17.
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
    export MMCV_WITH_OPS=1 MAX_JOBS
    if [ "$WANT_CUDA" = 1 ]; then export FORCE_CUDA=1; fi
    mkdir -p "$WHEEL_DIR"
    (cd "$SRC" && "${PIP[@]}" wheel -v --no-build-isolation --no-deps . -w "$BUILD/out") 2>&1 \
      | grep --line-buffered -oE '^\s*\[[0-9]+/[0-9]+\]|error: .*|Successfully built.*' || true
    ls "$BUILD"/out/mmcv-*.whl >/dev/null 2>&1 || die "mmcv build failed; rerun with the log: (cd $SRC && MMCV_WITH_OPS=1 pip wheel --no-build-isolation --no-deps .)"
    cp "$BUILD"/out/mmcv-*.whl "$WHEEL_DIR/"
  else
    step "using cached mmcv wheel from $WHEEL_DIR"
  fi
  "${PIP[@]}" install --force-reinstall --no-deps "$WHEEL_DIR"/mmcv-*.whl
  "${PIP[@]}" install -q addict "yapf" "opencv-python" "pyyaml" "numpy" "pillow" "packaging" "mmengine>=0.10.4,<0.11"
fi

# ---- the rest ---------------------------------------------------------------------------
step "installing mmengine, mmdet, mmsegmentation, timm, pycocotools and convnext-dense"
EXTRAS="${EXTRAS:-tests,bench}"
"${PIP[@]}" install -q -e "$REPO[$EXTRAS]"
mmcv_ok || die "mmcv's compiled ops do not import after install (No module named 'mmcv._ext'?); delete $WHEEL_DIR and rerun"
step "done: activate with 'source ${VENV}/bin/activate'"
