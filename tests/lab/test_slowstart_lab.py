"""Slow start against the real kernel: a real server that a newly published revision activates
enters the IPVS table at weight/32 and the real `ipvsadm -Ln` shows its weight double every
LVSADMIN_SLOW_START_STEP_SECONDS (short here) up to the configured weight, while the server
that was already serving keeps its weight."""

from __future__ import annotations

import time

import pytest

from monitoring.checks.slowstart import ramp
from scripts.testbed import lvscf
from scripts.testbed.topology import Topology
from tests.lab.test_worker_lab import RS1, VIP, destinations, publish, wait_for, worker  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
RS2 = "192.0.2.242:3306"
WEIGHT = 64
STEP = 3.0  # seconds between doublings (20 in production): the ramp takes 5 steps


def revision(rs1_active: int, slow_start: str = "") -> str:
    servers = [
        lvscf.server("rs1", RS1.split(":")[0], weight=WEIGHT, active=rs1_active),
        lvscf.server("rs2", RS2.split(":")[0], weight=WEIGHT),
    ]
    text = lvscf.config(lvscf.virtual("mysql", address=VIP, port=3306, servers=servers))
    return text.replace("     quiesce_server = 0\n", f"     quiesce_server = 0\n{slow_start}")


@pytest.fixture
def short_steps(settings):
    settings.LVSADMIN_SLOW_START_STEP_SECONDS = STEP
    # A drift repair dumps the whole table, slow under emulation; each ramp step needs none.
    settings.LVSADMIN_DRIFT_REPAIR_SECONDS = 60


def test_an_activated_real_server_ramps_in_as_nanny_did(
    topology: Topology,
    short_steps,
    worker,  # noqa: F811
) -> None:
    instance, thread = worker
    publish(revision(rs1_active=0))
    thread.start()
    wait_for(lambda: destinations() == {RS2: WEIGHT}, 90, "rs2 alone at full weight")

    publish(revision(rs1_active=1))
    wait_for(lambda: RS1 in destinations(), 120, "rs1 entering the table")
    seen: list[tuple[float, int]] = []
    start = time.monotonic()
    while time.monotonic() - start < 6 * STEP + 60:
        weights = destinations()
        assert weights.get(RS2) == WEIGHT  # the server already serving is left alone
        weight = weights[RS1]
        if not seen or seen[-1][1] != weight:
            seen.append((round(time.monotonic() - start, 2), weight))
        if weight == WEIGHT:
            break
        time.sleep(0.1)
    print(f"rs1's weight as ipvsadm -Ln showed it (seconds, weight): {seen}")
    weights_seen = [w for _t, w in seen]
    assert weights_seen[0] == WEIGHT // 32 and weights_seen[-1] == WEIGHT
    assert weights_seen == sorted(weights_seen) and set(weights_seen) <= set(ramp(WEIGHT))
    # Emulation may hide a step between two reads, but not most of them.
    assert len(weights_seen) >= 3, seen
    # Five doublings, one step apart (the first read may come late under emulation).
    assert seen[-1][0] - seen[0][0] >= 5 * STEP - 3, seen


def test_with_slow_start_0_it_enters_at_full_weight(
    topology: Topology,
    short_steps,
    worker,  # noqa: F811
) -> None:
    instance, thread = worker
    publish(revision(rs1_active=0, slow_start="     slow_start = 0\n"))
    thread.start()
    wait_for(lambda: destinations() == {RS2: WEIGHT}, 90, "rs2 alone at full weight")
    publish(revision(rs1_active=1, slow_start="     slow_start = 0\n"))
    wait_for(lambda: RS1 in destinations(), 120, "rs1 entering the table")
    assert destinations() == {RS1: WEIGHT, RS2: WEIGHT}
