"""Two directors on loopback, as they run in production: each its own gunicorn, SQLite file and
state directory, the standby's worker (memory driver) following the active director. A publish
on the active director is a published revision on the standby within 2 s (measured); the standby
keeps it when the active director stops; the standby's GUI refuses a configuration edit."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from scripts.testbed.gui_client import PASSWORD, Client, free_port, read_db
from tests.monitoring.peersync.test_peersync_follow import lvs_cf
from tests.monitoring.worker.test_soak import REPO

FOLLOW_WITHIN = 2.0


def start(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_for(what, timeout: float, message) -> float:
    """Poll `what` every 20 ms until it is true; the time it took."""
    started = time.monotonic()
    while not what():
        assert time.monotonic() - started < timeout, message()
        time.sleep(0.02)
    return time.monotonic() - started


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def directors(tmp_path):
    secret = tmp_path / "peer-secret"
    secret.write_text(os.urandom(32).hex() + "\n")
    secret.chmod(0o600)
    ports = {"a": free_port(), "b": free_port()}
    envs, dbs = {}, {}
    # The roles come from the role files this test writes, as keepalived's notify hook would;
    # a stand-in for a running keepalived keeps the worker's redundancy step from declaring a
    # fault for want of one (that step is tested with keepalived itself elsewhere).
    keepalived = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGHUP, "
         "signal.SIG_IGN); time.sleep(3600)"]
    )  # fmt: skip
    (tmp_path / "keepalived.pid").write_text(f"{keepalived.pid}\n")
    for name, peer_port in (("a", ports["b"]), ("b", ports["a"])):
        state = tmp_path / name
        state.mkdir()
        dbs[name] = state / "lvsadmin.sqlite3"
        envs[name] = {
            **os.environ,
            "LVSADMIN_STATE_DIR": str(state),
            "LVSADMIN_IPVS_DRIVER": "memory",
            "LVSADMIN_BIND": f"127.0.0.1:{ports[name]}",
            "LVSADMIN_WORKERS": "1",
            "LVSADMIN_PEER_SECRET_FILE": str(secret),
            "LVSADMIN_PEER_URL": f"http://127.0.0.1:{peer_port}",
            "DJANGO_SETTINGS_MODULE": "lvsadmin.settings",
            "LVSADMIN_KEEPALIVED": sys.executable,
            "LVSADMIN_KEEPALIVED_PID": str(tmp_path / "keepalived.pid"),
        }
    role = {"a": "active", "b": "standby"}
    for name in role:
        (tmp_path / name / "director-role.json").write_text(
            json.dumps({"role": role[name], "since": time.time(), "peer": "127.0.0.1"})
        )
    python = [sys.executable, "manage.py"]
    subprocess.run([*python, "migrate", "-v0"], cwd=REPO, env=envs["a"], check=True)
    subprocess.run(
        [*python, "lvspasswd"],
        cwd=REPO,
        env=envs["a"],
        input=PASSWORD + "\n",
        text=True,
        check=True,
    )
    # B starts as a new installation with the same account and an empty configuration.
    shutil.copy(dbs["a"], dbs["b"])
    first = tmp_path / "first.cf"
    first.write_text(lvs_cf(1))
    subprocess.run([*python, "importlvscf", str(first)], cwd=REPO, env=envs["a"], check=True)
    gunicorn = str(REPO / ".venv" / "bin" / "gunicorn")
    web = [gunicorn, "-c", "lvsadmin/gunicorn.conf.py", "lvsadmin.wsgi:application"]
    logs = {n: tmp_path / f"{n}.log" for n in ("web-a", "web-b", "worker-b")}
    processes = {
        "web-a": start(web, envs["a"], logs["web-a"]),
        "web-b": start(web, envs["b"], logs["web-b"]),
        "worker-b": start([*python, "lvsworker", "--no-arp"], envs["b"], logs["worker-b"]),
    }
    for name in ("a", "b"):
        wait_for(lambda n=name: listening(ports[n]), 60, logs[f"web-{name}"].read_text)
    yield {"ports": ports, "db": dbs, "processes": processes, "logs": logs, "env": envs}
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    keepalived.kill()
    keepalived.wait()


def published(db: Path) -> list[tuple]:
    return read_db(db, "SELECT serial_no, text FROM virtualservers_revision ORDER BY serial_no")


def follow_status(db: Path) -> tuple:
    rows = read_db(db, "SELECT state, local_serial, reason FROM monitoring_peerfollowstatus")
    return rows[0] if rows else ("", None, "")


def test_a_publish_on_the_active_director_reaches_the_standby_within_two_seconds(directors):
    db, ports, logs = directors["db"], directors["ports"], directors["logs"]
    # The standby's follower is up once it has talked to the peer (nothing published yet).
    wait_for(lambda: follow_status(db["b"])[0] == "following", 60, logs["worker-b"].read_text)
    wait_for(
        lambda: read_db(db["b"], "SELECT heartbeat FROM monitoring_workerstatus"),
        60,
        logs["worker-b"].read_text,
    )
    active = Client(ports["a"], Counter())
    active.log_in()
    delays = []
    for comment in ("first", "second"):
        if comment == "second":
            status, page = active.request("GET", "/virtual/")
            toggle = re.search(r'action="(/virtual/\d+/toggle/)"', page).group(1)
            assert active.request("POST", toggle, {})[0] == 302
        active.request("GET", "/")  # the page with the Apply form (and its CSRF token)
        started = time.monotonic()
        assert active.request("POST", "/apply/", {"comment": comment})[0] == 302
        applying = time.monotonic() - started
        serial, text = published(db["a"])[-1]
        wait_for(
            lambda s=serial: any(row[0] == s for row in published(db["b"])),
            FOLLOW_WITHIN + 5,
            logs["worker-b"].read_text,
        )
        delays.append(time.monotonic() - started)
        assert published(db["b"])[-1] == (serial, text)
        # The standby's worker enforces it (its poll picks the revision up like any Apply).
        wait_for(
            lambda s=serial: f"enforcing revision {s}" in logs["worker-b"].read_text(),
            FOLLOW_WITHIN + 5,
            logs["worker-b"].read_text,
        )
        applied = time.monotonic() - started
        print(
            f"{comment}: Apply on the active took {applying:.3f} s; serial {serial} on the "
            f"standby {delays[-1]:.3f} s after the Apply was sent, "
            f"enforced by its worker after {applied:.3f} s"
        )
        assert delays[-1] < FOLLOW_WITHIN and applied < FOLLOW_WITHIN
    assert lvs_cf(1) != published(db["b"])[-1][1]
    # The standby's draft mirrors it: the virtual server is there to edit after a takeover.
    assert read_db(db["b"], "SELECT name FROM virtualservers_virtualserver") == [("web",)]

    # What a sysadmin (or the lab test) runs on the standby to check the channel.
    check = subprocess.run(
        [sys.executable, "manage.py", "peersync"],
        cwd=REPO,
        env=directors["env"]["b"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert f"answers (signed): serial {serial} (" in check.stdout
    assert check.stdout.rstrip().endswith(f"here: serial {serial}: matches")

    # The active director stops: the standby keeps its revision and says why.
    kept = published(db["b"])
    directors["processes"]["web-a"].terminate()
    directors["processes"]["web-a"].wait(timeout=20)
    wait_for(lambda: follow_status(db["b"])[0] == "unreachable", 10, logs["worker-b"].read_text)
    state, local_serial, reason = follow_status(db["b"])
    assert local_serial == kept[-1][0] and "refused" in reason.lower()
    assert published(db["b"]) == kept

    # The standby's GUI refuses a configuration edit and says where to edit.
    standby = Client(ports["b"], Counter())
    standby.log_in()
    status, page = standby.request("GET", "/virtual/")
    assert "This director is the standby; edit on 127.0.0.1" in page
    pk = re.search(r'action="/virtual/(\d+)/"', page).group(1)
    status, page = standby.request("POST", f"/virtual/{pk}/toggle/", {})
    assert status == 403 and "Nothing was changed" in page
    assert published(db["b"]) == kept
