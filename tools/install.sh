#!/usr/bin/env bash
# Install the whole convnext-dense stack into .venv/ (or VENV=/path/to/env), idempotently;
# FORCE_CUDA=1 also builds mmcv's CUDA ops, INSTALL_DRY_RUN=1 stops before the mmcv build.
# No mmcv 2.x wheel exists for current torch and mmdet 3.3 / mmseg 1.2 refuse mmcv >= 2.2:
# mmcv 2.1.0 is built once and its wheel cached outside the repository (docs/install.md).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.14.1}"
TORCHVISION_VERSION="${TORCHVISION_VERSION:-0.29.1}"
MMCV_VERSION="${MMCV_VERSION:-2.1.0}"
CACHE_DIR="${CONVNEXT_DENSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/convnext-dense}"
WHEEL_CACHE="${WHEEL_CACHE:-$CACHE_DIR/wheels}"  # holds <key>/mmcv-*.whl
MAX_JOBS_SET="${MAX_JOBS:-}"
# compile jobs follow the cores (CUDA: and the memory); nproc alone would obey OMP_NUM_THREADS
MAX_JOBS="${MAX_JOBS:-$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)}"

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

if [ "$TORCH_VERSION" = installed ]; then  # whatever torch is there (a GPU machine's own)
  TORCH_VERSION=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null) \
    || die "TORCH_VERSION=installed, but $PY cannot import torch"
  step "using the installed torch $TORCH_VERSION"
else
  step "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
  if "$PY" -c "import torch, torchvision, sys; sys.exit(0 if (torch.__version__.split('+')[0], torchvision.__version__.split('+')[0]) == ('$TORCH_VERSION', '$TORCHVISION_VERSION') else 1)" 2>/dev/null; then
    echo "already installed"
  else
    "${PIP[@]}" install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
  fi
fi

# ---- mmcv with compiled ops -------------------------------------------------------------
PY_TAG=$("$PY" -c 'import sys; print(f"cp{sys.version_info.major}{sys.version_info.minor}")')
# torch's CUDA version (e.g. 13.0; "-": CPU-only) and whether it sees a GPU: one import, fast
read -r TORCH_CUDA GPU_SEEN < <("$PY" -c 'import torch; print(torch.version.cuda or "-", int(torch.cuda.is_available()))' 2>/dev/null || echo "- 0")
[ "$TORCH_CUDA" != "-" ] || TORCH_CUDA=""

nvcc_release() {  # "13.0" from `nvcc --version`, empty if it does not run
  "$1" --version 2>/dev/null | sed -n 's/.*release \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p'
}

# A system CUDA toolkit of torch's major version (its extension builder refuses others), looked
# for where torch looks, then in versioned installs; a root counts only with bin/nvcc and
# include/cuda_runtime.h (a wrapper script /usr/local/bin/nvcc makes no /usr/local root).
TORCH_CUDA_HEADERS="cuda_runtime.h cublas_v2.h cusparse.h cusolverDn.h"
missing_headers() {  # those of TORCH_CUDA_HEADERS not in $1/include
  local h; for h in $TORCH_CUDA_HEADERS; do [ -f "$1/include/$h" ] || printf '%s ' "$h"; done
}
find_system_cuda() {
  local nvcc_on_path cand rel missing seen=" "
  nvcc_on_path=$(command -v nvcc || true)
  for cand in "${CUDA_HOME:-}" "${CUDA_PATH:-}" \
              ${nvcc_on_path:+"$(dirname "$(dirname "$(readlink -f "$nvcc_on_path")")")"} \
              /usr/local/cuda /usr/local/cuda-"${TORCH_CUDA%%.*}".*; do
    [ -x "$cand/bin/nvcc" ] && [ -f "$cand/include/cuda_runtime.h" ] || continue
    case "$seen" in *" $(readlink -f "$cand") "*) continue ;; esac  # cuda -> cuda-13.0
    seen="$seen$(readlink -f "$cand") "
    rel=$(nvcc_release "$cand/bin/nvcc")
    if [ -z "$rel" ] || [ "${rel%%.*}" != "${TORCH_CUDA%%.*}" ]; then
      echo "note: $cand/bin/nvcc is CUDA ${rel:-?}, torch $TORCH_VERSION needs CUDA ${TORCH_CUDA%%.*}.x: not used" >&2
      continue
    fi
    # a compiler-only toolkit (no cuBLAS/cuSPARSE/cuSOLVER development headers) fails on the
    # first file that includes ATen/cuda/CUDAContext.h, minutes into the build
    missing=$(missing_headers "$cand")
    if [ -z "$missing" ]; then echo "$cand"; return 0; fi
    echo "note: $cand (CUDA $rel) lacks ${missing% } (torch's CUDA headers include them): not used" >&2
  done
  return 1
}

# NVIDIA's compiler packages pinned to torch's CUDA minor (crt and nvvm would otherwise be the
# newest 13.x), into $VENV; CUDA_HOME: relative symlinks in the layout torch.utils.cpp_extension
# expects (bin/nvcc, include, lib64). libcudart.so (what -lcudart links) ships only as .so.13.
venv_cuda() {
  local site nv home f
  # CUDA 12's packages (nvidia-cuda-nvcc-cu12, ...) spread over nvidia/cuda_*/: not handled
  [ "${TORCH_CUDA%%.*}" -ge 13 ] || return 1
  "${PIP[@]}" install -q "nvidia-cuda-nvcc==$TORCH_CUDA.*" "nvidia-cuda-crt==$TORCH_CUDA.*" \
    "nvidia-nvvm==$TORCH_CUDA.*" "nvidia-cuda-cccl==$TORCH_CUDA.*" "nvidia-cuda-runtime==$TORCH_CUDA.*" >&2 \
    || return 1
  site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  nv="$site/nvidia/cu${TORCH_CUDA%%.*}"
  [ -x "$nv/bin/nvcc" ] && [ -z "$(missing_headers "$nv")" ] || return 1  # headers: torch's deps
  home="$VENV/cuda-$TORCH_CUDA"
  rm -rf "$home" && mkdir -p "$home/lib64"
  for f in bin include nvvm; do ln -s "$(realpath --relative-to="$home" "$nv/$f")" "$home/$f"; done
  for f in "$nv"/lib/*; do ln -s "$(realpath --relative-to="$home/lib64" "$f")" "$home/lib64/"; done
  ln -sf libcudart.so."${TORCH_CUDA%%.*}" "$home/lib64/libcudart.so"
  echo "$home"
}

# CUDA ops for FORCE_CUDA=1, or a GPU with a matching toolkit (without one: CPU ops and a note)
WANT_CUDA=0
if [ "${FORCE_CUDA:-0}" = "1" ]; then
  [ -n "$TORCH_CUDA" ] || die "FORCE_CUDA=1, but torch $TORCH_VERSION is a CPU-only build (torch.version.cuda is None)"
  WANT_CUDA=1
elif [ -n "$TORCH_CUDA" ] && [ "$GPU_SEEN" = 1 ]; then
  if find_system_cuda >/dev/null 2>&1; then WANT_CUDA=1
  else echo "note: a GPU is visible but no CUDA ${TORCH_CUDA%%.*} compiler is installed: building CPU ops only; FORCE_CUDA=1 installs one into the venv" >&2; fi
fi

if [ "$WANT_CUDA" = 1 ]; then
  if CUDA_HOME=$(find_system_cuda); then NVCC_FROM="system"
  else
    step "installing NVIDIA's CUDA $TORCH_CUDA compiler packages into $VENV"
    CUDA_HOME=$(venv_cuda) || die "no CUDA ${TORCH_CUDA%%.*} compiler: no system toolkit with nvcc ${TORCH_CUDA%%.*}.x and $TORCH_CUDA_HEADERS, and nvidia-cuda-nvcc==$TORCH_CUDA.* could not be installed into the venv beside torch's nvidia-* packages (CUDA >= 13 only); install a full CUDA $TORCH_CUDA toolkit or set CUDA_HOME to one"
    NVCC_FROM="venv"
  fi
  export CUDA_HOME PATH="$CUDA_HOME/bin:$PATH"
  # data-centre GPUs by default (8.0 A100, 9.0 H100/H200); each arch compiles mmcv's device
  # code once more (docs/install.md lists others and the cost)
  export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-8.0;9.0}"
  CUDA_TAG="cu${TORCH_CUDA//./}-sm$(echo "$TORCH_CUDA_ARCH_LIST" | tr -d '. ' | tr ';' '_')"
  # Never a silent mismatch: before a long build, ask torch's extension builder whether it
  # accepts this compiler (major version, host compiler in nvcc's supported range).
  REFUSAL=$("$PY" - <<'PYEOF' 2>/dev/null
import os
from torch.utils import cpp_extension as ce
try:
    if os.path.realpath(ce.CUDA_HOME or '') != os.path.realpath(os.environ['CUDA_HOME']):
        raise RuntimeError(f'it found CUDA_HOME={ce.CUDA_HOME}')
    cxx = os.environ.get('CXX', 'c++')
    ce._check_cuda_version(cxx, ce.get_compiler_abi_compatibility_and_version(cxx)[1])
except AttributeError:  # its private helpers moved in a later torch: the build checks again
    pass
except (RuntimeError, OSError) as error:
    message = error.args[0] % error.args[1:] if len(error.args) > 1 else str(error)
    print(' '.join(message.split()))
PYEOF
  )
  [ -z "$REFUSAL" ] || die "torch's extension builder refuses CUDA_HOME=$CUDA_HOME: $REFUSAL"
  echo "CUDA ops: nvcc $(nvcc_release "$CUDA_HOME/bin/nvcc") ($NVCC_FROM, CUDA_HOME=$CUDA_HOME), torch CUDA $TORCH_CUDA, archs $TORCH_CUDA_ARCH_LIST"
else
  CUDA_TAG="cpu"
fi
KEY="mmcv-$MMCV_VERSION-torch$TORCH_VERSION-$PY_TAG-$CUDA_TAG"
WHEEL_DIR="$WHEEL_CACHE/$KEY"
if [ "$WANT_CUDA" = 1 ] && [ -z "${MAX_JOBS_SET:-}" ]; then
  # an nvcc job peaked at 2.7 GiB (benchmarks/gpu.md): 3 GiB of available memory per job
  MEM_JOBS=$(( $(awk '/MemAvailable/ {print $2}' /proc/meminfo) / (3 * 1024 * 1024) ))
  [ "$MEM_JOBS" -ge "$MAX_JOBS" ] || MAX_JOBS=$(( MEM_JOBS > 0 ? MEM_JOBS : 1 ))
fi
if [ "${INSTALL_DRY_RUN:-0}" = 1 ]; then
  echo "dry run: mmcv wheel $WHEEL_DIR ($(ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1 && echo cached || echo "would be built, MAX_JOBS=$MAX_JOBS"))"
  exit 0
fi

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
    step "building mmcv $MMCV_VERSION ($CUDA_TAG ops) from source, once: CPU ops take about 12 minutes on 2 cores, CUDA ops for two archs about 90 minutes"
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
EXTRAS="${EXTRAS:-tests,export}"  # bench (mmpretrain): a venv of its own, see pyproject.toml
"${PIP[@]}" install -q -e "$REPO[$EXTRAS]"
# mmdet imports mmpretrain whenever it is installed, and mmpretrain 1.2 breaks beside tests'
# transformers: such a one goes; the tests read mmpretrain's ConvNeXt from $VENV/reference
if "${PIP[@]}" show -q mmpretrain >/dev/null 2>&1 && ! "$PY" -c 'import mmdet.models' 2>/dev/null; then
  step "removing mmpretrain: beside transformers it breaks 'import mmdet.models'" && "${PIP[@]}" uninstall -y -q mmpretrain
fi
[[ ",$EXTRAS," != *,tests,* || -d "$VENV/reference/mmpretrain-1.2.0.dist-info" ]] ||
  "${PIP[@]}" install -q --no-deps --target "$VENV/reference" "mmpretrain==1.2.0"
mmcv_ok || die "mmcv's compiled ops do not import after install (No module named 'mmcv._ext'?); delete $WHEEL_DIR and rerun"
step "done: activate with 'source ${VENV}/bin/activate'"
