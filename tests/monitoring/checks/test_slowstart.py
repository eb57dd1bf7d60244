"""nanny's slow start on plain data: weight/32 (at least 1), doubling every step up to the
configured weight; started when a server enters the table, not by the worker's first
configuration; off per virtual server."""

from dataclasses import dataclass, replace

from monitoring.checks.slowstart import SlowStart, ramp, ramp_weight
from monitoring.ipvs.drivers.memory import MemoryDriver
from monitoring.ipvs.table import ServiceKey, desired_state
from monitoring.ipvs.written import WrittenTable
from virtualservers.lvsconf.model import LvsConfig, RealServer, RealServerRef, VirtualServer

WEB1 = RealServerRef("web", "192.0.2.21", 80)
WEB2 = RealServerRef("web", "192.0.2.22", 80)
KEY = ServiceKey.for_address("tcp", "192.0.2.100", 80)


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


def config(*servers: tuple[str, int], **fields) -> LvsConfig:
    virtual = VirtualServer(
        name="web", active=True, address="192.0.2.100", device="eth0:1", port=80,
        servers=[RealServer(f"s{i}", address, True, None, weight) for i, (address, weight) in enumerate(servers)],
        **fields,
    )  # fmt: skip
    return LvsConfig(network="direct", virtuals=[virtual])


def test_nannys_ramp_for_weight_100_is_3_6_12_24_48_96_100():
    assert ramp(100) == [3, 6, 12, 24, 48, 96, 100]


def test_the_first_weight_is_at_least_one_and_small_weights_need_no_ramp():
    assert ramp(20) == [1, 2, 4, 8, 16, 20]
    assert ramp(1) == [1] and ramp(0) == [0]
    assert ramp(65535)[0] == 2047 and ramp(65535)[-1] == 65535


def test_the_weight_doubles_once_per_step():
    assert [ramp_weight(64, t, 20.0) for t in (0, 19.9, 20, 39, 40, 80, 100, 1e9)] == [
        2, 2, 4, 4, 8, 32, 64, 64,
    ]  # fmt: skip


def test_the_workers_first_configuration_starts_no_ramp():
    clock = Clock()
    slow = SlowStart(clock, 20.0)
    slow.sync(config(("192.0.2.21", 64)))
    assert slow.weights() == {}


def test_a_server_added_by_a_later_configuration_ramps_in_and_then_is_left_alone():
    clock = Clock()
    slow = SlowStart(clock, 20.0)
    slow.sync(config(("192.0.2.21", 64)))
    slow.sync(config(("192.0.2.21", 64), ("192.0.2.22", 64)))
    assert slow.weights() == {WEB2: 2}
    clock.now += 20
    assert slow.weights() == {WEB2: 4}
    clock.now += 80
    assert slow.weights() == {}  # 64 reached: the configured weight applies again


def test_a_server_back_from_a_failure_ramps_and_a_new_failure_stops_the_ramp():
    clock = Clock()
    slow = SlowStart(clock, 20.0)
    slow.sync(config(("192.0.2.21", 100)))
    slow.entered(WEB1)
    assert slow.weights() == {WEB1: 3}
    clock.now += 45
    assert slow.weights() == {WEB1: 12}
    slow.left(WEB1)
    assert slow.weights() == {}


def test_slow_start_0_puts_a_server_in_at_full_weight():
    clock = Clock()
    slow = SlowStart(clock, 20.0)
    slow.sync(config(("192.0.2.21", 64), slow_start=False))
    slow.entered(WEB1)
    slow.sync(config(("192.0.2.21", 64), ("192.0.2.22", 64), slow_start=False))
    assert slow.weights() == {}


def test_turning_slow_start_off_ends_ramps_under_way():
    clock = Clock()
    slow = SlowStart(clock, 20.0)
    slow.sync(config(("192.0.2.21", 64)))
    slow.entered(WEB1)
    slow.sync(config(("192.0.2.21", 64), slow_start=False))
    assert slow.weights() == {}


def test_desired_state_uses_the_ramp_weight_and_down_still_wins():
    cfg = config(("192.0.2.21", 64), ("192.0.2.22", 64))
    table = desired_state(cfg, (), weights={WEB1: 2}).table
    assert table[KEY].destinations[("192.0.2.21", 80)].weight == 2
    assert table[KEY].destinations[("192.0.2.22", 80)].weight == 64
    table = desired_state(cfg, {WEB1}, weights={WEB1: 2}).table
    assert ("192.0.2.21", 80) not in table[KEY].destinations


@dataclass
class CountingDriver(MemoryDriver):
    dumps: int = 0

    def dump(self):
        self.dumps += 1
        return super().dump()


def test_the_one_writer_applies_each_ramp_step_as_one_weight_edit_without_a_dump(tmp_path):
    cfg = config(("192.0.2.21", 64), ("192.0.2.22", 64))
    driver = CountingDriver()
    writer = WrittenTable(driver, tmp_path / "state.json", arp_count=0)
    writer.converge(cfg, ())
    dumps = driver.dumps
    for weight in (2, 4, 8):
        result = writer.update(cfg, (), weights={WEB2: weight})
        assert [op.to_ipvsadm() for op in result.ops] == [
            f"-e -t 192.0.2.100:80 -r 192.0.2.22:80 -g -w {weight}"
        ]
    result = writer.update(cfg, (), weights={})
    assert [op.to_ipvsadm() for op in result.ops] == [
        "-e -t 192.0.2.100:80 -r 192.0.2.22:80 -g -w 64"
    ]
    assert driver.dumps == dumps
    assert driver.table[KEY].destinations[("192.0.2.22", 80)].weight == 64
    # A converge (drift repair) keeps the ramp's weight rather than jumping to the configured one.
    writer.converge(replace(cfg), (), weights={WEB2: 16})
    assert driver.table[KEY].destinations[("192.0.2.22", 80)].weight == 16


def test_slow_start_keeps_the_health_books_ref_objects_and_ramps_the_same():
    from monitoring.checks.health import HealthBook

    clock = Clock()
    book = HealthBook(clock)
    first = config(("192.0.2.21", 64))
    book.sync(first)
    slow = SlowStart(clock, 20.0)
    slow.sync(first, book.same_ref)
    later = config(("192.0.2.21", 64), ("192.0.2.22", 64))
    book.sync(later)
    slow.sync(later, book.same_ref)
    # One object per real server, whoever holds it.
    assert {id(ref) for ref in slow._target} == {id(s.ref) for s in book.servers.values()}
    assert slow.weights() == {WEB2: 2}  # the added server ramps as without the book's refs
    assert book.same_ref(RealServerRef("web", "192.0.2.99", 80)) == RealServerRef(
        "web", "192.0.2.99", 80
    )
