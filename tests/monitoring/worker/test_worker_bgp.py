"""The worker's side of the BGP mode: each poll hands the redundancy step the health it knows
(failed servers and runtime holds, for the announce rule), and a stop withdraws the VIPs."""

import asyncio

import pytest

from monitoring.worker.loop import Worker
from tests.monitoring.worker.test_worker import (  # noqa: F401 (fixtures)
    free_port,
    listener,
    lvs_cf,
    memory,
    publish,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_poll_hands_health_to_the_step_and_a_stop_withdraws(memory, listener, monkeypatch):  # noqa: F811
    publish(lvs_cf(listener, free_port()))
    worker = Worker("memory", arp_count=0)
    calls: list[tuple[str, tuple]] = []
    monkeypatch.setattr(worker.redundancy, "step", lambda *args: calls.append(("step", args)))
    monkeypatch.setattr(worker.redundancy, "stopped", lambda *args: calls.append(("stopped", args)))

    async def scenario():
        task = asyncio.create_task(worker.run())
        # Past the first failed check of the dead port (timeout 2 s) and a poll after it.
        for _ in range(100):
            await asyncio.sleep(0.1)
            if worker.book.down() and any(a[4] for k, a in calls if k == "step"):
                break
        worker.stop()
        await task

    asyncio.run(scenario())
    steps = [args for kind, args in calls if kind == "step"]
    config, _driver, _serial, _loaded, down, held = steps[-1]
    assert config is worker.config and down == worker.book.down() and down
    assert held == worker.kernel.held
    assert calls[-1] == ("stopped", (worker.config, worker.kernel.driver))
