#!/usr/bin/env bash
# Build MinkowskiEngine 0.5.4 (CPU only) from its PyPI source distribution into a cached wheel,
# then install that wheel into ./.venv. Optional: the default sparse backend (`native`) needs none
# of this; MinkowskiEngine is the `minkowski` backend and the reference of the parity tests.
#
#   bash scripts/install_minkowski.sh          # build once (~4-6 min on 2 cores), then reuse the wheel
#   ME_REBUILD=1 bash scripts/install_minkowski.sh   # ignore the cached wheel
#
# Why a script and not a pip line: 0.5.4 (2021, last release) ships only an sdist that does not
# build on Python >= 3.10 / current pip without these fixes, applied to the unpacked source:
#   1. `from collections import Sequence` -> `collections.abc` (removed from `collections` in 3.10);
#   2. setup.py takes the BLAS choice only as a `--blas=` command-line flag, which a PEP 517 build
#      cannot pass: make it read $ME_BLAS (openblas here) and $ME_CPU_ONLY instead;
#   3. setup.py runs `pip uninstall MinkowskiEngine` while it builds: removed (it would uninstall
#      a working copy, or fail where `pip` is not on PATH).
# Fetching the sdist already runs its setup.py (metadata), which imports torch and numpy.distutils:
# hence SETUPTOOLS_USE_DISTUTILS=stdlib and --no-build-isolation (torch must be the venv's own:
# the extension links against it), `wheel` in the venv, and libopenblas-dev at build time
# (libopenblas0, pulled in by it, at run time).
#
# The wheel is cached per torch version and Python tag (its C++ ABI is torch's) under
# ${MULTIMODAL_WHEEL_CACHE:-~/.cache/multimodal/wheels}.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"

ME_VERSION=0.5.4
PYBIN="$REPO/.venv/bin/python"
if [ ! -x "$PYBIN" ]; then
  echo "[minkowski] .venv missing: run scripts/install.sh first" >&2
  exit 1
fi

# shellcheck source=scripts/_system.sh
. scripts/_system.sh
# Build tools: a C++ compiler (g++, with OpenMP), OpenBLAS headers (libopenblas-dev; libopenblas0 at
# run time) and the headers of the venv's Python (Debian's python: python3.11-dev; pyenv's has its own).
apt_install minkowski g++ libopenblas-dev
if ! has_python_headers "$PYBIN"; then
  DEB_PY="$(debian_python_pkg "$PYBIN")"
  if [ -z "$DEB_PY" ]; then
    echo "[minkowski] no Python.h for $PYBIN and it is not Debian's python: install its headers" >&2
    exit 1
  fi
  apt_install minkowski "$DEB_PY-dev"
fi

# Already importable in this venv (and no rebuild asked for): nothing to do. A torch upgrade makes
# the import fail (the extension links against torch), which falls through to a rebuild.
if [ "${ME_REBUILD:-0}" != "1" ] && (cd / && "$PYBIN" -c 'import MinkowskiEngine' >/dev/null 2>&1); then
  echo "[minkowski] MinkowskiEngine already installed in .venv"
  exit 0
fi

TAG="$("$PYBIN" -c 'import sys, torch; v = torch.__version__.replace("+", "_"); print(f"torch{v}-cp{sys.version_info[0]}{sys.version_info[1]}")')"
CACHE="${MULTIMODAL_WHEEL_CACHE:-$HOME/.cache/multimodal/wheels}/minkowskiengine-${ME_VERSION}-${TAG}"
mkdir -p "$CACHE"
# The wheel is named MinkowskiEngine-... by older setuptools, minkowskiengine-... (normalized) by newer.
WHEEL="$(ls "$CACHE"/[Mm]inkowski[Ee]ngine-${ME_VERSION}-*.whl 2>/dev/null | head -n1 || true)"

if [ -z "$WHEEL" ] || [ "${ME_REBUILD:-0}" = "1" ]; then
  start=$(date +%s)
  WORK="$(mktemp -d)"
  trap 'rm -rf "$WORK"' EXIT
  # Build requirements live in the venv itself (no build isolation): setuptools and wheel come
  # pinned with requirements/lock.txt.
  (cd / && "$PYBIN" -c 'import setuptools, wheel') || {
    echo "[minkowski] setuptools/wheel missing in .venv: run scripts/install.sh first" >&2; exit 1; }
  echo "[minkowski] fetching the MinkowskiEngine ${ME_VERSION} sdist"
  SETUPTOOLS_USE_DISTUTILS=stdlib PATH="$REPO/.venv/bin:$PATH" \
    "$PYBIN" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
    -d "$WORK" "MinkowskiEngine==${ME_VERSION}" 2> >(grep -v "is ignored: it is neither" >&2)
  tar -xzf "$WORK/MinkowskiEngine-${ME_VERSION}.tar.gz" -C "$WORK"
  SRC="$WORK/MinkowskiEngine-${ME_VERSION}"

  echo "[minkowski] patching the source (collections.abc, BLAS/CPU_ONLY from env, no pip uninstall)"
  # MinkowskiKernelGenerator.py imports `Sequence, namedtuple` in one line: split it first.
  sed -i 's/^from collections import Sequence, namedtuple$/from collections import namedtuple\nfrom collections.abc import Sequence/' \
    "$SRC/MinkowskiEngine/MinkowskiKernelGenerator.py"
  grep -rl "from collections import Sequence" "$SRC/MinkowskiEngine" \
    | xargs -r sed -i 's/^from collections import Sequence$/from collections.abc import Sequence/'
  "$PYBIN" - "$SRC/setup.py" <<'EOF'
import sys
from pathlib import Path

path = Path(sys.argv[1])
text = path.read_text()
fixes = {
    'run_command("pip", "uninstall", "MinkowskiEngine", "-y")\n': "",
    'BLAS, argv = _argparse("--blas", argv, False)\n':
        'BLAS, argv = _argparse("--blas", argv, False)\n'
        'if BLAS is False and os.environ.get("ME_BLAS"):\n'
        '    BLAS = os.environ["ME_BLAS"]\n',
    "CPU_ONLY = CPU_ONLY or not torch.cuda.is_available()\n":
        'CPU_ONLY = CPU_ONLY or not torch.cuda.is_available() or os.environ.get("ME_CPU_ONLY") == "1"\n',
}
for old, new in fixes.items():
    if old not in text:
        sys.exit(f"[minkowski] setup.py patch failed: {old.strip()!r} not found in {path}")
    text = text.replace(old, new)
path.write_text(text)
EOF
  if grep -rq "from collections import Sequence" "$SRC/MinkowskiEngine"; then
    echo "[minkowski] patch failed: 'from collections import Sequence' left in $SRC" >&2
    exit 1
  fi

  echo "[minkowski] compiling (CPU only, BLAS=openblas, $(nproc) jobs; takes minutes)"
  (cd "$SRC" && ME_BLAS=openblas ME_CPU_ONLY=1 MAX_JOBS="$(nproc)" SETUPTOOLS_USE_DISTUTILS=stdlib \
    PATH="$REPO/.venv/bin:$PATH" \
    "$PYBIN" -m pip wheel -q --no-deps --no-build-isolation -w "$WORK/dist" . \
    > "$WORK/build.log" 2>&1) || { tail -n 60 "$WORK/build.log" >&2; echo "[minkowski] build failed" >&2; exit 1; }
  rm -f "$CACHE"/[Mm]inkowski[Ee]ngine-*.whl
  cp "$WORK"/dist/[Mm]inkowski[Ee]ngine-${ME_VERSION}-*.whl "$CACHE"/
  WHEEL="$(ls "$CACHE"/[Mm]inkowski[Ee]ngine-${ME_VERSION}-*.whl | head -n1)"
  echo "[minkowski] built $WHEEL in $(( $(date +%s) - start )) s"
else
  echo "[minkowski] using cached $WHEEL"
fi

"$PYBIN" -m pip install -q --no-deps --force-reinstall "$WHEEL" 2> >(grep -v "is ignored: it is neither" >&2)
# Import from outside the repo so the installed package (not a source tree) is what loads.
(cd / && "$PYBIN" -W ignore -c 'import MinkowskiEngine as ME; print("[minkowski] installed MinkowskiEngine", ME.__version__)')
