"""The path checks' private services on the kernel side: in the worker's desired table (one per
checked real server, whatever its health), kept by drift repair, removed by a clean stop with
the sysctls put back, never touched or shown as the operator's; on the in-memory driver."""

from __future__ import annotations

from pathlib import Path

from monitoring.ipvs.converge import OwnedState, apply
from monitoring.ipvs.drivers.memory import MemoryDriver
from monitoring.ipvs.table import (
    Destination,
    ServiceKey,
    desired_state,
    is_path_service,
    operators_services,
    path_services,
)
from monitoring.ipvs.written import WrittenTable
from virtualservers.lvsconf.model import LvsConfig, RealServer, RealServerRef, VirtualServer
from virtualservers.lvsconf.paths import is_path_mark, path_checks

VIP = "192.0.2.240"
OPERATORS = ServiceKey.for_address("tcp", VIP, 3306)


def config(network: str = "direct", **fields) -> LvsConfig:
    servers = [
        RealServer(name=f"rs{i}", address=f"192.0.2.{241 + i}", active=True) for i in range(2)
    ]
    return LvsConfig(
        network=network,
        virtuals=[
            VirtualServer(
                name="mysql",
                active=True,
                address=VIP,
                device="eth0:1",
                port=3306,
                servers=servers,
                **fields,
            )
        ],
    )


def private_keys(table) -> set[ServiceKey]:
    return {key for key in table if is_path_service(key, {OPERATORS})}


def test_the_desired_table_gains_one_private_mark_service_per_checked_real_server() -> None:
    cf = config()
    desired = desired_state(cf, paths=path_checks(cf).values())
    private = private_keys(desired.table)
    assert len(private) == 2 and OPERATORS in desired.table
    held = sorted(
        (d for key in private for d in desired.table[key].destinations.values()),
        key=lambda d: d.address,
    )
    assert [(d.address, d.port, d.forward, d.weight) for d in held] == [
        ("192.0.2.241", 3306, "route", 1),
        ("192.0.2.242", 3306, "route", 1),
    ]
    assert all(desired.table[key].service.scheduler == "rr" for key in private)


def test_none_for_nat_none_when_off_none_for_a_sending_program() -> None:
    for cf in (
        config("nat"),
        config(path_check=False),
        config(send_program="/usr/local/lib/lvsadmin/checks/mysql_mon.sh %h"),
    ):
        desired = desired_state(cf, paths=path_checks(cf).values())
        assert private_keys(desired.table) == set()


def test_tunnelling_forwards_the_private_services_by_tunnel() -> None:
    cf = config("tunnel")
    table = path_services(path_checks(cf).values())
    assert {d.forward for e in table.values() for d in e.destinations.values()} == {"tunnel"}


def test_a_down_real_server_keeps_its_private_service_so_its_return_is_seen() -> None:
    cf = config()
    down = {RealServerRef("mysql", "192.0.2.242", 3306)}
    desired = desired_state(cf, down, paths=path_checks(cf).values())
    assert set(desired.table[OPERATORS].destinations) == {("192.0.2.241", 3306)}
    assert len(private_keys(desired.table)) == 2


def test_the_operators_view_hides_the_private_services_but_not_an_operators_mark() -> None:
    cf = config()
    table = desired_state(cf, paths=path_checks(cf).values()).table
    assert set(operators_services(table, {OPERATORS})) == {OPERATORS}
    mark = min(private_keys(table)).fwmark
    # An operator's virtual server with a mark of the range is the operator's.
    theirs = ServiceKey.for_fwmark(mark)
    assert theirs in operators_services(table, {OPERATORS, theirs})


def test_a_converge_with_paths_writes_them_and_the_sysctls_on_the_real_servers_device(
    tmp_path: Path,
) -> None:
    driver = MemoryDriver(routes={"192.0.2.241": "br0", "192.0.2.242": "br0"})
    cf = config()
    result = apply(cf, driver, tmp_path / "state.json", arp_count=0, paths=path_checks(cf).values())
    assert result.ok and len(private_keys(driver.table)) == 2
    assert private_keys(driver.table) <= OwnedState.load(tmp_path / "state.json").services
    assert driver.sysctls == {("br0", "accept_local"): "1", ("br0", "rp_filter"): "0"}
    assert ("br0", "accept_local", "0", "1") in result.sysctls_set
    assert "net.ipv4.conf.br0.accept_local = 1" in result.summary()
    # Never `all`, never another device.
    assert not any(device != "br0" for device, _name in driver.sysctls)


def test_a_strict_rp_filter_on_all_is_reported_not_changed(tmp_path: Path) -> None:
    driver = MemoryDriver(sysctls={("all", "rp_filter"): "1"})
    cf = config()
    result = apply(cf, driver, tmp_path / "state.json", arp_count=0, paths=path_checks(cf).values())
    assert driver.sysctls[("all", "rp_filter")] == "1"
    assert any("all.rp_filter is 1" in warning for warning in result.warnings)


def test_drift_repair_puts_a_deleted_private_service_back(tmp_path: Path) -> None:
    driver = MemoryDriver()
    writer = WrittenTable(driver, tmp_path / "state.json", arp_count=0)
    cf = config()
    paths = list(path_checks(cf).values())
    writer.converge(cf, paths=paths)
    removed = min(private_keys(driver.table))
    del driver.table[removed]  # someone's `ipvsadm -D -f MARK`
    result = writer.converge(cf, paths=paths)
    assert [op.to_ipvsadm() for op in result.ops][:1] == [f"-A -f {removed.fwmark} -s rr"]
    assert removed in driver.table


def test_a_health_change_leaves_the_private_services_alone(tmp_path: Path) -> None:
    driver = MemoryDriver()
    writer = WrittenTable(driver, tmp_path / "state.json", arp_count=0)
    cf = config()
    paths = list(path_checks(cf).values())
    writer.converge(cf, paths=paths)
    result = writer.update(cf, {RealServerRef("mysql", "192.0.2.242", 3306)}, paths=paths)
    assert [op.to_ipvsadm() for op in result.ops] == [f"-d -t {VIP}:3306 -r 192.0.2.242:3306"]
    assert len(private_keys(driver.table)) == 2


def test_a_clean_stop_removes_only_the_private_services_and_puts_the_sysctls_back(
    tmp_path: Path,
) -> None:
    driver = MemoryDriver(routes={"192.0.2.241": "br0", "192.0.2.242": "br0"})
    state = tmp_path / "state.json"
    writer = WrittenTable(driver, state, arp_count=0)
    cf = config()
    writer.converge(cf, paths=path_checks(cf).values())
    operators = driver.table[OPERATORS]

    result = writer.remove_path_services(cf)

    assert len(result.ops) == 2 and result.ok
    assert set(driver.table) == {OPERATORS} and driver.table[OPERATORS] == operators
    assert OwnedState.load(state).services == {OPERATORS}
    assert driver.sysctls == {("br0", "accept_local"): "0", ("br0", "rp_filter"): "2"}


def test_applylvs_without_a_worker_removes_what_a_crashed_worker_left(tmp_path: Path) -> None:
    driver = MemoryDriver()
    state = tmp_path / "state.json"
    cf = config()
    apply(cf, driver, state, arp_count=0, paths=path_checks(cf).values())  # the worker's

    result = apply(cf, driver, state, arp_count=0)  # applylvs, no worker

    assert set(driver.table) == {OPERATORS}
    assert {op.action for op in result.ops} == {"del_service"}


def test_applylvs_dry_run_while_a_worker_runs_shows_no_change_for_its_private_services(
    tmp_path: Path,
) -> None:
    driver = MemoryDriver()
    state = tmp_path / "state.json"
    cf = config()
    apply(cf, driver, state, arp_count=0, paths=path_checks(cf).values())

    result = apply(cf, driver, state, arp_count=0, dry_run=True, keep_path_services=True)

    assert result.ops == []


def test_an_operators_service_on_a_private_mark_is_never_replaced() -> None:
    cf = config()
    paths = list(path_checks(cf).values())
    mark = paths[0].mark
    marked = VirtualServer(
        name="marked",
        active=True,
        address="192.0.2.9",
        device="eth0:2",
        port=80,
        fwmark=mark,
        servers=[RealServer(name="web", address="192.0.2.50", active=True)],
    )
    cf.virtuals.append(marked)
    table = desired_state(cf, paths=paths).table
    entry = table[ServiceKey.for_fwmark(mark)]
    assert set(entry.destinations) == {("192.0.2.50", 80)}
    assert entry.destinations[("192.0.2.50", 80)] == Destination("192.0.2.50", 80)
    assert is_path_mark(mark)
