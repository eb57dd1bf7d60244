"""The worker's heartbeat as CONTROL, the API and /metrics see it, while the database is busy."""

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone

from monitoring.metrics.exposition import exposition
from monitoring.worker import status
from monitoring.worker.heartbeat import BEAT_EVERY, Heartbeat, SystemdNotifier
from monitoring.worker.loop import Worker
from tests.monitoring.worker.test_worker import (  # noqa: F401 (fixtures)
    listener,
    lvs_cf,
    memory,
    publish,
    run_in_thread,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)


def shown_heartbeat(client) -> datetime:
    return datetime.fromisoformat(client.get("/api/live/").json()["worker"]["heartbeat"])


def test_the_heartbeat_stays_fresh_while_a_database_writer_holds_the_lock(
    memory,  # noqa: F811 (test_worker's fixture)
    listener,  # noqa: F811 (test_worker's fixture)
    admin_client,
    monkeypatch,
    settings,
):
    # As importlvscf of 10,000 virtual servers does on SQLite: every write of the worker's status
    # waits for the lock, here for four of its intervals. CONTROL must still see it alive.
    publish(lvs_cf(listener, listener))
    released = threading.Event()
    real_write = status.StatusWriter.write
    written = threading.Event()

    def write_behind_a_lock(self, *args, **kwargs):
        if written.is_set():
            released.wait(30)
        result = real_write(self, *args, **kwargs)
        written.set()
        return result

    monkeypatch.setattr(status.StatusWriter, "write", write_behind_a_lock)
    worker = Worker("memory", arp_count=0)
    thread = run_in_thread(worker)
    try:
        wait_until(written.is_set, 20)
        held_until = time.monotonic() + 4 * status.STATUS_EVERY
        ages = []
        while time.monotonic() < held_until:
            ages.append((timezone.now() - shown_heartbeat(admin_client)).total_seconds())
            time.sleep(BEAT_EVERY / 2)
        scrape = exposition(settings.LVSADMIN_APPLY_STATE).decode()
    finally:
        released.set()
        worker.stop()
        thread.join(timeout=20)
    # The status row alone would have aged to four intervals here; the file is touched every
    # BEAT_EVERY (half an interval), so two intervals leave room for a loaded machine.
    assert max(ages[len(ages) // 2 :]) < 2 * status.STATUS_EVERY, ages
    assert "lvsadmin_worker_up 1.0" in scrape


def test_the_web_process_reads_the_heartbeat_without_loading_the_worker():
    # A fresh interpreter: this test process has imported the worker already. CONTROL, the API
    # and /metrics read monitoring.worker.heartbeat; its package once loaded the whole loop.
    code = (
        "import sys, django; django.setup();"
        "from django.urls import get_resolver; get_resolver().url_patterns;"
        "print(sorted(m for m in sys.modules if m.startswith('monitoring.worker.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[3],
        env={"DJANGO_SETTINGS_MODULE": "lvsadmin.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "['monitoring.worker.conf', 'monitoring.worker.heartbeat']"


def notify_socket(path: str) -> socket.socket:
    """What systemd listens on for a unit's notifications (NOTIFY_SOCKET)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + path[1:] if path.startswith("@") else path)
    sock.settimeout(0)
    return sock


def received(sock: socket.socket) -> list[bytes]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096))
        except BlockingIOError:
            return messages


@pytest.mark.parametrize("kind", ["path", "abstract"])
def test_each_beat_is_a_systemd_watchdog_ping(tmp_path, kind):
    address = str(tmp_path / "notify") if kind == "path" else f"@lvsadmin-test-{os.getpid()}"
    with notify_socket(address) as systemd:
        clock = SimpleNamespace(now=100.0)
        beat = Heartbeat(
            tmp_path / "apply-state.json",
            lambda: clock.now,
            SystemdNotifier({"NOTIFY_SOCKET": address}),
        )
        assert beat.beat()
        clock.now += BEAT_EVERY / 2
        assert not beat.beat()
        assert received(systemd) == [b"WATCHDOG=1"]
        clock.now += BEAT_EVERY / 2
        assert beat.beat()
        assert received(systemd) == [b"WATCHDOG=1"]


def test_without_systemd_a_beat_sends_nothing_and_still_touches_the_file(tmp_path):
    beat = Heartbeat(tmp_path / "apply-state.json", lambda: 100.0, SystemdNotifier({}))
    assert beat.beat()
    assert beat.path.stat().st_mtime == 100.0


def test_the_running_worker_pings_systemds_watchdog(
    memory,  # noqa: F811 (test_worker's fixture)
    listener,  # noqa: F811 (test_worker's fixture)
    monkeypatch,
    tmp_path,
):
    # As the shipped unit runs it (WatchdogSec=, NotifyAccess=main): systemd restarts a worker
    # whose pings stop, so a live one must send them from its event loop.
    address = str(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", address)
    publish(lvs_cf(listener, listener))
    with notify_socket(address) as systemd:
        worker = Worker("memory", arp_count=0)
        thread = run_in_thread(worker)
        pings: list[bytes] = []

        def two_pings() -> bool:
            pings.extend(received(systemd))
            return len(pings) >= 2

        try:
            wait_until(two_pings, 20)
        finally:
            worker.stop()
            thread.join(timeout=20)
    assert set(pings) == {b"WATCHDOG=1"}
