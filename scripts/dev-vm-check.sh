#!/usr/bin/env bash
# Quick developer check inside a VM booted by hand (not the test harness, which is
# scripts/lab.sh): fix the module path, run the IPVS benchmark, keep ipvsadm's view.
# Results go to /tmp/vmout (shared read-write with the host via `vng --rwdir /tmp/vmout`).
#   PATH=$PWD/.venv/bin:$PATH setsid .venv/bin/vng --run KERNEL --disable-kvm --force-9p \
#     --user root --memory 2G --rwdir /tmp/vmout --exec "bash /work/main/scripts/dev-vm-check.sh"
out=/tmp/vmout
cd /work/main || exit 1
# virtme's /lib/modules/KVER link points under /var/cache, which the guest hides behind a tmpfs;
# reach the host's tree through a plain bind mount of / (same fix as tests/lab/guest.sh).
kver=$(uname -r)
if [ ! -e "/lib/modules/$kver/modules.dep" ] && [ -L "/lib/modules/$kver" ]; then
  target=$(readlink "/lib/modules/$kver")
  mkdir -p /run/hostroot
  mount --bind -o ro / /run/hostroot
  ln -sfn "/run/hostroot$target" "/lib/modules/$kver"
fi
{
  /work/main/.venv/bin/python bench/bench_ipvs.py
  echo "rc=$?"
  ipvsadm -Ln | head -20
} >"$out/bench.log" 2>&1
echo done >"$out/finished"
