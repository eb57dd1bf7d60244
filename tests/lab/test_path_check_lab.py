"""Checks through the forwarding path, with the worker on the real kernel: a real server without
the VIP on its `lo` answers its plain check but drops every client packet forwarded to it by
direct routing. The worker checks it through IPVS (its private firewall-mark service and a
marked socket to the VIP), takes it out with a reason that says what to fix, and brings it back
once the VIP is on its lo. Read back with the real `ipvsadm` and real MySQL clients."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from monitoring.checks.probes import CheckSpec, mysql_check
from monitoring.live.worker_table import all_rows, ipvsadm_text
from monitoring.models import RealServerHealth
from monitoring.worker.loop import Worker
from scripts.testbed.topology import (
    BRIDGE,
    MYSQL_PASSWORD,
    MYSQL_USER,
    VIP,
    Topology,
    mysql_connect,
    read_sysctl,
    run,
    sysctl,
)
from tests.lab import ipvsadm
from tests.lab.test_worker_lab import (
    RS1,
    TIMEOUT,
    destinations,
    publish,
    seed,
    servers_answering,
    wait_for,
)
from virtualservers.lvsconf.paths import PATH_MARK_FIRST, PATH_MARK_LAST

pytestmark = pytest.mark.django_db(transaction=True)
RS2_ADDRESS = "192.0.2.242"
RS2 = f"{RS2_ADDRESS}:3306"


@pytest.fixture
def worker(settings, tmp_path) -> Iterator[tuple[Worker, threading.Thread]]:
    settings.LVSADMIN_APPLY_STATE = tmp_path / "apply-state.json"
    instance = Worker("netlink", arp_count=1)
    thread = threading.Thread(
        target=lambda: asyncio.run(instance.run()), name="lvsworker", daemon=True
    )
    yield instance, thread
    instance.stop()
    thread.join(timeout=30)


@pytest.fixture
def rs2_without_the_vip(topology: Topology) -> Iterator[None]:
    """rs2 half set up: no VIP on its lo (its ARP sysctls stay). Put back afterwards, so the
    next test finds the lab as it was built."""
    sysctl_before = read_sysctl(f"net.ipv4.conf.{BRIDGE}.accept_local")
    run("ip", "addr", "del", f"{VIP}/32", "dev", "lo", ns="rs2")
    try:
        yield
    finally:
        run("ip", "addr", "replace", f"{VIP}/32", "dev", "lo", ns="rs2")
        sysctl(f"net.ipv4.conf.{BRIDGE}.accept_local", sysctl_before)


def put_the_vip_on_lo(ns: str) -> None:
    """What the set-up of a direct-routing real server does (piranha.md 5.1, method 3)."""
    for scope in ("all", "lo"):
        sysctl(f"net.ipv4.conf.{scope}.arp_ignore", "1", ns=ns)
        sysctl(f"net.ipv4.conf.{scope}.arp_announce", "2", ns=ns)
    run("ip", "addr", "replace", f"{VIP}/32", "dev", "lo", ns=ns)


def client_reaches_the_vip() -> None:
    """The client's first ARP for the VIP may have gone out before the VIP was up: retry."""
    deadline = time.monotonic() + 30
    while True:
        try:
            mysql_connect(VIP, timeout=3).close()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def answers_through_the_vip(name: str, timeout: float = 30) -> None:
    """Connections through the VIP until real server `name` answers one. The scheduler (lc)
    sends a new connection to the real server with the fewest connections in the kernel, and a
    real server taken back into a service comes back with those it still had there (an earlier
    test's, waiting out their TCP timeouts): the first ones may all go to the other server."""
    deadline, seen = time.monotonic() + timeout, set()
    while time.monotonic() < deadline:
        seen |= servers_answering(6)
        if name in seen:
            return
    table = run("ipvsadm", "-Ln", "--stats").stdout + run("ipvsadm", "-Ln").stdout
    raise AssertionError(f"only {sorted(seen)} answered through the VIP in {timeout} s:\n{table}")


def private_services() -> dict[str, ipvsadm.Service]:
    return {
        key: service
        for key, service in ipvsadm.table().items()
        if service.protocol == "FWM" and PATH_MARK_FIRST <= int(service.address) <= PATH_MARK_LAST
    }


def rs2_health() -> RealServerHealth | None:
    return RealServerHealth.objects.filter(address=RS2_ADDRESS).first()


def test_a_real_server_without_the_vip_on_lo_goes_down_with_the_path_reason_and_returns(
    topology: Topology, worker, rs2_without_the_vip
) -> None:
    instance, thread = worker
    publish(seed())
    thread.start()
    wait_for(lambda: RS2 not in destinations() and RS1 in destinations(), 60, "rs2 out")

    # Its plain check passes: the built-in MySQL check to its own address logs in.
    spec = CheckSpec(kind="mysql", timeout=10, mysql_user=MYSQL_USER, mysql_password=MYSQL_PASSWORD)
    assert mysql_check(RS2_ADDRESS, 3306, spec)[:2] == (True, "")
    # ... yet it is down, with what to fix.
    wait_for(lambda: (rs2_health() or RealServerHealth()).state == "down", 30, "rs2's row")
    reason = rs2_health().last_error
    print(f"rs2's reason: {reason}")
    assert reason.startswith(f"answers on {RS2} but not through VIP {VIP}:3306 (")
    assert "is the VIP on its lo" in reason and reason.endswith("See Set up")
    # The worker holds one private service per real server, each holding only that server.
    private = private_services()
    assert sorted(d.address for s in private.values() for d in s.destinations) == [RS1, RS2]
    assert all(len(s.destinations) == 1 for s in private.values())
    assert {d.forward for s in private.values() for d in s.destinations} == {"Route"}
    assert read_sysctl(f"net.ipv4.conf.{BRIDGE}.accept_local") == "1"
    assert read_sysctl(f"net.ipv4.conf.{BRIDGE}.rp_filter") == "0"
    # CONTROL shows the operator's service only.
    wait_for(lambda: "192.0.2.242" not in str(all_rows()), 10, "status table")
    assert [s["service"] for s in all_rows()] == [f"TCP  {VIP}:3306"]
    assert "FWM" not in ipvsadm_text()
    # Every client connection through the VIP is served, by rs1.
    client_reaches_the_vip()
    assert servers_answering(8) == {"rs1"}

    put_the_vip_on_lo("rs2")
    back = wait_for(lambda: RS2 in destinations(), 30, "rs2 back in the table")
    print(f"rs2 back {back:.1f} s after the VIP went on its lo (timeout {TIMEOUT} s)")
    wait_for(lambda: rs2_health().state == "up", 15, "rs2's row up")
    assert rs2_health().last_error == ""
    answers_through_the_vip("rs2")

    # A clean stop removes the private services and puts the sysctl back; the rest stays.
    instance.stop()
    thread.join(timeout=30)
    assert private_services() == {}
    assert set(destinations()) == {RS1, RS2}
    assert read_sysctl(f"net.ipv4.conf.{BRIDGE}.accept_local") == "0"


def test_with_quiesce_the_real_server_without_the_vip_gets_weight_zero(
    topology: Topology, worker, rs2_without_the_vip
) -> None:
    instance, thread = worker
    publish(seed(quiesce=1))
    thread.start()
    wait_for(lambda: destinations() == {RS1: 1, RS2: 0}, 60, "rs2 at weight 0")
    client_reaches_the_vip()
    assert servers_answering(6) == {"rs1"}
    assert "not through VIP" in rs2_health().last_error


def test_with_path_check_0_the_real_server_without_the_vip_stays_in(
    topology: Topology, worker, rs2_without_the_vip
) -> None:
    instance, thread = worker
    text = seed().replace(
        "     quiesce_server = 0\n", "     quiesce_server = 0\n     path_check = 0\n"
    )
    assert "path_check = 0" in text
    publish(text)
    thread.start()
    wait_for(lambda: set(destinations()) == {RS1, RS2}, 60, "the seed table")
    wait_for(lambda: rs2_health() is not None and rs2_health().last_check, 30, "a check of rs2")
    assert rs2_health().state == "up"
    assert private_services() == {}


@pytest.fixture
def rs2_without_tunl0(topology: Topology) -> Iterator[None]:
    """Tunnelling: rs1 unwraps IPIP on tunl0 (the VIP on its lo, ARP-silent); rs2 is half set
    up: its tunl0 is down. Both put back down afterwards, as the lab was built."""
    run("modprobe", "ipip")
    for ns in ("rs1", "rs2"):
        for scope in ("all", "default", "eth0", "tunl0"):
            sysctl(f"net.ipv4.conf.{scope}.rp_filter", "0", ns=ns)
    run("ip", "link", "set", "tunl0", "up", ns="rs1")
    try:
        yield
    finally:
        for ns in ("rs1", "rs2"):
            run("ip", "link", "set", "tunl0", "down", ns=ns)


def test_tunnelling_a_real_server_without_tunl0_goes_down_and_returns_once_it_is_up(
    topology: Topology, worker, rs2_without_tunl0
) -> None:
    instance, thread = worker
    publish(seed().replace("network = direct", "network = tunnel"))
    thread.start()
    wait_for(lambda: RS2 not in destinations() and RS1 in destinations(), 60, "rs2 out")
    wait_for(lambda: (rs2_health() or RealServerHealth()).state == "down", 30, "rs2's row")
    reason = rs2_health().last_error
    print(f"rs2's reason: {reason}")
    assert reason.startswith(f"answers on {RS2} but not through VIP {VIP}:3306 (")
    assert "is its tunl0 up with the VIP" in reason
    private = private_services()
    assert {d.forward for s in private.values() for d in s.destinations} == {"Tunnel"}
    client_reaches_the_vip()
    assert servers_answering(6) == {"rs1"}

    run("ip", "link", "set", "tunl0", "up", ns="rs2")
    wait_for(lambda: RS2 in destinations(), 30, "rs2 back in the table")
    answers_through_the_vip("rs2")
