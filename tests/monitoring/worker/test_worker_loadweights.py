"""Weights that follow load through the worker and the one writer (in-memory IPVS driver, an
injected clock): an agent stub on loopback answering each keyword, the MySQL check's load
figures, slow start's ramp left alone, each change one operation."""

import asyncio

import pytest

from monitoring.checks.probes import ProbeResult
from monitoring.ipvs.table import ServiceKey
from monitoring.live.holds import RuntimeState
from monitoring.loadweights.agent import AgentReply
from monitoring.loadweights.database import DatabaseLoad
from monitoring.loadweights.shown import read_rows
from monitoring.worker.loop import Worker
from tests.monitoring.worker.test_worker import free_port, memory, publish  # noqa: F401 (fixture)
from tests.monitoring.worker.test_worker_slowstart import step, worker  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
KEY = ServiceKey.for_address("tcp", "127.0.0.1", 3306)


def lvs_cf(monitor: str, extra: str = "", serial: int = 1) -> str:
    return f"""serial_no = {serial}
network = direct
virtual db {{
     active = 1
     address = 127.0.0.1 lo
     port = 3306
     timeout = 2
     reentry = 2
     load_monitor = {monitor}
{extra}     server a {{
         address = 127.0.0.1
         active = 1
         weight = 64
     }}
}}
"""


def weight(driver) -> int | None:
    destinations = driver.table[KEY].destinations
    dest = destinations.get(("127.0.0.1", 3306))
    return None if dest is None else dest.weight


class Agent:
    """A HAProxy agent on loopback whose answer the test sets."""

    def __init__(self) -> None:
        self.answer = b"up\n"

    async def reply(self, reader, writer) -> None:
        writer.write(self.answer)
        await writer.drain()
        writer.close()


def ask(instance: Worker, agent: Agent, port: int, answer: bytes) -> None:
    """One agent read by the worker's reader, against the stub, then the apply it asks for."""
    agent.answer = answer

    async def run():
        server = await asyncio.start_server(agent.reply, "127.0.0.1", port)
        async with server:
            (ref,) = instance.book.servers
            await instance.load.readers.read(ref)

    asyncio.run(run())
    step(instance)


def test_an_agent_on_loopback_drives_weight_drain_maintenance_and_health(worker, memory):  # noqa: F811
    worker, _clock = worker
    port = free_port()
    publish(lvs_cf("agent", f"     agent_port = {port}\n"))
    worker.load_config()
    step(worker)
    agent = Agent()
    assert weight(memory) == 64
    before = memory.messages_sent
    ask(worker, agent, port, b"75%\n")
    assert weight(memory) == 48
    assert memory.messages_sent == before + 1  # one weight edit, one message
    ask(worker, agent, port, b"drain\n")
    assert weight(memory) == 0
    ask(worker, agent, port, b"ready\n")
    assert weight(memory) == 48
    ask(worker, agent, port, b"maint\n")
    assert weight(memory) is None
    ask(worker, agent, port, b"ready 100%\n")
    assert weight(memory) == 64
    ask(worker, agent, port, b"down#backup running\n")
    assert weight(memory) is None
    [row] = worker.load.book.rows()
    assert (row["down"], row["why"]) == ("backup running", "agent: down")
    ask(worker, agent, port, b"up\n")
    assert weight(memory) == 64
    worker.write_status(force=True)
    [shown] = read_rows(worker.state_path)
    assert (shown["configured"], shown["load_weight"], shown["why"]) == (64, 64, "agent: up")


def test_an_operators_drain_wins_over_the_agent(worker, memory):  # noqa: F811
    worker, _clock = worker
    publish(lvs_cf("agent", "     agent_port = 9\n"))
    worker.load_config()
    step(worker)
    (ref,) = worker.book.servers
    worker.load.book.record_agent(ref, AgentReply(admin="maint"))
    worker.kernel.held = {ref: RuntimeState.DRAIN}
    step(worker)
    assert weight(memory) == 0


def _load(running: int) -> ProbeResult:
    return ProbeResult(True, 0.001, "", DatabaseLoad(running))


def test_the_mysql_checks_load_moves_the_weight_between_w_and_ten_w(worker, memory):  # noqa: F811
    worker, _clock = worker
    publish(lvs_cf("mysql"))
    worker.load_config()
    step(worker)
    (ref,) = worker.book.servers
    seen = []
    for _ in range(3):
        worker.record(ref, _load(1), 0.0)  # idle: only the check's own statement
        step(worker)
        seen.append(weight(memory))
    assert seen == [96, 128, 160]
    before = memory.messages_sent
    worker.record(ref, _load(5), 0.0)  # four statements running: load 4
    step(worker)
    assert weight(memory) == 114  # 160 - 32 x cbrt(3)
    assert memory.messages_sent == before + 1
    [row] = worker.load.book.rows()
    assert row["why"] == "load 4.00 (mysql: 4 other statements running): lowered"
    for _ in range(3):
        worker.record(ref, _load(9), 0.0)
        step(worker)
    assert weight(memory) == 64  # never below the configured weight


def test_no_load_weight_is_written_during_slow_starts_ramp(worker, memory):  # noqa: F811
    worker, clock = worker
    publish(lvs_cf("mysql"))
    worker.load_config()
    step(worker)
    (ref,) = worker.book.servers
    worker.record(ref, ProbeResult(False, 0.0, "connection refused"), 0.0)
    step(worker)
    worker.record(ref, _load(1), 0.0)  # back up: the ramp starts at 64/32
    step(worker)
    assert weight(memory) == 2
    worker.record(ref, _load(1), 0.0)
    step(worker)
    assert weight(memory) == 2  # the load waits for the ramp
    assert "slow start ramping" in worker.load.book.rows()[0]["why"]
    clock.now += 2.0
    step(worker)
    assert weight(memory) == 64
    worker.record(ref, _load(1), 0.0)
    step(worker)
    assert weight(memory) == 96
