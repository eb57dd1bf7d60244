"""Two directors through VRRP (keepalived), each with its own worker: the VIP on exactly one,
a hard death of the active director replaced within deadtime + 1 s with the client's neighbour
entry moved, held MySQL connections surviving with the sync daemon (and breaking without it),
no fail-back, the GUI hand-over, and monitor_links giving the role away on a link loss.

Timers: keepalive 1 s, deadtime 4 s (VRRP's takeover: 3 adverts + skew = 3.6 s)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pymysql
import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from monitoring.models import Revision
from tests.lab import lvscf
from tests.lab.topology import (
    CLIENT,
    MYSQL_PASSWORD,
    MYSQL_USER,
    VIP,
    Topology,
    mysql_connect,
    query_one,
    run,
)
from tests.lab.two_directors import (
    DEADTIME,
    DIRECTORS,
    KEEPALIVE,
    Director,
    VipSampler,
    lvs_cf,
)

pytestmark = pytest.mark.django_db(transaction=True)


def seed(syncdaemon: bool, monitor_links: bool = False, serial: int = 1) -> str:
    text = lvscf.config(
        lvscf.virtual(
            "mysql", address=VIP, device="eth0:1", scheduler="lc", servers=lvscf.mysql_servers()
        ),
        network="direct",
        serial_no=serial,
    )
    return lvs_cf(text, syncdaemon, monitor_links)


def publish(text: str) -> None:
    checks = {
        "mysql": {"kind": "mysql", "mysql_user": MYSQL_USER, "mysql_password": MYSQL_PASSWORD}
    }
    Revision.objects.create(serial_no=Revision.objects.count() + 1, text=text, checks=checks)


def wait_for(condition, limit: float, what: str, directors=()) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            logs = "\n".join(f"--- {d.name} ({d.role()}):\n{d.log_tail()}" for d in directors)
            raise AssertionError(f"{what} did not happen within {limit} s\n{logs}")
        time.sleep(0.05)
    return time.monotonic() - start


def ipvs_table(name: str) -> str:
    return run("ipvsadm", "-Ln", ns=name).stdout


def connections(name: str) -> str:
    return run("ipvsadm", "-Lnc", ns=name).stdout


def mac(name: str) -> str:
    return json.loads(run("ip", "-j", "link", "show", "eth0", ns=name).stdout)[0]["address"]


def client_neighbour() -> str:
    entries = json.loads(run("ip", "-j", "neigh", "show", VIP, ns=CLIENT).stdout)
    return entries[0].get("lladdr", "") if entries else ""


def connect_through_vip(limit: float = 20) -> pymysql.connections.Connection:
    deadline = time.monotonic() + limit
    while True:  # the client's first ARP may precede the VIP
        try:
            return mysql_connect(VIP, timeout=3)
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@pytest.fixture
def pair(settings, tmp_path, topology: Topology) -> Iterator[dict[str, Director]]:
    directors = {n: Director(n, a, tmp_path / n) for n, a in DIRECTORS.items()}
    yield directors
    for director in directors.values():
        director.shutdown()


def start(pair: dict[str, Director], settings) -> tuple[VipSampler, Director, Director]:
    """Boot both directors; return the sampler, the active and the standby once settled."""
    for director in pair.values():
        director.boot(settings)
    sampler = VipSampler(list(pair)).start()
    directors = list(pair.values())
    wait_for(lambda: len(sampler.holders()) == 1, 40, "one director holding the VIP", directors)
    (holder,) = sampler.holders()
    active = pair[holder]
    standby = next(d for d in directors if d is not active)
    wait_for(lambda: active.role() == "active" and standby.role() == "standby", 20,
             "the role files", directors)  # fmt: skip
    for director in directors:  # both tables loaded, by each director's own worker
        wait_for(lambda d=director: ipvs_table(d.name).count("-> 192.0.2.24") == 2, 60,
                 f"{director.name}'s IPVS table", directors)  # fmt: skip
    return sampler, active, standby


def held_connection() -> pymysql.connections.Connection:
    """A MySQL connection through the VIP that has carried a few queries, so the sync daemon
    (sync_threshold) has a reason to send it."""
    connection = connect_through_vip()
    for _ in range(5):
        assert query_one(connection, "SELECT 1") == (1,)
    return connection


def test_failover_no_failback_handover_and_monitor_links(pair, settings):
    publish(seed(syncdaemon=True))
    sampler, active, standby = start(pair, settings)
    directors = list(pair.values())
    assert ipvs_table(active.name) == ipvs_table(standby.name)
    held = held_connection()
    assert client_neighbour() == mac(active.name)
    # The master sync daemon flushes a partly filled buffer every 2 s.
    wait_for(lambda: "192.0.2.10" in connections(standby.name), 10,
             "the held connection reaching the standby's table", directors)  # fmt: skip

    # --- the active director dies hard -------------------------------------------------------
    died = time.monotonic()
    active.die()
    sampler.forget(active.name)
    wait_for(lambda: sampler.holders() == {standby.name}, DEADTIME + 1,
             "the standby taking the VIP", directors)  # fmt: skip
    took = time.monotonic() - died
    print(f"hard death: the standby held the VIP {took:.2f} s later (deadtime {DEADTIME} s)")
    assert took <= DEADTIME + 1
    wait_for(lambda: client_neighbour() == mac(standby.name), 5, "the client's ARP entry")
    print(f"client's neighbour entry moved {time.monotonic() - died:.2f} s after the death")
    assert query_one(held, "SELECT 1") == (1,), "the held connection survived (sync daemon)"
    connect_through_vip(5).close()
    wait_for(lambda: standby.role() == "active", 10, "the survivor's role file", directors)

    # --- the old primary returns: no fail-back -----------------------------------------------
    survivor, returned = standby, active
    returned.boot(settings)
    sampler.watch_again(returned.name)
    wait_for(lambda: returned.role() == "standby", 30, "the returned director standing by",
             directors)  # fmt: skip
    settle = time.monotonic() + 2 * KEEPALIVE * 4
    while time.monotonic() < settle:
        assert sampler.holders() == {survivor.name}, "the returned director took the VIP back"
        time.sleep(0.1)

    # --- the operator hands the active role back from the GUI --------------------------------
    for key, value in survivor.settings().items():
        setattr(settings, key, value)
    user = get_user_model().objects.create_superuser("piranha", password="x-Long-Secret-1")
    client = Client()
    client.force_login(user)
    assert "HAND OVER" in client.get("/director/handover/").content.decode()
    client.post("/director/handover/")
    took = wait_for(lambda: sampler.holders() == {returned.name}, DEADTIME + 1,
                    "the hand-over", directors)  # fmt: skip
    print(f"hand-over: the peer held the VIP {took:.2f} s after the POST")
    wait_for(lambda: survivor.role() == "standby", 15, "the yielding director standing by",
             directors)  # fmt: skip
    settle = time.monotonic() + 4 * KEEPALIVE
    while time.monotonic() < settle:
        assert sampler.holders() == {returned.name}, "the yielding director took the VIP back"
        time.sleep(0.1)

    # --- monitor_links: the active director's link goes down ---------------------------------
    publish(seed(syncdaemon=True, monitor_links=True, serial=2))
    wait_for(lambda: all("dont_track_primary" not in d.conf.read_text() for d in directors),
             15, "keepalived's configuration with link tracking", directors)  # fmt: skip
    time.sleep(2 * KEEPALIVE)  # both keepalived reloaded (SIGHUP) and advertising again
    run("ip", "link", "set", "eth0", "down", ns=returned.name)
    took = wait_for(lambda: sampler.holders() == {survivor.name}, DEADTIME + 1,
                    "the peer taking over after the link loss", directors)  # fmt: skip
    wait_for(lambda: returned.role() == "fault", 10, "the role given away", directors)
    print(f"monitor_links: the peer held the VIP {took:.2f} s after the link went down")
    run("ip", "link", "set", "eth0", "up", ns=returned.name)

    sampler.stop()
    overlap = sampler.longest_overlap()
    print(
        f"longest time both directors held the VIP: {overlap:.2f} s over {len(sampler.samples)} samples"
    )
    assert overlap <= KEEPALIVE


def test_without_the_sync_daemon_a_held_connection_breaks_on_failover(pair, settings):
    publish(seed(syncdaemon=False))
    sampler, active, standby = start(pair, settings)
    held = held_connection()
    time.sleep(2.5)  # as long as the sync daemon would have needed
    assert "192.0.2.10" not in connections(standby.name)
    active.die()
    sampler.forget(active.name)
    wait_for(lambda: sampler.holders() == {standby.name}, DEADTIME + 1, "the standby taking over")
    wait_for(lambda: client_neighbour() == mac(standby.name), 5, "the client's ARP entry")
    # The standby has no entry for the connection: its packets reach the standby's own stack,
    # which resets them.
    with pytest.raises(pymysql.err.OperationalError):
        query_one(held, "SELECT 1")
    connect_through_vip(5).close()  # new connections are fine
    sampler.stop()
