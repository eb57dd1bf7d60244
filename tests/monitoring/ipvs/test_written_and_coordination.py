"""The one writer's memory: a health change costs its own operations and no dump of the table."""

from pathlib import Path

from monitoring.ipvs.coordination import (
    ConvergeRequests,
    WorkerPresence,
    read_view_down,
    request_converge,
    write_view,
)
from monitoring.ipvs.drivers.memory import MemoryDriver
from monitoring.ipvs.table import desired_table, diff
from monitoring.ipvs.written import WrittenTable
from virtualservers.lvsconf.model import LvsConfig, RealServer, RealServerRef, VirtualServer


def config(servers: int = 10, virtuals: int = 20) -> LvsConfig:
    return LvsConfig(
        network="direct",
        virtuals=[
            VirtualServer(
                name=f"v{v}",
                active=True,
                address=f"192.0.2.{v + 1}",
                device="eth0:1",
                port=3306,
                servers=[
                    RealServer(name=f"r{s}", address=f"198.51.100.{s + 1}", active=True)
                    for s in range(servers)
                ],
            )
            for v in range(virtuals)
        ],
    )


class CountingDriver(MemoryDriver):
    dumps: int = 0

    def dump(self):
        self.dumps += 1
        return super().dump()


def test_a_health_change_is_one_message_and_no_dump(tmp_path: Path):
    driver = CountingDriver()
    writer = WrittenTable(driver, tmp_path / "state.json", arp_count=0)
    cf = config()
    writer.converge(cf)
    dumps, messages = driver.dumps, driver.messages_sent
    down = {RealServerRef("v3", "198.51.100.5", 3306)}
    result = writer.update(cf, down)
    assert result.ok and len(result.ops) == 1
    assert driver.messages_sent - messages == 1
    assert driver.dumps == dumps
    assert driver.table == desired_table(cf, down)


def test_a_new_configuration_or_a_failure_takes_the_full_converge(tmp_path: Path):
    driver = CountingDriver()
    writer = WrittenTable(driver, tmp_path / "state.json", arp_count=0)
    writer.converge(config())
    dumps = driver.dumps
    writer.update(config(), ())  # another configuration object: read the kernel again
    assert driver.dumps == dumps + 1
    writer.forget()
    writer.update(writer.written_for or config(), ())
    assert driver.dumps == dumps + 2


def test_an_update_that_the_kernel_refuses_forgets_what_was_written(tmp_path: Path):
    driver = CountingDriver()
    writer = WrittenTable(driver, tmp_path / "state.json", arp_count=0)
    cf = config()
    writer.converge(cf)
    down = {RealServerRef("v0", "198.51.100.1", 3306)}
    (op,) = diff(driver.dump(), desired_table(cf, down), ())
    driver.fail_on = op.to_ipvsadm()
    result = writer.update(cf, down)
    assert not result.ok and "refused" in (result.error or "")
    assert writer.written is None


def test_a_live_worker_is_seen_by_its_lock_and_gone_with_it(tmp_path: Path):
    state = tmp_path / "state.json"
    assert not WorkerPresence.alive(state)
    presence = WorkerPresence(state)
    assert presence.claim()
    assert WorkerPresence.alive(state)
    assert not WorkerPresence(state).claim()  # a second worker is refused
    presence.release()
    assert not WorkerPresence.alive(state)


def test_a_converge_request_gets_its_own_answer(tmp_path: Path):
    import threading

    state = tmp_path / "state.json"
    requests = ConvergeRequests(state)
    assert requests.pending() is None

    def answer_when_asked():
        for _ in range(100):
            token = requests.pending()
            if token:
                requests.answer(token, None, "no kernel access")
                return
            threading.Event().wait(0.02)

    thread = threading.Thread(target=answer_when_asked)
    thread.start()
    answer = request_converge(state, wait=5)
    thread.join()
    assert answer is not None and answer.error == "no kernel access"
    assert requests.pending() is None  # answered once
    assert request_converge(state, wait=0.3) is None  # nobody answers now


def test_the_workers_view_round_trips(tmp_path: Path):
    state = tmp_path / "state.json"
    down = {RealServerRef("mysql", "192.0.2.241", 3306)}
    write_view(state, 7, down)
    assert read_view_down(state) == frozenset(down)


def test_updates_recompute_only_what_changed_and_always_match_the_whole_table(tmp_path: Path):
    import random

    cf = config(servers=4, virtuals=12)
    # Two blocks of one firewall mark: only the first counts, as in Piranha.
    cf.virtuals[5].fwmark = cf.virtuals[6].fwmark = 7
    cf.virtuals[7].quiesce_server = True
    cf.virtuals[8].sorry_server = "203.0.113.99"
    driver = CountingDriver()
    writer = WrittenTable(driver, tmp_path / "state.json", arp_count=0)
    writer.converge(cf)
    refs = [RealServerRef(v.name, s.address, 3306) for v in cf.virtuals for s in v.servers]
    chance = random.Random(7)
    dumps = driver.dumps
    down: set[RealServerRef] = set()
    for _ in range(200):
        down ^= {chance.choice(refs)}
        assert writer.update(cf, down).ok
        assert driver.table == desired_table(cf, down), sorted(down)
    assert driver.dumps == dumps


def test_drift_repair_with_nothing_changed_reuses_the_table_and_still_repairs_the_drift(
    tmp_path: Path, monkeypatch
):
    # Every few seconds drift repair converges with the same arguments: the desired table is
    # the last converge's (bench_worker.py: 40 of its 74 ms at 1,000 x 10), the kernel is read
    # and repaired as before.
    from monitoring.ipvs import converge

    computed = []
    real = converge.desired_state
    monkeypatch.setattr(
        converge, "desired_state", lambda *a, **k: computed.append(1) or real(*a, **k)
    )
    driver = CountingDriver()
    writer = WrittenTable(driver, tmp_path / "state.json", arp_count=0)
    cf = config()
    down = {RealServerRef("v3", "198.51.100.5", 3306)}
    assert writer.converge(cf, down).ok and len(computed) == 1
    lost = next(iter(driver.table))
    del driver.table[lost]  # someone's `ipvsadm -D`
    result = writer.converge(cf, set(down))
    assert result.ok and [op.action for op in result.ops] == ["add_service"] + ["add_dest"] * 10
    assert len(computed) == 1 and driver.table == desired_table(cf, down)
    # Anything else is computed again: another down set, or what a health update wrote.
    writer.converge(cf, set())
    writer.update(cf, down)
    writer.converge(cf, down)
    assert len(computed) == 3 and driver.table == desired_table(cf, down)
