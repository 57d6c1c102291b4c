#!/usr/bin/env bash
# Install multimodal into ./.venv on a fresh Debian 12 / Python 3.11 machine.
#   bash scripts/install.sh              # runtime + dev (tests) + ros (rclpy wheels) extras
#   bash scripts/install.sh --minkowski  # also build MinkowskiEngine (the `minkowski` sparse backend, ~6 min once)
# Re-running is cheap: apt and pip skip what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# System libraries: open3d needs libusb; off-screen rendering needs Vulkan/Mesa;
# MinkowskiEngine (optional) builds against OpenBLAS.
APT_PKGS="libusb-1.0-0 libvulkan1 mesa-vulkan-drivers libgl1 libglib2.0-0 iproute2"
missing=""
for p in $APT_PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "[install] apt-get install$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
EXTRAS="${MULTIMODAL_EXTRAS:-dev,ros}"
# One resolver run for everything, with our pinned matched set of torch libraries.
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || echo "[install] (pip upgrade skipped)"
.venv/bin/python -m pip install -q -c requirements/constraints.txt -e ".[${EXTRAS}]" 2> >(grep -v -e "is ignored: it is neither" -e "BuildBackendWarning" >&2)
if [ "${1:-}" = "--minkowski" ]; then
  bash scripts/install_minkowski.sh
fi
echo "[install] done: $(.venv/bin/python -c 'import torch, torchaudio, nuscenes, rosbags, av; print("torch", torch.__version__, "torchaudio", torchaudio.__version__, "av", av.__version__)')"
