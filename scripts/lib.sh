# Shared helpers for pathagent's scripts (sourced, not run).
# shellcheck shell=bash

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# keep the caller's PATH first (its python3 is the one pip installs for); add the sbin dirs
export PATH=$PATH:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
[ -d /opt/swift/usr/bin ] && export PATH=$PATH:/opt/swift/usr/bin

# Build-time libraries of the four C system-library targets (+ SQLite for the journal).
BUILD_PKGS=(libudev-dev libdevmapper-dev libsgutils2-dev libiscsi-dev libsqlite3-dev pkg-config)

_now() { date +%s.%N; }
_since() { awk -v a="$1" -v b="$(_now)" 'BEGIN{printf "%.1f", b-a}'; }
say() { echo "[$(date +%T)] $*"; }

# ensure_pkgs PKG...: apt-get install whatever is missing (apt-get update first, once).
_APT_UPDATED=0
ensure_pkgs() {
  local need=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${need[*]} (run as root, or apt-get install -y ${need[*]})" >&2
    return 1
  fi
  say "installing: ${need[*]}"
  if [ $_APT_UPDATED = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    _APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
}

# pip_install ARGS...: pip for the python3 on PATH; Debian's own python needs python3-pip
# and --break-system-packages (PEP 668), a pyenv or venv python does not.
pip_install() {
  python3 -m pip --version >/dev/null 2>&1 || ensure_pkgs python3-pip || return 1
  python3 -m pip install -q "$@" 2>/dev/null || python3 -m pip install -q --break-system-packages "$@"
}

ensure_swift() {
  command -v swift >/dev/null || { echo "the Swift toolchain is not on PATH (expected /opt/swift/usr/bin)" >&2; return 1; }
}
