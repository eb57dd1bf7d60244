#!/usr/bin/env bash
# Installs the Debian packages lvsadmin needs. "run": the product (gettext's msgfmt compiles the
# translations; gcc, libc6-dev and python3-dev build the C extension, scripts/build_native.py); "test": everything the tests use too (QEMU and a Debian kernel with IPVS,
# ipvsadm, MariaDB, Chromium, npm for axe-core, systemd-analyze for the shipped units).
set -euo pipefail
mode=${1:-run}
run_pkgs=(python3 python3-venv gcc libc6-dev python3-dev ipvsadm iproute2 kmod keepalived gettext bird2)
test_pkgs=(qemu-system-x86 ipvsadm kmod iproute2 procps arptables nftables dash busybox-static keepalived bird2
           mariadb-server mariadb-client chromium sqlite3 fonts-dejavu-core npm haproxy systemd)
pkgs=("${run_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
  # An npm already on PATH will do (a Node.js from NodeSource carries its own npm, and Debian's
  # npm package cannot be installed beside it: apt reports held broken packages).
  [ "$p" = npm ] && command -v npm >/dev/null && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages (run as root to install): ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [ "$mode" = test ]; then
  bash "$(dirname "$0")/fetch-test-kernel.sh"
fi
