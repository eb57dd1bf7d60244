"""Soak: the product as `make run` starts it (gunicorn and the worker, one SQLite file, the memory
driver), 20 clients editing, toggling and applying through the real HTTP server, and an import of
a 10,000-virtual-server file, all at once, for a bounded time.

What a sysadmin would notice if it broke: the worker's heartbeat stops (the GUI says it is
stopped), a page answers 5xx, a real server that died is not taken out, or the kernel table ends
up different from the published configuration minus what health took out.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitoring.ipvs.table import desired_state, format_rows, format_table
from monitoring.worker.heartbeat import last_seen
from scripts.testbed.gui_client import PASSWORD, Client, free_port, read_db, wait_for_listener
from virtualservers.lvsconf.model import RealServerRef
from virtualservers.lvsconf.parse import parse

REPO = Path(__file__).resolve().parents[3]
CLIENTS = 20
SOAK_SECONDS = 30
FRESH_SECONDS = 10  # monitoring.live.panel.FRESH: an older heartbeat shows the worker as stopped


def listener() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(200)
    return sock


def virtual(name: str, vip: str, port: int, servers: list[tuple[str, int]], active: int) -> str:
    lines = [
        f"virtual {name} {{",
        f"     active = {active}",
        f"     address = {vip} eth0:1",
        f"     port = {port}",
        "     scheduler = wlc",
        "     protocol = tcp",
        "     timeout = 1",
        "     reentry = 2",
    ]
    for i, (address, rport) in enumerate(servers):
        lines += [
            f"     server {name}r{i} {{",
            f"         address = {address}",
            f"         port = {rport}",
            "         active = 1",
            "     }",
        ]
    return "\n".join(lines + ["}"])


def lvs_cf(watched: list[int], churn_port: int, extra: int = 0) -> str:
    """`watched`: real servers that answer (one is killed mid-soak); 20 virtuals the clients
    toggle, whose one real server refuses connections (loopback only); `extra` inactive ones."""
    blocks = [virtual("watched", "192.0.2.10", 3306, [("127.0.0.1", p) for p in watched], 1)]
    blocks += [
        virtual(f"churn{i}", f"192.0.2.{20 + i}", 80, [("127.0.0.2", churn_port)], 0)
        for i in range(CLIENTS)
    ]
    blocks += [
        virtual(f"bulk{i}", f"198.51.100.{i % 250 + 1}", 1000 + i // 250, [("127.0.0.3", 9)], 0)
        for i in range(extra)
    ]
    return "serial_no = 1\nnetwork = direct\n" + "\n".join(blocks) + "\n"


def churn(client: Client, index: int, deadline: float, errors: list[str]) -> None:
    """Toggle this client's virtual server and its real server, look at pages, apply."""
    try:
        client.log_in()
        step = 0
        while time.monotonic() < deadline:
            status, page = client.request("GET", f"/virtual/?q=churn{index}")
            found = re.search(r'action="(/virtual/(\d+)/toggle/)"', page)
            if found:
                client.request("POST", found.group(1), {})
                pk = found.group(2)
                status, page = client.request("GET", f"/virtual/{pk}/real/")
                real = re.search(r'action="(/virtual/\d+/real/\d+/toggle/)"', page)
                if real:
                    client.request("POST", real.group(1), {})
            if step % 5 == index % 5:
                client.request("GET", "/")
            if step % 3 == index % 3:
                client.request("POST", "/apply/", {"comment": f"soak client {index}"})
            step += 1
    except Exception as exc:  # reported by the test, with the others
        errors.append(f"client {index}: {type(exc).__name__}: {exc}")


@pytest.fixture
def product(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "LVSADMIN_STATE_DIR": str(state),
        "LVSADMIN_IPVS_DRIVER": "memory",
        "LVSADMIN_DRIFT_REPAIR_SECONDS": "1",
        "LVSADMIN_BIND": f"127.0.0.1:{port}",
        "LVSADMIN_WORKERS": "3",
        "DJANGO_SETTINGS_MODULE": "lvsadmin.settings",
    }
    python = [sys.executable, "manage.py"]
    subprocess.run([*python, "migrate", "-v0"], cwd=REPO, env=env, check=True)
    subprocess.run(
        [*python, "lvspasswd"], cwd=REPO, env=env, input=PASSWORD + "\n", text=True, check=True
    )
    processes: list[subprocess.Popen] = []
    logs = {name: (tmp_path / f"{name}.log") for name in ("gunicorn", "worker")}
    gunicorn = REPO / ".venv" / "bin" / "gunicorn"
    processes.append(
        subprocess.Popen(
            [str(gunicorn), "-c", "lvsadmin/gunicorn.conf.py", "lvsadmin.wsgi:application"],
            cwd=REPO,
            env=env,
            stdout=logs["gunicorn"].open("w"),
            stderr=subprocess.STDOUT,
        )
    )
    processes.append(
        subprocess.Popen(
            [*python, "lvsworker", "--no-arp"],
            cwd=REPO,
            env=env,
            stdout=logs["worker"].open("w"),
            stderr=subprocess.STDOUT,
        )
    )
    wait_for_listener(port, processes[0], logs["gunicorn"])
    yield {
        "port": port,
        "env": env,
        "db": state / "lvsadmin.sqlite3",
        "state": state / "apply-state.json",
        "worker": processes[1],
        "logs": logs,
        "tmp": tmp_path,
    }
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


# The product as `make run` starts it, on its SQLite file, which the test reads directly. The
# MariaDB run covers the same writers (Apply, the worker's health, logins) two at a time.
@pytest.mark.sqlite_only
def test_twenty_clients_and_a_big_import_never_stop_the_worker_or_return_5xx(product):
    alive, dying = listener(), listener()
    watched = [alive.getsockname()[1], dying.getsockname()[1]]
    churn_port = free_port()  # nothing listens: the churn servers are down once activated
    env, db, port, state = product["env"], product["db"], product["port"], product["state"]
    start_file = product["tmp"] / "start.cf"
    start_file.write_text(lvs_cf(watched, churn_port))
    subprocess.run(
        [sys.executable, "manage.py", "importlvscf", str(start_file)], cwd=REPO, env=env, check=True
    )
    statuses: Counter = Counter()
    first = Client(port, statuses)
    first.log_in()
    first.request("GET", "/")
    assert first.request("POST", "/apply/", {"comment": "start"})[0] == 302

    big_file = product["tmp"] / "big.cf"
    big_file.write_text(lvs_cf(watched, churn_port, extra=10_000))
    deadline = time.monotonic() + SOAK_SECONDS
    errors: list[str] = []
    timings: list[tuple[str, float]] = []
    threads = [
        threading.Thread(target=churn, args=(Client(port, statuses, timings), i, deadline, errors))
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    heartbeats: list[datetime] = []

    def watch() -> None:
        # As CONTROL reads it: the status row's heartbeat or the heartbeat file's, the newer.
        while time.monotonic() < deadline + 5:
            rows = read_db(db, "SELECT heartbeat FROM monitoring_workerstatus WHERE id = 1")
            row = rows[0][0] if rows and rows[0][0] else None
            seen = last_seen(row and datetime.fromisoformat(row).replace(tzinfo=UTC), state)
            if seen and (not heartbeats or heartbeats[-1] != seen):
                heartbeats.append(seen)
            time.sleep(0.25)

    watcher = threading.Thread(target=watch)
    watcher.start()
    time.sleep(3)
    importer = subprocess.Popen(
        [sys.executable, "manage.py", "importlvscf", str(big_file)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(3)
    dying.close()  # a real server dies in the middle of it all
    died_at = time.time()
    imported = importer.communicate(timeout=300)[0]
    for thread in threads:
        thread.join(timeout=120)
    watcher.join(timeout=60)

    worker_log = product["logs"]["worker"].read_text()
    by_kind: dict[str, list[float]] = {}
    for kind, seconds in timings:
        by_kind.setdefault(kind, []).append(seconds)
    for kind, values in sorted(by_kind.items()):
        values.sort()
        print(
            f"{kind}: {len(values)} requests, median {values[len(values) // 2]:.2f} s, max {values[-1]:.2f} s"
        )
    assert importer.returncode == 0, imported
    assert not errors, errors
    assert product["worker"].poll() is None, f"the worker died:\n{worker_log}"
    gunicorn_log = product["logs"]["gunicorn"].read_text()
    errors_logged = [line for line in gunicorn_log.splitlines() if "Error" in line][-20:]
    assert statuses and not [s for s in statuses if s >= 500 or s == 403], (statuses, errors_logged)
    # Every client logged in and made at least one round of changes.
    assert sum(statuses.values()) >= CLIENTS * 4, statuses
    # The heartbeat never went stale long enough for the GUI to say "stopped".
    times = [h.timestamp() for h in heartbeats]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) > SOAK_SECONDS / 4 and max(gaps) < FRESH_SECONDS, gaps

    # The transition was not lost: the dead server is down and out of the table.
    dead = watched[1]
    assert f"[inactive] shutting down 127.0.0.1:{dead}" in worker_log
    rows = read_db(
        db,
        "SELECT state FROM monitoring_realserverhealth WHERE virtual_name = 'watched' AND port = ?",
        (dead,),
    )
    assert rows == [("down",)], rows
    assert time.time() - died_at < 300

    # One last publish, then the kernel table is exactly published-minus-down.
    first.request("GET", "/")
    assert first.request("POST", "/apply/", {"comment": "end"})[0] == 302
    serial, text = read_db(
        db, "SELECT serial_no, text FROM virtualservers_revision ORDER BY serial_no DESC LIMIT 1"
    )[0]
    config, _ = parse(text)
    deadline = time.monotonic() + 30
    while True:
        down = {
            RealServerRef(v, a, p)
            for v, a, p in read_db(
                db,
                "SELECT virtual_name, address, port FROM monitoring_realserverhealth "
                "WHERE state = 'down'",
            )
        }
        shown_serial, note = read_db(
            db, "SELECT serial_no, table_note FROM monitoring_workerstatus"
        )[0]
        rows = read_db(db, 'SELECT "row" FROM monitoring_workertableservice ORDER BY "key"')
        shown = (shown_serial, (note or "") + format_rows(json.loads(row) for (row,) in rows))
        expected = format_table(desired_state(config, down).table)
        if shown == (serial, expected):
            break
        assert time.monotonic() < deadline, f"shown:\n{shown[1]}\nexpected:\n{expected}"
        time.sleep(0.5)
    alive.close()
