#!/usr/bin/env bash
# Install what auditor needs on Debian 12: system packages, a virtualenv in .venv, the package.
#   scripts/setup.sh          runtime (demo)
#   scripts/setup.sh --dev    runtime + test tools + PostgreSQL server for the store tests
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (the lab uses network namespaces and overlay mounts)" >&2
  exit 3
fi

dev=0
[ "${1:-}" = "--dev" ] && dev=1

packages=(python3 python3-venv python3-pip debootstrap iproute2 util-linux openssh-client nmap procps fonts-dejavu-core fonts-liberation2 libpango-1.0-0 libpangoft2-1.0-0)
[ "$dev" = 1 ] && packages+=(postgresql chromium poppler-utils openscap-scanner ssg-debian lynis redis-server)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
if [ "$dev" = 1 ]; then
  .venv/bin/python -m pip install -q -e '.[dev]'
else
  .venv/bin/python -m pip install -q .
fi
echo "setup: ready ($(.venv/bin/auditor --version))"
