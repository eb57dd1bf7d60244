"""bench/bench_worker.py refuses to print figures when its listeners cannot start."""

import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_listener_address_already_taken_stops_the_benchmark_with_a_clear_message(tmp_path):
    # The benchmark's first listener (127.0.1.1:20000) held by someone else: another run of it.
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.1.1", 20000))
    held.listen(1)
    try:
        run = subprocess.run(
            [sys.executable, str(REPO / "bench" / "bench_worker.py")],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        held.close()
    assert run.returncode == 1, run.stdout + run.stderr
    assert "the listeners did not start" in run.stdout
    assert "127.0.1.1-127.0.1.100 ports 20000-20099" in run.stdout
    # Nothing measured: no HAProxy line, no worker line, no verdict.
    assert "HAProxy" not in run.stdout and "MET" not in run.stdout
