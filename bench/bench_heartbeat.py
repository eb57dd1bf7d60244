"""The worker's heartbeat while importlvscf loads 10,000 virtual servers into the same SQLite file.

    .venv/bin/python bench/bench_heartbeat.py

The worker runs as `make run` starts it (`manage.py lvsworker`, the memory driver, one real
server on loopback); the import holds the database's write lock while it writes. Prints the
longest gap between heartbeats as CONTROL sees them (the status row or the heartbeat file, the
newer: monitoring.worker.heartbeat), and the status row's alone for comparison. Goal: under 3 s
(CONTROL calls a worker stopped after 10 s). Exits 0 unless it crashed; prints MET or MISSED.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STATE = Path(tempfile.mkdtemp(prefix="lvsadmin-bench-heartbeat-"))
os.environ["LVSADMIN_STATE_DIR"] = str(STATE)
os.environ["LVSADMIN_IPVS_DRIVER"] = "memory"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lvsadmin.settings")
os.environ.setdefault("LVSADMIN_LOG_LEVEL", "WARNING")

from scripts.testbed.gui_client import read_db  # noqa: E402 (after the environment is set)

VIRTUALS = 10_000
GOAL = 3.0  # seconds
SAMPLE = 0.1  # seconds between reads of the heartbeat


def virtual(name: str, vip: str, port: int, real: tuple[str, int], active: int) -> str:
    return "\n".join(
        [
            f"virtual {name} {{",
            f"     active = {active}",
            f"     address = {vip} eth0:1",
            f"     port = {port}",
            "     protocol = tcp",
            "     timeout = 2",
            "     server r0 {",
            f"         address = {real[0]}",
            f"         port = {real[1]}",
            "         active = 1",
            "     }",
            "}",
        ]
    )


def config(real_port: int, extra: int) -> str:
    """One active virtual server on a loopback listener, and `extra` inactive ones (never
    checked: the import's size is what matters, and they name only loopback and TEST-NET)."""
    blocks = [virtual("watched", "192.0.2.10", 80, ("127.0.0.1", real_port), 1)]
    blocks += [
        virtual(f"bulk{i}", f"198.51.100.{i % 250 + 1}", 1000 + i // 250, ("127.0.0.3", 9), 0)
        for i in range(extra)
    ]
    return "serial_no = 1\nnetwork = direct\n" + "\n".join(blocks) + "\n"


def main() -> int:
    import django

    django.setup()
    from monitoring.worker.heartbeat import last_seen

    env = dict(os.environ)
    python = [sys.executable, "manage.py"]
    database = STATE / "lvsadmin.sqlite3"
    apply_state = STATE / "apply-state.json"
    real = socket.create_server(("127.0.0.1", 0))
    small, big = STATE / "small.cf", STATE / "big.cf"
    small.write_text(config(real.getsockname()[1], 0))
    big.write_text(config(real.getsockname()[1], VIRTUALS))
    subprocess.run([*python, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*python, "importlvscf", str(small)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    worker = subprocess.Popen(
        [*python, "lvsworker", "--no-arp"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    seen: list[tuple[float, datetime | None, datetime | None]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            rows = read_db(database, "SELECT heartbeat FROM monitoring_workerstatus WHERE id = 1")
            row = rows[0][0] if rows and rows[0][0] else None
            row_at = datetime.fromisoformat(row).replace(tzinfo=UTC) if row else None
            seen.append((time.time(), row_at, last_seen(row_at, apply_state)))
            time.sleep(SAMPLE)

    watcher = threading.Thread(target=watch)
    try:
        deadline = time.monotonic() + 60
        while not (database.exists() and read_db(
            database, "SELECT heartbeat FROM monitoring_workerstatus WHERE heartbeat IS NOT NULL"
        )):  # fmt: skip
            assert time.monotonic() < deadline, "the worker never wrote its heartbeat"
            time.sleep(0.2)
        watcher.start()
        time.sleep(3)
        started = time.monotonic()
        subprocess.run([*python, "importlvscf", str(big)], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        imported = time.monotonic() - started
        time.sleep(3)
    finally:
        stop.set()
        if watcher.is_alive():
            watcher.join()
        worker.terminate()
        worker.wait(20)
        real.close()
    shown, row = oldest(seen, 2), oldest(seen, 1)
    print(f"importlvscf of {VIRTUALS} virtual servers took {imported:.1f} s beside the worker")
    print(
        f"longest heartbeat gap as CONTROL sees it (row or file): {shown:.1f} s (goal < {GOAL:g} s)"
    )
    print(f"  the status row's alone: {row:.1f} s (it waits for the import's write lock)")
    print(f"heartbeat gap under {GOAL:g} s: {'MET' if shown < GOAL else 'MISSED'}")
    shutil.rmtree(STATE, ignore_errors=True)
    return 0


def oldest(seen: list[tuple[float, datetime | None, datetime | None]], column: int) -> float:
    """The oldest the heartbeat in `column` ever was when read (the longest gap, to SAMPLE)."""
    ages = [sample[0] - sample[column].timestamp() for sample in seen if sample[column]]
    return max(ages, default=float("inf"))


if __name__ == "__main__":
    sys.exit(main())
