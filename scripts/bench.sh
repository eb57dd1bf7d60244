#!/usr/bin/env bash
# The benchmarks, figures printed (`make bench`):
#  - on the host, every bench/bench_*.py except the IPVS one (the host kernel has no IPVS),
#    bench_metrics.py among them (a Prometheus scrape of /metrics at 1,000 x 10);
#  - in ONE lab VM (scripts/lab.sh, LAB_MODE=bench): bench/bench_ipvs.py and any bench/vm_*.py,
#    against a real IPVS under QEMU/TCG. Figures from the VM are for ratios between things
#    measured in the same VM (CPU-bound Python runs 10-15x slower there than on the host).
# Exits non-zero if any benchmark failed; every benchmark still runs.
set -uo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
status=0

shopt -s nullglob
host=()
vm=()
for script in bench/bench_*.py bench/vm_*.py; do
  case "$(basename "$script")" in
    bench_ipvs.py | vm_*.py) vm+=("$script") ;;
    *) host+=("$script") ;;
  esac
done

for script in "${host[@]}"; do
  echo "==== $script (host) ===="
  started=$(date +%s)
  if ! "$python" "$script"; then
    echo "bench: $script FAILED" >&2
    status=1
  fi
  echo "---- $script took $(($(date +%s) - started))s"
done

if [ ${#vm[@]} -gt 0 ]; then
  echo "==== ${vm[*]} (lab VM) ===="
  # The VM's benchmarks take 30-45 minutes under QEMU/TCG (vm_failover alone kills each
  # director twice); the tests' 45-minute limit cut a run on a busy machine short mid-failover,
  # a failure of the machine's pace, not of a benchmark. They get 90 minutes.
  if ! LAB_MODE=bench LAB_TIMEOUT="${LAB_TIMEOUT:-5400}" LAB_OUT="${LAB_OUT:-artifacts/lab-bench}" \
    bash scripts/lab.sh; then
    echo "bench: the VM benchmarks FAILED" >&2
    status=1
  fi
else
  echo "bench: no VM benchmarks (bench/bench_ipvs.py, bench/vm_*.py) yet"
fi
exit $status
