"""The apply engine with the in-memory driver: ownership, VIPs, NAT, failures, the lock."""

import threading
from pathlib import Path

import pytest

from monitoring.ipvs.converge import ApplyBusy, OwnedState, apply, apply_lock
from monitoring.ipvs.drivers.memory import MemoryDriver
from monitoring.ipvs.table import Destination, Service, ServiceEntry, ServiceKey
from virtualservers.lvsconf.model import LvsConfig, RealServer, VirtualServer

VIP = "192.0.2.240"
KEY = ServiceKey.for_address("tcp", VIP, 3306)


def seed(active: bool = True, **extra) -> LvsConfig:
    virtual = VirtualServer(
        name="mysql", active=active, address=VIP, device="eth0:1", port=3306, scheduler="lc",
        servers=[RealServer("db1", "192.0.2.241", True, None, 1), RealServer("db2", "192.0.2.242", True, None, 1)],
    )  # fmt: skip
    return LvsConfig(network="direct", virtuals=[virtual], **extra)


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "apply-state.json"


def test_it_loads_the_seed_and_brings_up_the_vip(state):
    driver = MemoryDriver()
    result = apply(seed(), driver, state)
    assert result.ok, result.error
    assert result.summary() == "3 operations: 1 service added, 2 real servers added, 1 VIP added"
    assert [(a.address, a.prefixlen, a.device, a.label) for a in driver.addresses()] == [
        (VIP, 32, "eth0", "eth0:1")
    ]
    assert driver.arps == [(VIP, "eth0", 5)]
    assert OwnedState.load(state).services == {KEY}


def test_it_does_nothing_the_second_time(state):
    driver = MemoryDriver()
    apply(seed(), driver, state)
    sent = driver.messages_sent
    result = apply(seed(), driver, state)
    assert result.ops == [] and driver.messages_sent == sent
    assert result.summary() == "nothing to do: the kernel already matches the configuration"


def test_a_converge_that_changes_nothing_leaves_the_apply_state_file_alone(state, monkeypatch):
    # Drift repair converges every few seconds: writing 1,000 services' state durably each
    # time, unchanged, was most of its cost (bench_worker.py). A change is still saved.
    driver = MemoryDriver()
    apply(seed(), driver, state)
    saved = []
    monkeypatch.setattr(OwnedState, "save", lambda self, path: saved.append(path))
    apply(seed(), driver, state)
    assert saved == []
    apply(seed(active=False), driver, state)
    assert saved == [state]
    state.unlink()
    apply(seed(active=False), driver, state)  # no file: written even with nothing to own
    assert saved == [state, state]


def test_it_removes_its_service_and_vip_when_the_virtual_is_deactivated(state):
    driver = MemoryDriver()
    apply(seed(), driver, state)
    result = apply(seed(active=False), driver, state)
    assert driver.table == {} and driver.addresses() == []
    assert result.summary() == "1 operation: 1 service removed, 1 VIP removed"


def test_it_leaves_a_foreign_service_and_a_foreign_address_alone(state):
    foreign = ServiceKey.for_address("tcp", "203.0.113.9", 80)
    driver = MemoryDriver()
    driver.table[foreign] = ServiceEntry(
        Service(foreign, "rr"), {("203.0.113.10", 80): Destination("203.0.113.10", 80)}
    )
    driver.add_address("203.0.113.9", 32, "eth0", "eth0")
    apply(seed(), driver, state)
    apply(LvsConfig(network="direct"), driver, state)
    assert list(driver.table) == [foreign]
    assert [a.address for a in driver.addresses()] == ["203.0.113.9"]


def test_it_restores_its_services_after_a_flush(state):
    driver = MemoryDriver()
    apply(seed(), driver, state)
    driver.table.clear()  # someone ran ipvsadm -C
    result = apply(seed(), driver, state)
    assert result.summary().startswith("3 operations: 1 service added, 2 real servers added")
    assert KEY in driver.table


def test_it_stops_at_a_refused_operation_and_says_which(state):
    driver = MemoryDriver()
    apply(seed(), driver, state)
    config = seed()
    config.virtuals[0].servers.append(RealServer("db3", "192.0.2.243", True, None, 1))
    config.virtuals[0].servers.pop(0)
    driver.fail_on = f"-a -t {VIP}:3306 -r 192.0.2.243:3306 -g -w 1"
    result = apply(config, driver, state)
    assert (
        result.error
        == f"the kernel refused `ipvsadm -a -t {VIP}:3306 -r 192.0.2.243:3306 -g -w 1`: Invalid argument"
    )
    # Additions come before removals, so the server that was to go is still serving.
    assert set(driver.table[KEY].destinations) == {("192.0.2.241", 3306), ("192.0.2.242", 3306)}


def test_it_turns_on_ip_forward_and_the_nat_router_in_nat_mode(state):
    driver = MemoryDriver()
    config = seed(nat_router_ip="192.0.2.254", nat_router_device="eth1:1")
    config.network = "nat"
    apply(config, driver, state)
    assert driver.forwarding is True
    assert ("192.0.2.254", "eth1", "eth1:1") in {
        (a.address, a.device, a.label) for a in driver.addresses()
    }
    assert {d.forward for d in driver.table[KEY].destinations.values()} == {"masq"}


def test_it_warns_clearly_when_nat_cannot_turn_on_ip_forward(state):
    class ReadOnlyProc(MemoryDriver):
        def set_ip_forward(self, on: bool) -> None:
            raise PermissionError(13, "Permission denied", "/proc/sys/net/ipv4/ip_forward")

    driver = ReadOnlyProc()
    config = seed()
    config.network = "nat"
    result = apply(config, driver, state)
    assert result.ok and driver.table  # the table is applied all the same
    assert result.warnings == [
        "NAT needs net.ipv4.ip_forward=1 and it could not be set: "
        "[Errno 13] Permission denied: '/proc/sys/net/ipv4/ip_forward'"
    ]


def test_it_sets_the_connection_timeouts_when_configured(state):
    driver = MemoryDriver()
    result = apply(seed(tcp_timeout=3600, udp_timeout=60), driver, state)
    assert driver.timeouts() == (3600, 120, 60)
    assert result.timeouts_set == (3600, 120, 60) and "timeouts set" in result.summary()


def test_unchanged_timeouts_cost_no_kernel_operation(state):
    driver = MemoryDriver()
    apply(seed(tcp_timeout=3600, udp_timeout=60), driver, state)
    sent = driver.messages_sent
    result = apply(seed(tcp_timeout=3600, udp_timeout=60), driver, state)
    assert driver.messages_sent == sent
    assert result.timeouts_set is None
    assert result.summary() == "nothing to do: the kernel already matches the configuration"


def test_a_dry_run_shows_the_timeouts_it_would_set_without_setting_them(state):
    driver = MemoryDriver()
    result = apply(seed(tcp_timeout=3600), driver, state, dry_run=True)
    assert result.timeouts_set == (3600, 120, 300)
    assert driver.timeouts() == (900, 120, 300)


def test_it_changes_nothing_in_a_dry_run(state):
    driver = MemoryDriver()
    result = apply(seed(), driver, state, dry_run=True)
    assert [op.to_ipvsadm() for op in result.ops][0] == f"-A -t {VIP}:3306 -s lc"
    assert driver.table == {} and driver.addresses() == [] and not state.exists()


def test_it_refuses_to_apply_while_another_apply_holds_the_lock(state):
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with apply_lock(state):
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(5)
    try:
        with pytest.raises(ApplyBusy, match="another apply is running"):
            apply(seed(), MemoryDriver(), state, lock_wait=0.2)
    finally:
        release.set()
        thread.join()


def test_with_two_directors_it_loads_the_table_but_leaves_the_vips_to_vrrp(state):
    driver = MemoryDriver()
    config = seed(backup_active=True, backup="192.0.2.2", nat_router_ip="192.0.2.254")
    config.nat_router_device, config.network = "eth1:1", "nat"
    result = apply(config, driver, state)
    assert KEY in driver.table
    assert driver.addresses() == [] and driver.arps == []
    assert result.vips_added == []


def test_turning_two_directors_on_removes_the_vips_it_had_added(state):
    driver = MemoryDriver()
    apply(seed(), driver, state)
    result = apply(seed(backup_active=True, backup="192.0.2.2"), driver, state)
    assert driver.addresses() == [] and [v.address for v in result.vips_removed] == [VIP]
    assert OwnedState.load(state).vips == set()


def test_backup_active_without_a_backup_address_stays_a_single_director(state):
    driver = MemoryDriver()
    apply(seed(backup_active=True, backup="0.0.0.0"), driver, state)
    assert [a.address for a in driver.addresses()] == [VIP]
