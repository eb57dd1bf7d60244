"""Runtime states (drain, maintenance) in the desired table and the one writer, on plain data."""

from dataclasses import replace
from pathlib import Path

from monitoring.ipvs.coordination import read_view_held, write_view
from monitoring.ipvs.drivers.memory import MemoryDriver
from monitoring.ipvs.table import RealServerRef, ServiceKey, desired_table
from monitoring.ipvs.written import WrittenTable
from monitoring.live.holds import RuntimeState, describe, held_weight, is_ready
from virtualservers.lvsconf.model import LvsConfig, RealServer, VirtualServer

VIP = "192.0.2.240"
KEY = ServiceKey.for_address("tcp", VIP, 3306)
DB1 = RealServerRef("mysql", "192.0.2.241", 3306)
DB2 = RealServerRef("mysql", "192.0.2.242", 3306)
DRAIN, MAINTENANCE = RuntimeState.DRAIN, RuntimeState.MAINTENANCE


def seed(**virtual_fields) -> LvsConfig:
    fields = dict(
        name="mysql", active=True, address=VIP, device="eth0:1", port=3306, scheduler="lc",
        servers=[RealServer("db1", "192.0.2.241", True, None, 5), RealServer("db2", "192.0.2.242", True, None, 1)],
    )  # fmt: skip
    fields.update(virtual_fields)
    return LvsConfig(network="direct", virtuals=[VirtualServer(**fields)])


def weights(table, key=KEY) -> dict[str, int]:
    return {d.address: d.weight for d in table[key].destinations.values()}


def test_a_drained_server_stays_in_the_table_with_weight_zero():
    table = desired_table(seed(), held={DB1: DRAIN})
    assert weights(table) == {"192.0.2.241": 0, "192.0.2.242": 1}


def test_a_server_in_maintenance_is_out_of_the_table():
    assert weights(desired_table(seed(), held={DB1: MAINTENANCE})) == {"192.0.2.242": 1}


def test_maintenance_keeps_a_quiesced_down_server_out_too():
    table = desired_table(seed(quiesce_server=True), down={DB1}, held={DB1: MAINTENANCE})
    assert weights(table) == {"192.0.2.242": 1}


def test_a_drained_server_that_fails_its_check_follows_health():
    assert weights(desired_table(seed(), down={DB1}, held={DB1: DRAIN})) == {"192.0.2.242": 1}
    table = desired_table(seed(quiesce_server=True), down={DB1}, held={DB1: DRAIN})
    assert weights(table) == {"192.0.2.241": 0, "192.0.2.242": 1}


def test_no_state_leaves_the_table_as_health_and_configuration_make_it():
    assert desired_table(seed(), held={}) == desired_table(seed())
    assert weights(desired_table(seed())) == {"192.0.2.241": 5, "192.0.2.242": 1}


def test_a_state_of_another_virtual_or_port_changes_nothing():
    other = {
        RealServerRef("web", DB1.address, 3306): MAINTENANCE,
        RealServerRef("mysql", DB1.address, 80): DRAIN,
    }
    assert desired_table(seed(), held=other) == desired_table(seed())


def test_the_sorry_server_takes_new_connections_when_every_server_is_held():
    table = desired_table(seed(sorry_server="192.0.2.250"), held={DB1: DRAIN, DB2: MAINTENANCE})
    assert weights(table) == {"192.0.2.241": 0, "192.0.2.250": 1}
    table = desired_table(seed(sorry_server="192.0.2.250"), held={DB1: DRAIN})
    assert "192.0.2.250" not in weights(table)


def test_held_weight_names_each_rule():
    assert held_weight(None, 7) == 7
    assert held_weight("drain", 7) == 0
    assert held_weight("maintenance", 7) is None


def test_the_words_are_never_up_or_down():
    assert describe("drain", True, 0, 3, 1) == "draining (3 active, 1 inactive)"
    assert describe("drain", True, 0, 0, 0) == "drained, ready"
    assert describe("drain", True, 5, 3, 0) == "drain requested"  # not applied yet: not ready
    assert describe("maintenance", False, None, 0, 0) == "in maintenance"
    assert describe(None, True, 1, 4, 0) == ""
    assert is_ready("drain", True, 0, 0, 0) and not is_ready("drain", True, 0, 0, 1)
    assert not is_ready("drain", True, 2, 0, 0) and not is_ready("maintenance", False, None, 0, 0)
    for words in (
        describe(s, t, w, 0, 0) for s in ("drain", "maintenance") for t in (0, 1) for w in (0, 1)
    ):
        assert "up" not in words.split() and "down" not in words.split()  # fmt: skip


def test_the_writer_applies_a_drain_as_one_weight_change_without_a_dump(tmp_path: Path):
    driver = MemoryDriver()
    writer = WrittenTable(driver, tmp_path / "state.json", arp_count=0)
    cf = seed()
    writer.converge(cf)
    dumps = []
    driver.dump = lambda original=driver.dump: dumps.append(1) or original()  # type: ignore[method-assign]
    result = writer.update(cf, frozenset(), {DB1: DRAIN})
    assert [op.to_ipvsadm() for op in result.ops] == [
        f"-e -t {VIP}:3306 -r 192.0.2.241:3306 -g -w 0"
    ]
    assert dumps == []
    result = writer.update(cf, frozenset(), {DB1: MAINTENANCE})
    assert [op.to_ipvsadm() for op in result.ops] == [f"-d -t {VIP}:3306 -r 192.0.2.241:3306"]
    result = writer.update(cf, frozenset(), {})
    assert [op.to_ipvsadm() for op in result.ops] == [
        f"-a -t {VIP}:3306 -r 192.0.2.241:3306 -g -w 5"
    ]
    assert weights(driver.dump()) == {"192.0.2.241": 5, "192.0.2.242": 1}


def test_a_full_converge_keeps_the_states(tmp_path: Path):
    driver = MemoryDriver()
    writer = WrittenTable(driver, tmp_path / "state.json", arp_count=0)
    writer.converge(seed(), (), {DB1: DRAIN, DB2: MAINTENANCE})
    assert weights(driver.dump()) == {"192.0.2.241": 0}
    # Someone's ipvsadm -e puts the weight back; the next converge (drift repair) drains again.
    dest = driver.table[KEY].destinations[("192.0.2.241", 3306)]
    driver.table[KEY].destinations[dest.key] = replace(dest, weight=5)
    writer.converge(seed(), (), {DB1: DRAIN, DB2: MAINTENANCE})
    assert weights(driver.dump()) == {"192.0.2.241": 0}


def test_the_view_file_carries_the_states_for_applylvs(tmp_path: Path):
    state = tmp_path / "state.json"
    write_view(state, 3, {DB2}, {DB1: DRAIN, DB2: MAINTENANCE})
    assert read_view_held(state) == {DB1: DRAIN, DB2: MAINTENANCE}
    write_view(state, 3, set())  # a worker of the previous version wrote no states
    assert read_view_held(state) == {}
