#!/usr/bin/env bash
# The VM lab: boots ONE virtual machine on a stock Debian kernel (which has IPVS; the host's kernel
# has none) and runs the real-kernel tests in tests/lab inside it, or the IPVS benchmarks.
#
#   scripts/lab.sh [PYTEST-ARGS...]     pytest on tests/lab (e.g. scripts/lab.sh -k drift -x)
#   LAB_MODE=bench scripts/lab.sh       bench/bench_ipvs.py and bench/vm_*.py instead
#
# Results land in artifacts/lab/ (or $LAB_OUT): pytest.log, junit.xml, guest.log, console.log.
# The exit code is the guest's pytest exit code. vng itself always exits 255, so the guest writes
# its exit code into a file in the shared directory and the host reads it from there.
#
# Environment: LAB_KERNEL_DIR (default /var/cache/lvsadmin-lab/kernel), LAB_TIMEOUT (seconds,
# default 2700), LAB_MEMORY (default 3G), LAB_CPUS (default 2), LAB_OUT.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd -P)
kernel_dir=${LAB_KERNEL_DIR:-/var/cache/lvsadmin-lab/kernel}
mode=${LAB_MODE:-test}
out=${LAB_OUT:-$repo/artifacts/lab}
timeout=${LAB_TIMEOUT:-2700}
vng=$repo/.venv/bin/vng
# vng runs virtme-run and friends by name: they live beside it in the venv.
export PATH=$repo/.venv/bin:$PATH

case "$mode" in
  test | bench) ;;
  *)
    echo "lab: LAB_MODE must be test or bench, not '$mode'" >&2
    exit 2
    ;;
esac

if [ ! -x "$vng" ]; then
  echo "lab: $vng is missing: run 'make venv-test' first" >&2
  exit 2
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
  echo "lab: qemu-system-x86_64 is missing: run 'make system-deps-test' first" >&2
  exit 2
fi
# Idempotent: returns at once when the kernel is already unpacked.
LAB_KERNEL_DIR=$kernel_dir bash "$repo/scripts/fetch-test-kernel.sh"
kver=$(cat "$kernel_dir/kver")
kernel=$kernel_dir/boot/vmlinuz-$kver

# One run per output directory at a time (another helper or a parallel `make` may be running one).
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
if ! flock -n 9; then
  echo "lab: another lab run is using $out; waiting for it"
  flock 9
fi
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
# Extra arguments travel through a file, one per line, never through a shell string: the kernel
# command line that carries --exec is short and its quoting is not ours.
: >"$out/args"
for arg in "$@"; do
  case "$arg" in
    *$'\n'*)
      echo "lab: arguments must not contain newlines" >&2
      exit 2
      ;;
  esac
  printf '%s\n' "$arg" >>"$out/args"
done
# The benchmarks' settings (LVSADMIN_BENCH_*, e.g. LVSADMIN_BENCH_FAILOVERS=5) travel the same
# way: the guest's environment is not the host's.
env | grep -E '^LVSADMIN_BENCH_[A-Z0-9_]+=[A-Za-z0-9._-]*$' >"$out/env" || true

# The guest cannot keep bytecode (its root is read-only), and the host may never have written the
# repository's (PYTHONDONTWRITEBYTECODE): without this every Python process in the guest compiles
# lvsadmin's modules again, under emulation. The venv's were compiled by pip.
"$repo/.venv/bin/python" -m compileall -q -j 0 -x '/(\.venv|artifacts|\.git)/' "$repo" >/dev/null ||
  echo "lab: compileall failed; the guest compiles the modules itself (slower)" >&2

# The host's / once more, as a second 9p share: the guest mounts it again with caching (virtme
# mounts its root without, so every stat and read of Python's imports crosses into QEMU) and runs
# the tests in a chroot on it. A process's start (applylvs --help) measured 30 s uncached, 11.5 s
# cached (tests/lab/guest.sh). virtme creates the mount point in the guest's /srv overlay.
host_root_share=/srv/lvsadmin-host-root
printf '%s\n' "$host_root_share" >"$out/host-root"  # where guest.sh finds it
console=$out/console.log
started=$(date +%s)
echo "lab: booting $kver under QEMU/TCG ($mode; output in $out; timeout ${timeout}s)"
# setsid: vng -> virtme-run -> qemu; killing vng alone leaves qemu running, so the whole process
# group is signalled on timeout or interruption. Run from a job without job control, the child
# is not a group leader, so setsid does not fork and $! is the new group's id.
setsid "$vng" --run "$kernel" --disable-kvm --force-9p --user root \
  --rodir="$host_root_share=/" \
  --memory "${LAB_MEMORY:-3G}" --cpus "${LAB_CPUS:-2}" --verbose \
  --cwd "$repo" --rwdir "$out" \
  --exec "bash $repo/tests/lab/guest.sh $out $mode" \
  </dev/null >"$console" 2>&1 &
vm=$!

stop_vm() {
  kill -TERM -- "-$vm" 2>/dev/null || true
  for _ in 1 2 3 4 5; do
    kill -0 "$vm" 2>/dev/null || return 0
    sleep 1
  done
  kill -KILL -- "-$vm" 2>/dev/null || true
}
trap 'stop_vm; exit 130' INT TERM

timed_out=0
while kill -0 "$vm" 2>/dev/null; do
  if [ $(($(date +%s) - started)) -ge "$timeout" ]; then
    timed_out=1
    echo "lab: the VM ran longer than ${timeout}s: killing it" >&2
    stop_vm
    break
  fi
  sleep 2
done
wait "$vm" 2>/dev/null || true
trap - INT TERM
elapsed=$(($(date +%s) - started))

result=$out/pytest.log
[ "$mode" = bench ] && result=$out/bench.log
if [ -s "$result" ]; then
  cat "$result"
fi
if [ ! -s "$out/exit-code" ]; then
  echo "lab: FAILED: the VM never wrote its exit code (timed out: $timed_out, ${elapsed}s)." >&2
  if [ -s "$out/guest.log" ]; then
    echo "---- tail of $out/guest.log ----" >&2
    tail -n 40 "$out/guest.log" >&2
  fi
  echo "---- tail of $console ----" >&2
  tail -n 60 "$console" >&2
  exit 1
fi
code=$(cat "$out/exit-code")
echo "lab: VM run took ${elapsed}s (boot, setup and $mode); guest exit code $code"
exit "$code"
