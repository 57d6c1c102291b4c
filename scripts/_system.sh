# Helpers shared by scripts/install.sh and scripts/install_minkowski.sh (sourced, not run).
# Debian packages: what is missing is installed with apt-get, as root directly or through sudo.

as_root() {
  if [ "$(id -u)" = "0" ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "[install] need root for: $*  (run as root, or install sudo)" >&2
    return 1
  fi
}

# apt_install TAG PKG...: install those of PKG that dpkg does not list as installed.
_APT_UPDATED=0
apt_install() {
  local tag="$1"; shift
  local missing="" p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "[$tag] missing system packages:$missing (no apt-get here: install them by hand)" >&2
    return 1
  fi
  echo "[$tag] apt-get install$missing"
  if [ "$_APT_UPDATED" = "0" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    _APT_UPDATED=1
  fi
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# debian_python_pkg PYTHON: "python3.11" when PYTHON is Debian's own interpreter (its headers and
# venv/ensurepip then come as the separate packages python3.11-dev / python3.11-venv), else "".
debian_python_pkg() {
  local exe ver
  exe="$("$1" -c 'import os, sys; print(os.path.realpath(sys.executable))' 2>/dev/null)" || return 0
  ver="$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if command -v dpkg-query >/dev/null 2>&1 && dpkg-query -S "$exe" >/dev/null 2>&1; then
    echo "python$ver"
  fi
}

# has_python_headers PYTHON: Python.h is where PYTHON's build configuration says it is.
has_python_headers() {
  "$1" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'
}
