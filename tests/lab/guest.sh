#!/usr/bin/env bash
# Runs inside the lab VM as root (started by scripts/lab.sh): prepares the guest, then runs pytest
# on tests/lab ("test") or the IPVS benchmarks ("bench"), writing everything into OUTDIR, the one
# directory shared read-write with the host. The last thing written is OUTDIR/exit-code.
#
#   bash tests/lab/guest.sh OUTDIR test|bench     (extra pytest arguments: OUTDIR/args)
set -uo pipefail

out=$1
mode=${2:-test}
repo=$(cd "$(dirname "$0")/../.." && pwd -P)
exec >"$out/guest.log" 2>&1

# Whatever happens below, the host must get an exit code (or know that it got none).
code=1
trap 'echo "$code" >"$out/exit-code"; sync' EXIT

stamp() { echo "[guest $(date +%T) +$((SECONDS))s] $*"; }
stamp "kernel $(uname -r), repo $repo, mode $mode"

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8

# The 9p root is a read-only share with a throwaway overlay, and slow: runtime state, MariaDB data
# and temporary files go to a tmpfs.
lab_run=/run/lvsadmin-lab
mkdir -p "$lab_run"
mount -t tmpfs -o size=1536m,mode=0755 lvsadmin-lab "$lab_run"
mkdir -p "$lab_run/tmp" "$lab_run/state"
chmod 1777 "$lab_run/tmp"
export TMPDIR=$lab_run/tmp
export LAB_RUN_DIR=$lab_run
export LAB_OUT_DIR=$out
export LVSADMIN_STATE_DIR=$lab_run/state
export DJANGO_SETTINGS_MODULE=lvsadmin.settings
export PYTHONUNBUFFERED=1
# Compiled bytecode of the tests would only land in the overlay and vanish; the host's caches of
# Django and the venv are still used.
export PYTHONDONTWRITEBYTECODE=1

# virtme links /lib/modules/KVER to the kernel's module tree on the host, but it then mounts a tmpfs
# over /var/cache, where the test kernel is kept: the link dangles. A non-recursive bind mount of
# / shows the host's tree without the guest's extra mounts; point the link through it.
kver=$(uname -r)
if [ ! -e "/lib/modules/$kver/modules.dep" ] && [ -L "/lib/modules/$kver" ]; then
  target=$(readlink "/lib/modules/$kver")
  mkdir -p "$lab_run/hostroot"
  mount --bind -o ro / "$lab_run/hostroot"
  ln -sfn "$lab_run/hostroot$target" "/lib/modules/$kver"
fi
if [ ! -e "/lib/modules/$kver/modules.dep" ]; then
  stamp "FATAL: no modules for $kver under /lib/modules ($(ls -l /lib/modules))"
  exit
fi

# The module the product needs; schedulers are loaded on demand by the kernel (and by the tests).
for mod in ip_vs veth bridge dummy; do
  modprobe "$mod" || stamp "modprobe $mod failed"
done
ip link set lo up
stamp "modules loaded: $(lsmod | awk 'NR>1{print $1}' | grep -E '^(ip_vs|veth|bridge)' | tr '\n' ' ')"

# The tests run in a chroot on a second share of the host's / (scripts/lab.sh), mounted here with
# cache=loose: virtme mounts the root without a cache, and Python's imports (thousands of stats
# and reads) then cost a round trip through QEMU each: a process start measured 30 s there and
# 11.5 s here. Nothing on the host changes during a run, which is what cache=loose assumes. The
# guest's own mounts are bound in, so the chroot sees the same /proc, /sys, /dev, /run (network
# namespaces, the lab's tmpfs), /etc, /var, /tmp, kernel modules and output directory.
host_root=$(cat "$out/host-root" 2>/dev/null)  # the share's mount point, from scripts/lab.sh
in_root=()
cached_root() {
  local tag
  [ -n "$host_root" ] || return 1
  tag=$(awk -v m="$host_root" '$2 == m && $3 == "9p" {print $1}' /proc/mounts)
  [ -n "$tag" ] || return 1
  umount "$host_root" || return 1
  mount -t 9p -o ro,cache=loose,version=9p2000.L,trans=virtio,access=any,msize=524288 \
    "$tag" "$host_root" || return 1
  local dir
  for dir in /proc /sys /dev /run /etc /var /tmp "$out"; do
    mount --rbind "$dir" "$host_root$dir" || return 1
  done
  # The test kernel's modules, linked from the guest's /lib/modules (modprobe and the tests read
  # them there), in a directory the host may not have: then it is made in a writable layer over
  # the share's /usr/lib (which /lib links to).
  if [ ! -d "$host_root/usr/lib/modules" ]; then
    mkdir -p "$lab_run/usr-lib/upper" "$lab_run/usr-lib/work"
    mount -t overlay lab-usr-lib -o "lowerdir=$host_root/usr/lib,upperdir=$lab_run/usr-lib/upper,workdir=$lab_run/usr-lib/work" \
      "$host_root/usr/lib" || return 1
    mkdir "$host_root/usr/lib/modules" || return 1
  fi
  mount --rbind /usr/lib/modules "$host_root/usr/lib/modules" || return 1
  in_root=(chroot "$host_root" /usr/bin/env --chdir="$repo")
}
if cached_root; then
  stamp "running in a chroot on the cached share of the host's / ($host_root)"
else
  stamp "no cached share of the host's / ($host_root): running on the uncached root"
fi

python=$repo/.venv/bin/python
cd "$repo"
if [ -s "$out/env" ]; then
  while IFS= read -r setting; do
    if [[ $setting =~ ^LVSADMIN_BENCH_[A-Z0-9_]+=[A-Za-z0-9._-]*$ ]]; then
      export "$setting"
    fi
  done <"$out/env"
fi
extra=()
if [ -s "$out/args" ]; then
  mapfile -t extra <"$out/args"
fi
# The whole lab unless the arguments name test paths of their own.
paths=(tests/lab)
for arg in "${extra[@]}"; do
  case "$arg" in
    tests/lab*) paths=() ;;
  esac
done

case "$mode" in
  test)
    stamp "pytest tests/lab ${extra[*]}"
    "${in_root[@]}" "$python" -m pytest -p no:cacheprovider -p no:hypothesispytest --rootdir "$repo" \
      --junitxml "$out/junit.xml" --durations=15 "${extra[@]}" "${paths[@]}" \
      >"$out/pytest.log" 2>&1
    code=$?
    ;;
  bench)
    code=0
    : >"$out/bench.log"
    shopt -s nullglob
    scripts=(bench/bench_ipvs.py bench/vm_*.py)
    # `LAB_MODE=bench scripts/lab.sh bench/vm_x.py` runs just the scripts named.
    [ ${#extra[@]} -gt 0 ] && scripts=("${extra[@]}")
    for script in "${scripts[@]}"; do
      [ -e "$script" ] || continue
      stamp "$script"
      echo "==== $script (in the lab VM, under QEMU/TCG) ====" >>"$out/bench.log"
      "${in_root[@]}" "$python" "$script" >>"$out/bench.log" 2>&1 || code=$?
    done
    ;;
esac
stamp "done, exit code $code"
