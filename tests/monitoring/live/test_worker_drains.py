"""The worker enforces drain and maintenance with the in-memory driver: within a second of the
button, across an Apply and across a restart; a held server's check results are not health
events."""

import asyncio
import socket
import time
from dataclasses import replace

import pytest

from monitoring.checks.probes import ProbeResult
from monitoring.ipvs.table import ServiceKey
from monitoring.live import states as runtime
from monitoring.worker.loop import Worker
from tests.monitoring.worker.test_worker import listener, lvs_cf, memory, publish  # noqa: F401
from virtualservers.lvsconf.model import RealServerRef

pytestmark = pytest.mark.django_db(transaction=True)


def weights(memory, port: int) -> dict[int, int]:  # noqa: F811
    key = ServiceKey.for_address("tcp", "192.0.2.80", port)
    return {d.port: d.weight for d in memory.table[key].destinations.values()}


def step(worker: Worker) -> None:
    """One pass of the control thread as the loop runs it: poll, then apply."""
    worker.open_driver()
    worker.use_config(worker.poll())
    worker.apply_if_needed(frozenset())


@pytest.fixture
def two_up(memory, listener):  # noqa: F811
    """Both real servers of lvs_cf() answer: two listeners on loopback."""
    second = socket.socket()
    second.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    second.bind(("127.0.0.1", 0))
    second.listen(50)
    other = second.getsockname()[1]
    publish(lvs_cf(listener, other))
    yield listener, other, RealServerRef("web", "127.0.0.1", other)
    second.close()


def test_a_drain_is_applied_and_kept_across_an_apply_and_a_restart(memory, two_up):  # noqa: F811
    port, other, ref = two_up
    worker = Worker("memory", arp_count=0)
    step(worker)
    assert weights(memory, port) == {port: 1, other: 1}
    runtime.set_state(ref, "drain")
    step(worker)
    assert weights(memory, port) == {port: 1, other: 0}
    # Apply: a new revision (another scheduler) is enforced, and the drain with it.
    publish(lvs_cf(port, other).replace("scheduler = wlc", "scheduler = rr"), serial=2)
    step(worker)
    key = ServiceKey.for_address("tcp", "192.0.2.80", port)
    assert memory.table[key].service.scheduler == "rr"
    assert weights(memory, port) == {port: 1, other: 0}
    # A restart: set into maintenance while no worker ran, the new worker's first apply takes it
    # out (its first read of the configuration reads the states too).
    runtime.set_state(ref, "maintenance")
    restarted = Worker("memory", arp_count=0)
    step(restarted)
    assert weights(memory, port) == {port: 1}
    runtime.set_state(ref, "return")
    step(restarted)
    assert weights(memory, port) == {port: 1, other: 1}


def test_drift_repair_drains_again_what_someone_put_back(memory, two_up, settings):  # noqa: F811
    port, other, ref = two_up
    runtime.set_state(ref, "drain")
    worker = Worker("memory", arp_count=0)
    step(worker)
    key = ServiceKey.for_address("tcp", "192.0.2.80", port)
    memory.table[key].destinations.clear()  # someone's ipvsadm -d of both servers
    worker.kernel.last_converge = 0  # the drift repair is due
    step(worker)
    assert weights(memory, port) == {port: 1, other: 0}


def test_the_running_loop_applies_a_button_within_a_second(memory, two_up):  # noqa: F811
    port, other, ref = two_up
    worker = Worker("memory", arp_count=0)

    async def scenario() -> float:
        task = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 10
        while weights_or_none(memory, port) != {port: 1, other: 1}:
            assert time.monotonic() < deadline, "the worker never applied the revision"
            await asyncio.sleep(0.05)
        await asyncio.to_thread(runtime.set_state, ref, "maintenance")
        pressed = time.monotonic()
        while weights_or_none(memory, port) != {port: 1} and time.monotonic() - pressed < 5:
            await asyncio.sleep(0.02)
        took = time.monotonic() - pressed
        worker.stop()
        await task
        return took

    took = asyncio.run(scenario())
    assert weights(memory, port) == {port: 1}
    assert took <= 1.5


def weights_or_none(memory, port: int) -> dict[int, int] | None:  # noqa: F811
    key = ServiceKey.for_address("tcp", "192.0.2.80", port)
    return weights(memory, port) if key in memory.table else None


def test_a_held_servers_failed_check_is_no_health_transition(memory, two_up, caplog):  # noqa: F811
    port, other, ref = two_up
    runtime.set_state(ref, "maintenance")
    worker = Worker("memory", arp_count=0)
    step(worker)
    worker.record(ref, ProbeResult(False, 0.01, "connection refused"), time.time())
    assert worker.transitions == 0
    assert "held: maintenance" in caplog.text
    # Health still knows it, so that its return finds it down and leaves it out.
    assert ref in worker.book.down()
    runtime.set_state(ref, "return")
    worker.open_driver()
    worker.use_config(worker.poll())
    worker.apply_if_needed()
    assert weights(memory, port) == {port: 1}


def test_the_worker_tells_once_when_a_drained_server_has_no_connection_left(
    memory,  # noqa: F811
    two_up,
):
    port, other, ref = two_up
    ready = []

    def listener(sender, ref, **kwargs):  # noqa: F811
        ready.append(ref)

    runtime.drain_ready.connect(listener)
    try:
        worker = Worker("memory", arp_count=0)
        step(worker)
        key = ServiceKey.for_address("tcp", "192.0.2.80", port)
        dest = memory.table[key].destinations[("127.0.0.1", other)]
        memory.table[key].destinations[dest.key] = replace(dest, active_conn=2, inact_conn=1)
        runtime.set_state(ref, "drain")
        worker.write_status(force=True)  # not applied yet: weight 1
        step(worker)
        worker.write_status(force=True)  # weight 0, connections left
        assert ready == []
        dest = memory.table[key].destinations[("127.0.0.1", other)]
        memory.table[key].destinations[dest.key] = replace(dest, active_conn=0, inact_conn=0)
        worker.write_status(force=True)
        worker.write_status(force=True)
        assert ready == [ref]
    finally:
        runtime.drain_ready.disconnect(listener)
