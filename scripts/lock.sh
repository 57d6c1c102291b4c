#!/usr/bin/env bash
# Refresh requirements/lock.txt: every package scripts/install.sh installs, at one exact version with
# its hashes, resolved from
#   pyproject.toml            the dependencies and the `dev` and `ros` extras,
#   requirements/build.in     pip, setuptools, wheel (the install's own tools),
#   requirements/constraints.txt  the versions we test together (torch set, numpy<2, rclpy, ...),
# by uv's resolver (`uv pip compile --universal`: markers kept, so the same file serves x86_64 and
# aarch64, Python >= 3.11), run from a throwaway venv that is removed afterwards.
#
#   bash scripts/lock.sh                        # after editing an input: keeps every pin that still fits
#   bash scripts/lock.sh --upgrade              # newest versions the inputs allow
#   bash scripts/lock.sh --upgrade-package rosbags   # (any other `uv pip compile` option passes through)
#   bash scripts/lock.sh --check                # exit 1, with a diff, if the lock is stale; writes nothing
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
LOCK=requirements/lock.txt
CHECK=0
ARGS=()
for arg in "$@"; do
  if [ "$arg" = "--check" ]; then CHECK=1; else ARGS+=("$arg"); fi
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in .venv/bin/python python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -m venv --help >/dev/null 2>&1; then PY="$cand"; break; fi
  done
fi
[ -n "$PY" ] || { echo "[lock] no python with venv found (set PYTHON=...)" >&2; exit 1; }
"$PY" -m venv "$TMP/venv"
PIP_DISABLE_PIP_VERSION_CHECK=1 "$TMP/venv/bin/python" -m pip install -q "uv==$UV_VERSION" \
  2> >(grep -v "is ignored: it is neither" >&2)

OUT="$LOCK"
if [ "$CHECK" = "1" ]; then
  OUT="$TMP/lock.txt"
  cp "$LOCK" "$OUT"   # uv keeps the pins of an existing output file: a fresh release changes nothing
fi
"$TMP/venv/bin/uv" pip compile --quiet \
  pyproject.toml requirements/build.in --extra dev --extra ros \
  -c requirements/constraints.txt \
  --universal --python-version 3.11 --generate-hashes \
  --custom-compile-command "bash scripts/lock.sh" \
  -o "$OUT" ${ARGS[@]+"${ARGS[@]}"}

if [ "$CHECK" = "1" ]; then
  if diff -u "$LOCK" "$OUT"; then
    echo "[lock] $LOCK is up to date"
  else
    echo "[lock] $LOCK is stale: run bash scripts/lock.sh" >&2
    exit 1
  fi
else
  echo "[lock] wrote $LOCK: $(grep -c '^[A-Za-z0-9]' "$LOCK") packages"
fi
