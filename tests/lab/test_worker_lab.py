"""The seed end to end with the worker running against the real kernel: a real server's MariaDB
dies, it leaves the IPVS table (or drops to weight 0 with quiesce) within timeout plus one
interval, new MySQL connections through the VIP land on the survivor; it starts again and
returns after its re-entry time. Health is checked with the built-in MySQL check (a full login)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from monitoring.models import RealServerHealth, Revision
from monitoring.worker.loop import Worker
from scripts.testbed import lvscf
from scripts.testbed.topology import (
    BRIDGE,
    MYSQL_PASSWORD,
    MYSQL_USER,
    VIP,
    Topology,
    addresses,
    mysql_connect,
    which_server,
)
from tests.lab import ipvsadm

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[2]
TIMEOUT, REENTRY = 2, 4  # short, to keep the lab fast under emulation; 2 successes to come back
SERVICE = f"TCP {VIP}:3306"
RS1 = "192.0.2.241:3306"


def seed(quiesce: int = 0) -> str:
    text = lvscf.config(
        lvscf.virtual(
            "mysql", address=VIP, port=3306, scheduler="lc", servers=lvscf.mysql_servers()
        ),
        network="direct",
    )
    return (
        text.replace("     timeout = 6\n", f"     timeout = {TIMEOUT}\n")
        .replace("     reentry = 15\n", f"     reentry = {REENTRY}\n")
        .replace("     quiesce_server = 0\n", f"     quiesce_server = {quiesce}\n")
    )


@pytest.fixture
def worker(settings, tmp_path) -> Iterator[Worker]:
    settings.LVSADMIN_APPLY_STATE = tmp_path / "apply-state.json"
    instance = Worker("netlink", arp_count=1)
    thread = threading.Thread(
        target=lambda: asyncio.run(instance.run()), name="lvsworker", daemon=True
    )
    yield instance, thread
    instance.stop()
    thread.join(timeout=30)


def publish(text: str) -> None:
    checks = {
        "mysql": {"kind": "mysql", "mysql_user": MYSQL_USER, "mysql_password": MYSQL_PASSWORD}
    }
    Revision.objects.create(serial_no=Revision.objects.count() + 1, text=text, checks=checks)


def wait_for(condition, limit: float, what: str) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            raise AssertionError(
                f"{what} did not happen within {limit} s; table:\n{ipvsadm.ipvsadm_ln()}"
            )
        time.sleep(0.1)
    return time.monotonic() - start


def destinations() -> dict[str, int]:
    service = ipvsadm.table().get(SERVICE)
    return {} if service is None else {d.address: d.weight for d in service.destinations}


def vip_up() -> bool:
    return any(address == VIP for address, _prefix, _label in addresses(BRIDGE))


def seed_running() -> None:
    """The seed table and its VIP are up, and the client reaches MySQL through the VIP."""
    wait_for(
        lambda: set(destinations()) == {RS1, "192.0.2.242:3306"} and vip_up(), 90, "the seed table"
    )
    deadline = time.monotonic() + 30
    while True:  # the client's first ARP for the VIP may have failed before the VIP was up
        try:
            mysql_connect(VIP, timeout=3).close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def servers_answering(count: int = 6) -> set[str]:
    answered = set()
    for _ in range(count):
        connection = mysql_connect(VIP)
        try:
            answered.add(which_server(connection))
        finally:
            connection.close()
    return answered


def rs1_checks(instance: Worker) -> list[tuple[float, bool, bool]]:
    """Record (start time, ok, made it available) of every check the worker makes of rs1."""
    seen: list[tuple[float, bool, bool]] = []
    record = instance.book.record

    def recording(ref, result, started):
        transition = record(ref, result, started)
        if f"{ref.address}:{ref.port}" == RS1:
            seen.append((started, result.ok, transition is not None and transition.up))
        return transition

    instance.book.record = recording
    return seen


def successes_until_return(checks: list[tuple[float, bool, bool]]) -> list[float]:
    """Start times of the successful checks from rs1's last failure up to the one that made it
    available again."""
    failures = [i for i, (_started, ok, _up) in enumerate(checks) if not ok]
    assert failures, "the worker never saw rs1 fail"
    streak = []
    for started, _ok, made_available in checks[failures[-1] + 1 :]:
        streak.append(started)
        if made_available:
            return streak
    raise AssertionError(f"no check made rs1 available: {checks}")


def panel() -> str:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="piranha")
    client = Client()
    client.force_login(user)
    return client.get("/live/").content.decode()


def test_a_dead_real_server_leaves_the_table_and_returns_after_reentry(
    topology: Topology, worker
) -> None:
    instance, thread = worker
    checks = rs1_checks(instance)
    publish(seed())
    thread.start()
    seed_running()
    assert servers_answering() == {"rs1", "rs2"} or servers_answering(10) == {"rs1", "rs2"}

    topology.mariadb["rs1"].kill()
    gone = wait_for(lambda: RS1 not in destinations(), 30, "rs1 leaving the table")
    print(
        f"failure seen and applied {gone:.1f} s after the kill (timeout {TIMEOUT} s + interval {TIMEOUT} s)"
    )
    assert gone <= TIMEOUT + TIMEOUT + 2  # timeout + one interval, and slack for emulation
    assert servers_answering() == {"rs2"}
    health = RealServerHealth.objects.get(address="192.0.2.241")
    html = panel()
    assert health.state == "down" or "192.0.2.241:3306</td>" in html
    assert "connection refused" in html or "Can't connect" in html or "refused" in health.last_error

    topology.mariadb["rs1"].start()
    back = wait_for(lambda: RS1 in destinations(), 60, "rs1 coming back")
    # The worker may see MariaDB answer before wait_ready() does, so time the re-entry on the
    # worker's own checks: it returned only after reentry / timeout consecutive successes, one
    # interval apart, and not on the first one.
    streak = successes_until_return(checks)
    print(f"rs1 back in the table {back:.1f} s after MariaDB answered again (re-entry {REENTRY} s)")
    print(f"successful checks of rs1 until it returned (start times): {streak}")
    assert len(streak) == REENTRY // TIMEOUT
    assert streak[-1] - streak[0] >= (REENTRY // TIMEOUT - 1) * TIMEOUT - 0.05
    assert "rs1" in servers_answering(10)
    wait_for(
        lambda: RealServerHealth.objects.get(address="192.0.2.241").state == "up",
        10,
        "health row up",
    )
    assert '<span class="badge text-bg-success">up</span>' in panel()


def test_with_quiesce_a_dead_real_server_stays_at_weight_zero(topology: Topology, worker) -> None:
    instance, thread = worker
    publish(seed(quiesce=1))
    thread.start()
    seed_running()
    assert destinations() == {RS1: 1, "192.0.2.242:3306": 1}
    topology.mariadb["rs1"].kill()
    wait_for(lambda: destinations().get(RS1) == 0, TIMEOUT + TIMEOUT + 2, "rs1 quiesced")
    assert destinations() == {RS1: 0, "192.0.2.242:3306": 1}
    assert servers_answering() == {"rs2"}
    topology.mariadb["rs1"].start()
    wait_for(lambda: destinations().get(RS1) == 1, 60, "rs1 back at weight 1")


# The shipped cron file's command: `manage.py applylvs --watchdog` (lvsadmin/deploy/).
WATCHDOG_CRON = REPO / "lvsadmin" / "deploy" / "lvsadmin-watchdog.cron"


def watchdog_arguments() -> list[str]:
    """applylvs's arguments exactly as the shipped cron line gives them."""
    for line in WATCHDOG_CRON.read_text().splitlines():
        found = re.search(r"manage\.py applylvs([^>&|;]*)", line)
        if found and not line.lstrip().startswith("#"):
            return found.group(1).split()
    raise AssertionError(f"no applylvs line in {WATCHDOG_CRON}")


def cron_applylvs(settings, published, *arguments: str) -> subprocess.CompletedProcess:
    """`manage.py applylvs` as cron runs it: its own process (no arguments: the old cron line)."""
    env = {
        **os.environ,
        "LVSADMIN_LVS_CF": str(published),
        "LVSADMIN_APPLY_STATE": str(settings.LVSADMIN_APPLY_STATE),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "applylvs", *arguments],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_dead_real_server_stays_out_while_applylvs_runs_as_cron_would(
    topology: Topology, worker, settings, tmp_path
) -> None:
    instance, thread = worker
    text = seed()
    publish(text)
    published = tmp_path / "lvs.cf"
    published.write_text(text)
    thread.start()
    seed_running()
    topology.mariadb["rs1"].kill()
    try:
        wait_for(lambda: RS1 not in destinations(), 30, "rs1 leaving the table")
        result = cron_applylvs(settings, published)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "the running worker converged (health included)" in result.stdout
        assert destinations() == {"192.0.2.242:3306": 1}
        # The shipped cron line (the watchdog): the same converge, rs1 still out.
        watchdog = watchdog_arguments()
        assert watchdog == ["--watchdog"]
        result = cron_applylvs(settings, published, *watchdog)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "the running worker converged (health included)" in result.stdout
        assert destinations() == {"192.0.2.242:3306": 1}
        # Drift: someone flushes the table; the worker restores it, still without rs1.
        subprocess.run(["ipvsadm", "-C"], check=True)
        restored = wait_for(
            lambda: destinations() == {"192.0.2.242:3306": 1},
            settings.LVSADMIN_DRIFT_REPAIR_SECONDS + 10,
            "the worker repairing the flushed table",
        )
        print(f"flushed table restored by the worker in {restored:.1f} s")
        # The worker stopped: the watchdog writes nothing itself (the file names rs1, which
        # health took out), exits 7 and says why, for cron to mail.
        instance.stop()
        thread.join(timeout=30)
        assert not thread.is_alive()
        result = cron_applylvs(settings, published, *watchdog)
        assert result.returncode == 7, result.stdout + result.stderr
        assert "no worker is running" in result.stderr
        assert destinations() == {"192.0.2.242:3306": 1}
    finally:
        topology.mariadb["rs1"].start()
