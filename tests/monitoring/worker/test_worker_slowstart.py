"""Slow start through the worker and the one writer (in-memory IPVS driver, injected clock):
a server added by a newly published revision, or back from a failure, enters at weight/32 and
doubles every LVSADMIN_SLOW_START_STEP_SECONDS; the worker's first revision starts no ramp."""

import pytest

from monitoring.checks.probes import ProbeResult
from monitoring.ipvs.table import ServiceKey
from monitoring.worker.loop import Worker
from tests.monitoring.worker.test_worker import memory, publish  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)
KEY = ServiceKey.for_address("tcp", "192.0.2.80", 80)


class Clock:
    def __init__(self) -> None:
        self.now = 10_000.0

    def __call__(self) -> float:
        return self.now


def lvs_cf(*servers: str, slow_start: str = "") -> str:
    blocks = "".join(
        f"""     server {name} {{
         address = {address}
         active = 1
         weight = 64
     }}
"""
        for name, address in (("a", "192.0.2.21"), ("b", "192.0.2.22"))
        if name in servers
    )
    return f"""network = direct
virtual web {{
     active = 1
     address = 192.0.2.80 eth0:1
     port = 80
     timeout = 2
     reentry = 2
{slow_start}{blocks}}}
"""


def weights(driver) -> dict[str, int]:
    return {a: d.weight for (a, _p), d in driver.table[KEY].destinations.items()}


def step(worker: Worker) -> None:
    if worker.kernel.wants_apply(worker.book.down()):
        worker.apply_if_needed()


@pytest.fixture
def worker(memory, settings):  # noqa: F811
    settings.LVSADMIN_SLOW_START_STEP_SECONDS = 0.2
    clock = Clock()
    worker = Worker("memory", clock=clock, arp_count=0)
    worker.open_driver()
    return worker, clock


def test_a_server_added_by_a_new_revision_ramps_in_and_the_first_one_did_not(worker, memory):  # noqa: F811
    worker, clock = worker
    publish(lvs_cf("a"))
    worker.load_config()
    step(worker)
    assert weights(memory) == {"192.0.2.21": 64}
    publish(lvs_cf("a", "b"), serial=2)
    worker.load_config()
    step(worker)
    seen = [weights(memory)["192.0.2.22"]]
    for _ in range(6):
        clock.now += 0.2
        step(worker)
        seen.append(weights(memory)["192.0.2.22"])
    assert seen == [2, 4, 8, 16, 32, 64, 64]
    assert weights(memory)["192.0.2.21"] == 64


def test_a_server_back_from_a_failure_ramps_in(worker, memory):  # noqa: F811
    worker, clock = worker
    publish(lvs_cf("a", "b"))
    worker.load_config()
    step(worker)
    bad, good = ProbeResult(False, 0.0, "connection refused"), ProbeResult(True, 0.0)
    (ref,) = [r for r in worker.book.servers if r.address == "192.0.2.22"]
    worker.record(ref, bad, clock.now)
    step(worker)
    assert "192.0.2.22" not in weights(memory)
    worker.record(ref, good, clock.now)
    step(worker)
    assert weights(memory)["192.0.2.22"] == 2
    clock.now += 0.45
    step(worker)
    assert weights(memory)["192.0.2.22"] == 8


def test_slow_start_0_in_lvs_cf_adds_at_full_weight(worker, memory):  # noqa: F811
    worker, _clock = worker
    publish(lvs_cf("a", slow_start="     slow_start = 0\n"))
    worker.load_config()
    step(worker)
    publish(lvs_cf("a", "b", slow_start="     slow_start = 0\n"), serial=2)
    worker.load_config()
    step(worker)
    assert weights(memory) == {"192.0.2.21": 64, "192.0.2.22": 64}


def test_applies_are_not_starved_when_a_poll_takes_longer_than_the_poll_interval(memory):  # noqa: F811
    """Under load (the lab VM) reading the database can take more than CONFIG_POLL; polls
    were then started back to back and the kernel waited for minutes (ramp steps too)."""
    import asyncio
    import threading
    import time

    publish(lvs_cf("a"))
    worker = Worker("memory", arp_count=0)
    poll = worker.poll

    def slow_poll():
        time.sleep(0.6)
        return poll()

    worker.poll = slow_poll
    thread = threading.Thread(target=lambda: asyncio.run(worker.run()), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 8
        while KEY not in memory.table and time.monotonic() < deadline:
            time.sleep(0.05)
        assert KEY in memory.table
    finally:
        worker.stop()
        thread.join(10)
