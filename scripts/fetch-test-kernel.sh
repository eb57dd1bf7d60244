#!/usr/bin/env bash
# Fetches and unpacks a stock Debian kernel (which has IPVS as modules) for the VM lab, once.
# The host kernel has no IPVS; the lab boots this one under QEMU with virtme-ng.
# Result: $LAB_KERNEL_DIR/boot/vmlinuz-KVER and $LAB_KERNEL_DIR/lib/modules/KVER (depmod'ed),
# and $LAB_KERNEL_DIR/kver holding KVER.
set -euo pipefail
dir=${LAB_KERNEL_DIR:-/var/cache/lvsadmin-lab/kernel}
if [ -s "$dir/kver" ] && [ -e "$dir/boot/vmlinuz-$(cat "$dir/kver")" ]; then
  exit 0
fi
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
pkg=linux-image-6.1.0-56-amd64
if ! apt-get download "$pkg" >/dev/null 2>&1; then
  apt-get update -qq
  if ! apt-get download "$pkg" >/dev/null 2>&1; then
    # That ABI left the archive: take the one the meta package names now.
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    apt-get download "$pkg" >/dev/null
  fi
fi
rm -rf "$dir/boot" "$dir/lib"
dpkg -x ./*.deb "$dir"
kver=${pkg#linux-image-}
# The package may name an unsigned or signed variant; take what it unpacked.
kver=$(ls "$dir/lib/modules" | head -n 1)
depmod -b "$dir" "$kver"
echo "$kver" > "$dir/kver"
echo "test kernel $kver ready in $dir"
