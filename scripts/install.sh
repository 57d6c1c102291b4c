#!/usr/bin/env bash
# Install multimodal into ./.venv on Debian 12 (a bare one included) with Python 3.11.
#   bash scripts/install.sh              # runtime + dev (tests) + ros (rclpy wheels), from requirements/lock.txt
#   bash scripts/install.sh --minkowski  # also build MinkowskiEngine (the `minkowski` sparse backend, ~4-6 min once)
# What it does (docs/install.md says why for each step):
#   1. apt: the system libraries the wheels load (libEGL/libGL/Vulkan/libusb for open3d, ...), and,
#      where there is no python3.11 yet, Debian's python3.11 with its venv module;
#   2. .venv: created if missing, rebuilt if broken (no python, or no working pip in it);
#   3. pip: every package at the exact version and hash of requirements/lock.txt (--no-deps: the lock
#      is the whole resolved set), then this repository itself, editable, --no-deps;
#   4. --minkowski: scripts/install_minkowski.sh (g++, Python headers and OpenBLAS from apt, then the build).
# Re-running is cheap: apt, pip and the MinkowskiEngine wheel cache skip what is already there.
# PYTHON=/path/to/python3.11 picks the interpreter for a new .venv (default: python3.11 on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/_system.sh
. scripts/_system.sh

MINKOWSKI=0
for arg in "$@"; do
  case "$arg" in
    --minkowski) MINKOWSKI=1 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "[install] unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done
start=$(date +%s)
export PIP_DISABLE_PIP_VERSION_CHECK=1

# 1. System libraries the installed wheels load at run time (see docs/install.md):
#    open3d: libusb-1.0-0, libgl1, libegl1 (libEGL.so.1, headless rendering), libgomp1 (OpenMP);
#    off-screen Vulkan/Mesa rendering: libvulkan1, mesa-vulkan-drivers; libglib2.0-0 (GLib, open3d/opencv);
#    the ROS tests: iproute2 (`ip`, private network namespaces) and procps (`pgrep`).
apt_install install libusb-1.0-0 libgl1 libegl1 libgomp1 libglib2.0-0 libvulkan1 mesa-vulkan-drivers \
  iproute2 procps

# 2. The interpreter and the virtual environment.
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if command -v python3.11 >/dev/null 2>&1 && python3.11 -c 'import sys' >/dev/null 2>&1; then
    PY=python3.11
  else
    apt_install install python3.11 python3.11-venv
    PY=/usr/bin/python3.11
  fi
fi
# Debian's own python keeps ensurepip (what `python -m venv` needs for pip) in pythonX.Y-venv.
DEB_PY="$(debian_python_pkg "$PY")"
if [ -n "$DEB_PY" ]; then
  apt_install install "$DEB_PY-venv"
fi

venv_ok() {
  [ -x .venv/bin/python ] && .venv/bin/python -m pip --version >/dev/null 2>&1
}
if [ -e .venv ] && ! venv_ok; then
  echo "[install] .venv is broken (no working python or pip in it): rebuilding it"
  rm -rf .venv
fi
if [ ! -e .venv ]; then
  echo "[install] creating .venv with $("$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
  if ! "$PY" -m venv .venv || ! venv_ok; then
    rm -rf .venv
    echo "[install] '$PY -m venv .venv' did not give a venv with pip (on Debian: apt-get install python3.11-venv)" >&2
    exit 1
  fi
fi

# 3. The locked set, then the package itself (editable; its build backend, setuptools, is in the lock).
quiet_pip() {
  # This machine's pip configuration may name local indexes that lack some projects: not errors.
  .venv/bin/python -m pip "$@" 2> >(grep -v -e "is ignored: it is neither" -e "BuildBackendWarning" >&2)
}
echo "[install] pip install -r requirements/lock.txt (exact versions, hashes checked)"
# First the installer's own tools (the venv's pip may be old: Debian 12's is 23.0), so that the few
# sdists in the lock are built by the locked pip/setuptools/wheel.
tools="$(mktemp)"
awk '/^[A-Za-z0-9]/ { keep = ($0 ~ /^(pip|setuptools|wheel)==/) } keep && !/^ *#/' requirements/lock.txt >"$tools"
quiet_pip install -q --require-hashes --no-deps -r "$tools"
rm -f "$tools"
quiet_pip install -q --require-hashes --no-deps -r requirements/lock.txt
# (setuptools' advice about the ros_nodes data folders is noise here: shown only if the build fails)
log="$(mktemp)"
.venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . >"$log" 2>&1 || {
  cat "$log" >&2; rm -f "$log"; echo "[install] editable install of the package failed" >&2; exit 1; }
rm -f "$log"
.venv/bin/python -m pip check >/dev/null || {
  .venv/bin/python -m pip check >&2
  echo "[install] the environment is inconsistent: refresh the lock (bash scripts/lock.sh)" >&2
  exit 1
}

if [ "$MINKOWSKI" = "1" ]; then
  bash scripts/install_minkowski.sh
fi
# Import from outside the repository, as a user would; open3d needs libEGL, rclpy its bundled libraries.
# (Without PYTHONPATH: a sourced ROS setup.bash would put another rclpy first; see docs/install.md.)
REPO="$PWD"
(cd / && env -u PYTHONPATH "$REPO/.venv/bin/python" -c '
import av, open3d, rclpy, torch, torchaudio, torchvision, multimodal
print(f"[install] done: multimodal {multimodal.__version__}, torch {torch.__version__}, "
      f"torchaudio {torchaudio.__version__}, open3d {open3d.__version__}, av {av.__version__}")')
echo "[install] took $(( $(date +%s) - start )) s; .venv is $(du -sh .venv | cut -f1)"
